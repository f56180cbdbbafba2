/* gc_typed.h - see gc/gc_typed.h. */
#include "gc/gc_typed.h"
