/* gc_mark.h - see gc/gc_mark.h. */
#include "gc/gc_mark.h"
