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
#define WORDS 16

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

static uint64_t *make_object(uint64_t id) {
    uint64_t *o = gm_alloc(WORDS * sizeof(uint64_t));
    CHECK(o != NULL, "gm_alloc failed");
    o[0] = id;
    for (int i = 1; i < WORDS; i++)
        o[i] = gm_test_word(id, (size_t)i);
    return o;
}

static void check_object(const uint64_t *o, uint64_t id) {
    CHECK(o[0] == id, "object %llu reachable from a root range has id %llu", (unsigned long long)id,
          (unsigned long long)o[0]);
    for (int i = 1; i < WORDS; i++)
        CHECK(o[i] == gm_test_word(id, (size_t)i), "object %llu: word %d changed while its range was a root",
              (unsigned long long)id, i);
}

static void *adder(void *arg) {
    (void)arg;
    uint64_t id = 1;
    while (!atomic_load(&stop)) {
        uint64_t first = id;
        for (int i = 0; i < RANGES; i++) {
            slots[i][0] = make_object(id++);
            gm_add_roots(slots[i], slots[i] + 8);
        }
        gm_test_clear_stack();
        for (int i = 0; i < RANGES; i++) {
            check_object(slots[i][0], first + (uint64_t)i);
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
