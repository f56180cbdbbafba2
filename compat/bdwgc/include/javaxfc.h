/* javaxfc.h - see gc/javaxfc.h. */
#include "gc/javaxfc.h"
