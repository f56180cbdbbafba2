/*
 * blocking.h - leaving a blocking region for a while (blocking.c).
 */
#ifndef GM_OS_BLOCKING_H
#define GM_OS_BLOCKING_H

#include "gm.h"

/* Inside gm_blocking: runs fn(arg) as an ordinary (stoppable, scanned)
 * thread, then goes back to the blocking region.  Outside one (or on an
 * unregistered thread) it just calls fn.  Returns fn's result. */
void *gm_unblocked(void *(*fn)(void *), void *arg);

/* True if the calling thread is inside a gm_blocking region. */
bool gm_in_blocking(void);

#endif
