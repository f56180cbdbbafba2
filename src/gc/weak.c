/*
 * weak.c - weak handles (Go 1.24's weak.Pointer) and bdwgc's disappearing
 * links.
 *
 * Weak handles are heap objects (16 B, noscan: the object's address inside
 * is not a reference).  The object's weak special keeps its handle alive
 * (step B marks it), the program keeps it alive by holding it, so a handle
 * outlives its object and then reads NULL, never a dangling pointer.
 * gm_weak_get is one atomic load: a value it loaded is in a register or on
 * the stack, hence a root, by the time a collection could clear it.  (If
 * marking becomes concurrent, gm_weak_get must grey what it returns, as Go's
 * makeStrongFromWeak does.)
 *
 */
#include "gc/specials.h"

static gm_weak *weak_lookup(uintptr_t p, bool *is_heap, gm_weak *fresh) {
    uintptr_t idx, base;
    gm_weak *h = NULL;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = gm_specials_object_at(p, &idx, &base);
    *is_heap = s != NULL;
    if (s) {
        uintptr_t k = s->spanclass == GM_TINY_SPANCLASS ? p : base;
        gm_special *rec = fresh ? gm_special_alloc() : NULL;
        gm_specials_lock(s);
        gm_special *r = gm_special_list_find(s->specials, k, GM_SP_WEAK, NULL);
        if (r) {
            h = r->arg;
        } else if (fresh) {
            atomic_store_explicit(&fresh->obj, k, memory_order_release);
            rec->kind = GM_SP_WEAK;
            rec->arg = fresh;
            gm_special_link(s, rec, k);
            rec = NULL;
            h = fresh;
        }
        gm_specials_unlock(s);
        if (rec)
            gm_special_release(rec);
    }
    gm_nostop_exit(t);
    return h;
}

GM_API gm_weak *gm_weak_make(const void *obj) {
    gm_ensure_init();
    bool is_heap;
    gm_weak *h = weak_lookup((uintptr_t)obj, &is_heap, NULL);
    if (!h && is_heap) {
        gm_weak *fresh = gm_alloc_noscan(sizeof(gm_weak));
        if (!fresh)
            return NULL;
        h = weak_lookup((uintptr_t)obj, &is_heap, fresh);
    }
    gm_keep_alive(obj);
    return h;
}

GM_API void *gm_weak_get(gm_weak *w) {
    if (!w)
        return NULL;
    return (void *)atomic_load_explicit(&w->obj, memory_order_acquire);
}

/* ------------------------------------------------------ disappearing links */

/* bdwgc's disappearing links, for its drop-in layer: *link is set to NULL
 * by the collection that finds obj unreachable, a short link (bdwgc's
 * GC_general_register_disappearing_link) when weak handles are cleared,
 * before obj's finalizer runs; a long link (GC_register_long_link) only
 * once obj is freed, not while a finalizer keeps it.  A link that lies in
 * an object found unreachable is forgotten, and so are the links of an
 * object released with gm_free.  obj may be an interior pointer; links are
 * kept per object.  Returns 0, 1 if link was already registered for obj,
 * 2 if obj is not a heap object. */
int gm_specials_add_link(void **link, const void *obj, bool long_link) {
    gm_ensure_init();
    uintptr_t idx, base;
    int rc = 0;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = gm_specials_object_at((uintptr_t)obj, &idx, &base);
    if (!s) {
        gm_nostop_exit(t);
        return 2;
    }
    gm_special *fresh = gm_special_alloc();
    gm_specials_lock(s);
    gm_special_list *l = s->specials;
    uint8_t mode = long_link ? GM_LINK_LONG : GM_LINK_SHORT;
    for (gm_special *r = l ? l->first : NULL; r && gm_special_key(r) <= base; r = r->next)
        if (gm_special_key(r) == base && r->kind == GM_SP_LINK && r->arg == (void *)link && r->mode == mode)
            rc = 1;
    if (rc == 0) {
        fresh->kind = GM_SP_LINK;
        fresh->mode = mode;
        fresh->arg = link;
        gm_special_link(s, fresh, base);
        fresh = NULL;
    }
    gm_specials_unlock(s);
    if (fresh)
        gm_special_release(fresh);
    gm_nostop_exit(t);
    gm_keep_alive(obj);
    return rc;
}

/* Unregisters a link added for obj; false if there was none. */
bool gm_specials_remove_link(void **link, const void *obj, bool long_link) {
    gm_ensure_init();
    uintptr_t idx, base;
    bool removed = false;
    gm_thread *t = gm_thread_current();
    gm_nostop_enter(t);
    gm_span *s = gm_specials_object_at((uintptr_t)obj, &idx, &base);
    if (s) {
        gm_specials_lock(s);
        gm_special_list *l = s->specials;
        uint8_t mode = long_link ? GM_LINK_LONG : GM_LINK_SHORT;
        gm_special *prev = NULL;
        for (gm_special *r = l ? l->first : NULL; r && gm_special_key(r) <= base; prev = r, r = r->next) {
            if (gm_special_key(r) == base && r->kind == GM_SP_LINK && r->arg == (void *)link && r->mode == mode) {
                gm_special_list_drop(l, prev, r);
                gm_special_list_release_if_empty(s, l);
                removed = true;
                break;
            }
        }
        gm_specials_unlock(s);
    }
    gm_nostop_exit(t);
    gm_keep_alive(obj);
    return removed;
}
