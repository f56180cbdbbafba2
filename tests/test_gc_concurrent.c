/*
 * test_gc_concurrent.c - concurrent marking: while cycles run, mutator
 * threads keep moving the only pointer to each of their objects, in every
 * way a C program can: heap fields (old and newly allocated objects), stack
 * slots, globals, registers only, memcpy, gm_realloc, read() from a pipe
 * into the heap (a write by the kernel), and a store by another thread.
 * No reachable object may be reclaimed: each carries its identity and a
 * checksum, verified at every step; the run re-executes itself with
 * GOMEM_DEBUG=gccheckmark=1, so every cycle's marks are also checked
 * against a full stop-the-world mark.  Garbage is reclaimed: the test
 * counts cycles and frees observed through memstats.
 *
 * ctest-labels: threads
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "gm_test.h"

#define NTHREADS 3
#define SLOTS 64

typedef gm_test_obj obj;

static obj *volatile g_global[NTHREADS];
static _Atomic(obj *) g_mailbox[NTHREADS]; /* another thread's store lands here */
static _Atomic int g_stop;
static uint64_t g_seed;

#define make gm_test_obj_make
#define verify gm_test_obj_verify

/* Spins a little so a cycle can progress while the pointer is in flight. */
static void dawdle(gm_rng *r) {
    for (int i = (int)(gm_rng_next(r) % 200); i > 0; i--)
        __asm__ __volatile__("" ::: "memory");
}

typedef struct worker {
    int id;
    int pipe_fd[2];
    uint64_t moves;
} worker;

/* One move of the object o through a hiding place chosen at random;
 * returns the object as found at the end.  In each, for a while, the
 * hiding place holds the only pointer. */
__attribute__((noinline)) static obj *move(worker *wk, gm_rng *r, obj *o, obj **table, int slot) {
    uint64_t id = o->id;
    obj *holder;
    switch (gm_rng_next(r) % 8) {
    case 0: /* a heap field of an old object */
        table[slot]->link = o;
        o = NULL;
        dawdle(r);
        o = table[slot]->link;
        table[slot]->link = NULL;
        break;
    case 1: /* a heap field of an object allocated now (black) */
        holder = make(id ^ 0xffff);
        holder->link = o;
        o = NULL;
        dawdle(r);
        o = holder->link;
        break;
    case 2: /* a global */
        g_global[wk->id] = o;
        o = NULL;
        dawdle(r);
        o = g_global[wk->id];
        g_global[wk->id] = NULL;
        break;
    case 3: { /* memcpy into a pointer-holding heap block */
        obj **box = gm_alloc(sizeof(obj *) * 4);
        memcpy(&box[2], &o, sizeof o);
        o = NULL;
        dawdle(r);
        memcpy(&o, &box[2], sizeof o);
        break;
    }
    case 4: { /* gm_realloc moves the block holding the pointer */
        obj **box = gm_alloc(sizeof(obj *));
        box[0] = o;
        o = NULL;
        box = gm_realloc(box, 4096);
        dawdle(r);
        o = box[0];
        break;
    }
    case 5: { /* the kernel writes it: read() from a pipe into the heap */
        obj **box = gm_alloc(sizeof(obj *) * 2);
        CHECK(write(wk->pipe_fd[1], &o, sizeof o) == (ssize_t)sizeof o, "pipe write");
        /* the only copy is now in the pipe, then in box */
        o = NULL;
        CHECK(read(wk->pipe_fd[0], &box[1], sizeof o) == (ssize_t)sizeof o, "pipe read");
        dawdle(r);
        o = box[1];
        break;
    }
    case 6: { /* another thread's store: the neighbour's mailbox */
        int to = (wk->id + 1) % NTHREADS;
        obj *expected = NULL;
        if (atomic_compare_exchange_strong(&g_mailbox[to], &expected, o)) {
            o = NULL;
            dawdle(r);
            /* take back whatever sits in our own mailbox, if anything */
            obj *mine = atomic_exchange(&g_mailbox[wk->id], NULL);
            if (mine)
                table[SLOTS] = mine; /* keep it: it belongs to someone else now */
            /* reclaim ours if the neighbour did not take it */
            expected = atomic_load(&g_mailbox[to]);
            return expected; /* may be NULL: the object moved on */
        }
        break;
    }
    default: /* registers and the stack only */
        dawdle(r);
        break;
    }
    return o;
}

static void *mutate(void *arg) {
    worker *wk = arg;
    gm_thread_register();
    gm_rng r;
    gm_rng r_init = {g_seed + (uint64_t)wk->id * 7919};
    r = r_init;
    obj **table = gm_alloc(sizeof(obj *) * (SLOTS + 1));
    for (int i = 0; i < SLOTS; i++) {
        table[i] = make(((uint64_t)wk->id << 32) | (uint64_t)i);
        table[i]->link = NULL;
    }
    while (!atomic_load(&g_stop)) {
        int slot = (int)(gm_rng_next(&r) % SLOTS);
        obj *o = table[slot];
        uint64_t id = o->id;
        table[slot] = make(id); /* a placeholder with the same identity */
        obj *back = move(wk, &r, o, table, slot);
        if (back) {
            verify(back, back->id, "after a move");
            if (back->id == id)
                table[slot] = back; /* the original comes home; the placeholder is garbage */
        }
        for (int i = 0; i < SLOTS; i++)
            verify(table[i], table[i]->id, "table");
        wk->moves++;
        /* garbage to keep cycles coming */
        for (int i = 0; i < 8; i++)
            (void)gm_alloc(128);
    }
    return NULL;
}

int main(int argc, char **argv) {
    (void)argc;
    gm_test_checkmark(argv);
    g_seed = gm_test_seed("test_gc_concurrent");
    gm_memstats before, after;
    gm_read_memstats(&before);
    worker wk[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        wk[i].id = i;
        wk[i].moves = 0;
        CHECK(pipe(wk[i].pipe_fd) == 0, "pipe");
        CHECK(pthread_create(&th[i], NULL, mutate, &wk[i]) == 0, "pthread_create");
    }
    int cycles = gm_test_quick() ? 50 : 300;
    for (int i = 0; i < cycles; i++)
        gm_gc();
    atomic_store(&g_stop, 1);
    uint64_t moves = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        moves += wk[i].moves;
    }
    gm_read_memstats(&after);
    CHECK(after.num_gc - before.num_gc >= (uint32_t)cycles, "only %u cycles ran",
          after.num_gc - before.num_gc);
    CHECK(after.frees > before.frees, "no garbage was reclaimed");
    printf("test_gc_concurrent: %llu moves across %u cycles (%s marking), %llu objects reclaimed: ok\n",
           (unsigned long long)moves, after.num_gc - before.num_gc,
           after.concurrent_mark ? "concurrent" : "stop-the-world",
           (unsigned long long)(after.frees - before.frees));
    return 0;
}
