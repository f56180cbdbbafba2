/*
 * cleanup.c - cleanups (Go 1.24's runtime.AddCleanup): a function run with
 * an argument once the object it is attached to is unreachable; the object
 * itself is never passed, so it may be freed first, and any number of
 * cleanups may be attached to one object (interior pointers included).
 *
 * Cleanup handles: bits 63..32 are the record's pool slot + 1, bits 31..0
 * the low bits of the cleanup's id (a 64-bit counter, never 0 in its low
 * bits); a record reused for another special has another id, so a stale
 * handle cancels nothing.  Stop works while the cleanup is linked or
 * queued; once popped to run it returns false.
 *
 */
#include "gc/specials.h"

static _Atomic uint64_t next_cleanup_id = 1;

GM_API uint64_t gm_add_cleanup(void *obj, gm_cleanup_fn fn, void *arg) {
    gm_ensure_init();
    uintptr_t p = (uintptr_t)obj, idx, base;
    if (!fn)
        return 0;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = gm_specials_object_at(p, &idx, &base);
    if (!s) {
        gm_nostop_exit(t);
        return 0;
    }
    uintptr_t a = (uintptr_t)arg;
    if (a >= base && a < base + s->elemsize && s->spanclass != GM_TINY_SPANCLASS) {
        gm_nostop_exit(t);
        gm_fatal("gm_add_cleanup(%p): arg %p points into the object, which would never be collected", obj, arg);
    }
    uint64_t id;
    do
        id = atomic_fetch_add_explicit(&next_cleanup_id, 1, memory_order_relaxed);
    while ((uint32_t)id == 0);
    gm_special *r = gm_special_alloc();
    r->kind = GM_SP_CLEANUP;
    r->fn.cln = fn;
    r->arg = arg;
    atomic_store_explicit(&r->id, id, memory_order_relaxed);
    gm_specials_lock(s);
    gm_special_link(s, r, p);
    gm_specials_unlock(s);
    uint64_t handle = ((uint64_t)r->slot + 1) << 32 | (uint32_t)id;
    gm_nostop_exit(t);
    gm_finalizer_thread_start();
    gm_keep_alive(obj);
    gm_keep_alive(arg);
    return handle;
}

GM_API bool gm_cleanup_stop(uint64_t handle) {
    if (!handle || (handle >> 32) == 0)
        return false;
    gm_ensure_init();
    gm_special *r = gm_special_at((handle >> 32) - 1);
    if (!r)
        return false;
    uint32_t low = (uint32_t)handle;
    bool stopped = false;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    uint8_t st = atomic_load_explicit(&r->state, memory_order_acquire);
    if (st == GM_SPST_LINKED) {
        uintptr_t k = gm_special_key(r);
        gm_span *s = gm_span_of(k);
        if (s) {
            gm_specials_lock(s);
            /* Still the same cleanup, still in this span's list? */
            if ((uint32_t)atomic_load_explicit(&r->id, memory_order_relaxed) == low &&
                r->kind == GM_SP_CLEANUP && gm_special_key(r) == k &&
                atomic_load_explicit(&r->state, memory_order_relaxed) == GM_SPST_LINKED) {
                gm_special_list *l = s->specials;
                gm_special *prev = NULL, *q = l ? l->first : NULL;
                while (q && q != r && gm_special_key(q) <= k) {
                    prev = q;
                    q = q->next;
                }
                if (q == r) {
                    gm_special_list_drop(l, prev, r);
                    gm_special_list_release_if_empty(s, l);
                    stopped = true;
                }
            }
            gm_specials_unlock(s);
        }
    } else if (st == GM_SPST_QUEUED) {
        stopped = gm_finq_cancel_cleanup(r, low);
    }
    gm_nostop_exit(t);
    return stopped;
}
