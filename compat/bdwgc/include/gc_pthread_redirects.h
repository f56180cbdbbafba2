/* gc_pthread_redirects.h - see gc/gc_pthread_redirects.h. */
#include "gc/gc_pthread_redirects.h"
