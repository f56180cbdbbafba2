/* gc.h - the bdwgc API of gomem's libgc.so.1: see gc/gc.h. */
#include "gc/gc.h"
