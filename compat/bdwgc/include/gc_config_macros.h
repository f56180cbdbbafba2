/* gc_config_macros.h - see gc/gc_config_macros.h. */
#include "gc/gc_config_macros.h"
