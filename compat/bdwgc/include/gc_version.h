/* gc_version.h - see gc/gc_version.h. */
#include "gc/gc_version.h"
