/* gc_gcj.h - see gc/gc_gcj.h. */
#include "gc/gc_gcj.h"
