/*
 * barrier.c - asymmetric memory barriers with membarrier(2).
 *
 * Some handshakes (the fork gate) pair a hot side that runs on every
 * operation with a cold side that runs rarely.  Dekker's pattern needs a
 * full fence on both sides; a full fence on the hot side costs as much as
 * draining the store buffer, every time.  With membarrier's private
 * expedited command, the cold side makes every running thread of the
 * process execute a full barrier, so the hot side needs only a compiler
 * barrier.
 *
 * gm_os_barrier_init registers the process for the command once; if the
 * kernel lacks it, gm_os_light_barriers is false and the hot side must use
 * a real fence (gm_os_hot_fence does that choice).
 */
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gm.h"

bool gm_os_light_barriers;

void gm_os_barrier_init(void) {
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return;
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
        return;
    gm_os_light_barriers = true;
}

void gm_os_cold_fence(void) {
    atomic_thread_fence(memory_order_seq_cst);
    if (gm_os_light_barriers && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        gm_fatal("membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after registration succeeded");
}
