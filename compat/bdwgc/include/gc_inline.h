/* gc_inline.h - see gc/gc_inline.h. */
#include "gc/gc_inline.h"
