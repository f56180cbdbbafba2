/* gc_tiny_fl.h - see gc/gc_tiny_fl.h. */
#include "gc/gc_tiny_fl.h"
