/* gc_disclaim.h - see gc/gc_disclaim.h. */
#include "gc/gc_disclaim.h"
