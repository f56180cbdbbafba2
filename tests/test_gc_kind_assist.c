/*
 * test_gc_kind_assist.c - objects of a kind scanned by mark assists.
 *
 * An object of a kind (uncollectable here) is queued for marking with a tag
 * in its address, which tells the scanner to use the kind's own scan.  A
 * mark assist (an allocating thread doing marking work while marking runs)
 * once passed the tagged address to the plain scanner, which rounded it up
 * past the object's first word: a pointer held only in word 0 of such an
 * object left its target unmarked, and the target was freed.
 *
 * 20 000 uncollectable objects each hold, in word 0 only, the sole pointer
 * to a checked object (id and checksum); two threads allocate garbage fast
 * enough to be charged assists while collections run.  After the cycles,
 * every target must be intact; the run re-executes itself with
 * GOMEM_DEBUG=gccheckmark=1, so a target left unmarked by any cycle is a
 * fatal error at once.  The garbage is reclaimed (memstats' frees).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "gm_test.h"

#define HOLDERS 20000

static void **holders[HOLDERS]; /* uncollectable: roots until freed */
static atomic_int stop;

static void *churn(void *arg) {
    (void)arg;
    void *volatile keep = NULL;
    while (!atomic_load(&stop)) {
        for (int i = 0; i < 4096; i++) {
            void **p = gm_alloc(64);
            CHECK(p != NULL, "gm_alloc failed");
            p[0] = keep; /* short chains of garbage, with pointers to scan */
            keep = (i & 15) ? p : NULL;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_checkmark(argv);
    gm_memstats before, after;
    gm_read_memstats(&before);
    /* The holders keep their targets' addresses disguised until stored. */
    for (int i = 0; i < HOLDERS; i++) {
        holders[i] = gm_alloc_uncollectable(4 * sizeof(void *), false);
        CHECK(holders[i] != NULL, "gm_alloc_uncollectable failed");
        holders[i][0] = gm_test_obj_make((uint64_t)i + 1);
    }
    gm_test_clear_stack();
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        CHECK(gm_thread_create(&th[t], NULL, churn, NULL) == 0, "thread create failed");
    int cycles = gm_test_quick() ? 20 : 80;
    gm_read_memstats(&after);
    uint32_t start_gc = after.num_gc;
    while (after.num_gc - start_gc < (uint32_t)cycles) {
        gm_test_clear_stack();
        for (int i = 0; i < HOLDERS; i += 97) /* spot checks while it runs */
            gm_test_obj_verify(holders[i][0], (uint64_t)i + 1, "target held in word 0, while collecting");
        gm_read_memstats(&after);
        gm_yield();
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < 2; t++)
        CHECK(pthread_join(th[t], NULL) == 0, "join failed");
    gm_gc();
    gm_read_memstats(&after);
    for (int i = 0; i < HOLDERS; i++)
        gm_test_obj_verify(holders[i][0], (uint64_t)i + 1, "target held only in word 0 of an uncollectable object");
    printf("test_gc_kind_assist: %u collections (%s), %d targets held in word 0 of uncollectable objects intact, "
           "%llu objects freed\n",
           after.num_gc - start_gc, after.concurrent_mark ? "concurrent marking" : "stop-the-world",
           HOLDERS, (unsigned long long)(after.frees - before.frees));
    CHECK(after.frees - before.frees > 100000, "only %llu objects freed: the garbage was not reclaimed",
          (unsigned long long)(after.frees - before.frees));
    for (int i = 0; i < HOLDERS; i++)
        gm_free(holders[i]);
    printf("test_gc_kind_assist: ok\n");
    return 0;
}
