/*
 * test_gc_parked.c - concurrent marking and goroutines: the final stop
 * rescans only the goroutines that ran or were woken since the first stop.
 *
 * While another thread runs collections back to back, MOVERS goroutines
 * each move one object between a heap vault and their own stack: take it
 * out of the vault (clearing the slot) and park holding it, then, woken,
 * put it back and park again.  The vault hangs at the end of a chain of
 * CHAIN heap nodes, its only path from the roots (the goroutines keep its
 * address disguised), so marking reaches it milliseconds into each cycle:
 * an object taken out of the vault after the first stop and held on a
 * parked stack through the final stop is found only by that stop's rescan
 * of the goroutines that ran since.  Some moves replace the object with a
 * copy, leaving the old one as garbage.  Beside them, HOLDERS goroutines,
 * growable and copy-stack, park for the whole run holding the only pointer
 * to an object of their own: the final stops skip them, the first stops
 * saw them.  Every object carries its identity and a checksum, checked at
 * each move and when the holders are released; the run re-executes itself
 * with GOMEM_DEBUG=gccheckmark=1, so every cycle's marks are also checked
 * against a full stop-the-world mark (a missed object is a fatal error).
 * Garbage is reclaimed: the replaced objects, counted through memstats.
 *
 * ctest-labels: threads
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "gm_test.h"

#define MOVERS 1000
#define HOLDERS 2000
#define CHAIN 200000

typedef gm_test_obj obj;

/* The vault (gm_alloc'd, one slot per mover), reached by the collector
 * only through the chain; its address is kept here disguised. */
#define HIDE ((uintptr_t)0x5a5a5a5a5a5a5a5aull)
static uintptr_t vault_hidden;
#define vault ((obj **)(vault_hidden ^ HIDE))
typedef struct chain_link {
    struct chain_link *next;
    void *end; /* the last link: the vault */
} chain_link;
static chain_link *chain;

static gm_chan *wake[MOVERS], *release_chan, *ack_chan;
static _Atomic int stop_collecting;
static uint64_t seed;

#define make gm_test_obj_make
#define verify gm_test_obj_verify

static void mover(void *arg) {
    uintptr_t me = (uintptr_t)arg;
    gm_rng r = {seed + me * 7919};
    for (;;) {
        obj *o = vault[me]; /* out of the vault: on this stack only */
        vault[me] = NULL;
        bool open = gm_chan_recv(wake[me], NULL);
        verify(o, me, "mover, parked holding it");
        if (!open) {
            vault[me] = o;
            break;
        }
        if (gm_rng_below(&r, 8) == 0)
            o = make(me); /* the old one is garbage */
        vault[me] = o;
        o = NULL;
        if (!gm_chan_recv(wake[me], NULL))
            break;
    }
    verify(vault[me], me, "mover, at the end");
    int ok = 1;
    gm_chan_send(ack_chan, &ok);
}

static void holder(void *arg) {
    uint64_t id = 1000000 + (uintptr_t)arg;
    obj *volatile mine = make(id); /* on this stack only */
    gm_chan_recv(release_chan, NULL);
    verify(mine, id, "parked holder");
    int ok = 1;
    gm_chan_send(ack_chan, &ok);
}

static void *collector(void *arg) {
    uint64_t *cycles = arg;
    while (!atomic_load(&stop_collecting)) {
        gm_gc();
        (*cycles)++;
    }
    return NULL;
}

static void wait_acks(int n) {
    for (int i = 0; i < n; i++) {
        int ok = 0;
        gm_chan_recv(ack_chan, &ok);
        CHECK(ok == 1, "a goroutine did not check its object");
    }
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_checkmark(argv);
    seed = gm_test_seed("test_gc_parked");
    int rounds = gm_test_quick() ? 200 : 2000;
    obj **v = gm_alloc(MOVERS * sizeof(obj *));
    CHECK(v, "allocation failed");
    for (int i = 0; i < MOVERS; i++)
        v[i] = make((uint64_t)i);
    for (int i = 0; i < CHAIN; i++) {
        chain_link *l = gm_new(chain_link);
        CHECK(l, "allocation failed");
        l->next = chain;
        l->end = chain ? NULL : v;
        chain = l;
    }
    vault_hidden = (uintptr_t)v ^ HIDE;
    v = NULL;
    release_chan = gm_chan_make(0, 0);
    ack_chan = gm_chan_make(sizeof(int), MOVERS + HOLDERS);
    for (uintptr_t i = 0; i < HOLDERS; i++) {
        gm_go_options opts = {.stack_kind = i % 2 ? GM_STACK_COPY : GM_STACK_GROWABLE};
        CHECK(gm_go_with(holder, (void *)i, &opts) > 0, "gm_go_with failed");
    }
    for (uintptr_t i = 0; i < MOVERS; i++) {
        wake[i] = gm_chan_make(0, 0);
        gm_go_options opts = {.stack_kind = i % 2 ? GM_STACK_COPY : GM_STACK_GROWABLE};
        CHECK(gm_go_with(mover, (void *)i, &opts) > 0, "gm_go_with failed");
    }
    gm_yield(); /* the holders allocate and park, the movers take their objects */

    gm_memstats before, after;
    gm_read_memstats(&before);
    uint64_t cycles = 0;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, collector, &cycles) == 0, "pthread_create");
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < MOVERS; i++)
            gm_chan_send(wake[i], NULL);
        gm_yield();
    }
    atomic_store(&stop_collecting, 1);
    pthread_join(th, NULL);
    for (int i = 0; i < MOVERS; i++)
        gm_chan_close(wake[i]);
    wait_acks(MOVERS);
    for (int i = 0; i < HOLDERS; i++)
        gm_chan_send(release_chan, NULL);
    wait_acks(HOLDERS);
    gm_read_memstats(&after);
    uint32_t ran = after.num_gc - before.num_gc;
    CHECK(ran >= 3, "only %u cycles ran beside the goroutines", ran);
    CHECK(after.frees > before.frees, "no garbage was reclaimed");
    printf("test_gc_parked: %d movers x %d rounds, %d parked holders, %u cycles (%s marking), %llu "
           "objects reclaimed: ok\n",
           MOVERS, rounds, HOLDERS, ran, after.concurrent_mark ? "concurrent" : "stop-the-world",
           (unsigned long long)(after.frees - before.frees));
    return 0;
}
