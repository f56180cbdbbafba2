/*
 * links.c - bdwgc's disappearing links on gomem's.
 *
 * gomem keeps links per object (gm_specials_add_link(link, obj)), and
 * removing one needs the object; bdwgc's unregister and move calls name
 * only the link.  So this file keeps a map from link address to the
 * object it was registered for, one for short links and one for long
 * ones: chained hash tables of malloc'd nodes (memory the collector does
 * not scan) that hold the object's address hidden (bitwise not), so the
 * map keeps nothing alive.  An entry may outlive its link's registration
 * (the collector cleared the link and dropped it): unregistering it then
 * finds no link in gomem and reports 0, as bdwgc does for a cleared link.
 */
#include <pthread.h>
#include <stdlib.h>

#include "bdwgc.h"

typedef struct link_node {
    struct link_node *next;
    void **link;
    uintptr_t hidden_obj;
} link_node;

typedef struct link_map {
    link_node **buckets;
    size_t nbuckets, count;
} link_map;

static pthread_mutex_t links_lock = PTHREAD_MUTEX_INITIALIZER;
static link_map maps[2]; /* [0] short, [1] long */

static size_t bucket_of(const link_map *m, void **link) {
    uintptr_t h = (uintptr_t)link >> 3;
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (m->nbuckets - 1);
}

static void grow(link_map *m) {
    size_t n = m->nbuckets ? m->nbuckets * 2 : 1024;
    link_node **b = calloc(n, sizeof *b);
    if (!b)
        return; /* keep the smaller table */
    link_map nm = {b, n, m->count};
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (link_node *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t k = bucket_of(&nm, e->link);
            e->next = b[k];
            b[k] = e;
        }
    }
    free(m->buckets);
    *m = nm;
}

static link_node **find(link_map *m, void **link) {
    if (!m->nbuckets)
        return NULL;
    link_node **pp = &m->buckets[bucket_of(m, link)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->link == link)
            return pp;
    return NULL;
}

static bool map_put(link_map *m, void **link, const void *obj) {
    link_node **pp = find(m, link);
    if (pp) {
        (*pp)->hidden_obj = ~(uintptr_t)obj;
        return true;
    }
    if (m->count >= m->nbuckets)
        grow(m);
    if (!m->nbuckets)
        return false;
    link_node *e = malloc(sizeof *e);
    if (!e)
        return false;
    size_t k = bucket_of(m, link);
    e->link = link;
    e->hidden_obj = ~(uintptr_t)obj;
    e->next = m->buckets[k];
    m->buckets[k] = e;
    m->count++;
    return true;
}

/* Removes link's entry; returns its object, or NULL if there was none. */
static void *map_take(link_map *m, void **link) {
    link_node **pp = find(m, link);
    if (!pp)
        return NULL;
    link_node *e = *pp;
    *pp = e->next;
    m->count--;
    void *obj = (void *)~e->hidden_obj;
    free(e);
    return obj;
}

static int register_link(void **link, const void *obj, bool long_link) {
    bdwgc_enter();
    if (((uintptr_t)link & (sizeof(void *) - 1)) != 0) {
        bdwgc_warn("misaligned disappearing link %p: ignored\n", (GC_word)link);
        return GC_NO_MEMORY;
    }
    const void *base = gm_base(obj);
    if (!base)
        return GC_SUCCESS; /* not a heap object: it never disappears */
    pthread_mutex_lock(&links_lock);
    link_node **pp = find(&maps[long_link], link);
    if (pp) {
        /* bdwgc keeps one registration per link: a live one stays. */
        void *old = (void *)~(*pp)->hidden_obj;
        if (gm_specials_remove_link(link, old, long_link)) {
            gm_specials_add_link(link, old, long_link);
            pthread_mutex_unlock(&links_lock);
            return GC_DUPLICATE;
        }
    }
    int rc = gm_specials_add_link(link, base, long_link);
    if (rc == 0 && !map_put(&maps[long_link], link, base)) {
        gm_specials_remove_link(link, base, long_link);
        pthread_mutex_unlock(&links_lock);
        return GC_NO_MEMORY;
    }
    pthread_mutex_unlock(&links_lock);
    return rc == 1 ? GC_DUPLICATE : GC_SUCCESS;
}

static int unregister_link(void **link, bool long_link) {
    if (((uintptr_t)link & (sizeof(void *) - 1)) != 0)
        return 0;
    bdwgc_enter();
    pthread_mutex_lock(&links_lock);
    void *obj = map_take(&maps[long_link], link);
    bool removed = obj && gm_specials_remove_link(link, obj, long_link);
    pthread_mutex_unlock(&links_lock);
    return removed;
}

static int move_link(void **link, void **new_link, bool long_link) {
    if (((uintptr_t)new_link & (sizeof(void *) - 1)) != 0)
        return GC_NO_MEMORY;
    bdwgc_enter();
    pthread_mutex_lock(&links_lock);
    link_node **pp = find(&maps[long_link], link);
    if (!pp) {
        pthread_mutex_unlock(&links_lock);
        return GC_NOT_FOUND;
    }
    void *obj = (void *)~(*pp)->hidden_obj;
    if (link == new_link) {
        pthread_mutex_unlock(&links_lock);
        return GC_SUCCESS;
    }
    if (find(&maps[long_link], new_link) && gm_specials_remove_link(new_link, obj, long_link)) {
        /* new_link was registered for the same object: put it back */
        gm_specials_add_link(new_link, obj, long_link);
        pthread_mutex_unlock(&links_lock);
        return GC_DUPLICATE;
    }
    if (!gm_specials_remove_link(link, obj, long_link)) {
        map_take(&maps[long_link], link); /* stale: cleared by a collection */
        pthread_mutex_unlock(&links_lock);
        return GC_NOT_FOUND;
    }
    map_take(&maps[long_link], link);
    int rc = gm_specials_add_link(new_link, obj, long_link);
    if (rc == 0)
        map_put(&maps[long_link], new_link, obj);
    pthread_mutex_unlock(&links_lock);
    return rc == 1 ? GC_DUPLICATE : GC_SUCCESS;
}

/* fork: the child must not inherit the lock held by a thread it does not
 * have (bdwgc_fork_prepare and friends run in pthread_atfork). */
void bdwgc_links_fork(int phase) {
    if (phase == 0)
        pthread_mutex_lock(&links_lock);
    else
        pthread_mutex_unlock(&links_lock);
}

BDWGC_EXPORT int GC_general_register_disappearing_link(void **link, const void *obj) {
    return register_link(link, obj, false);
}

BDWGC_EXPORT int GC_register_disappearing_link(void **link) {
    void *base = gm_base(link);
    if (!base)
        return GC_SUCCESS;
    return register_link(link, base, false);
}

BDWGC_EXPORT int GC_unregister_disappearing_link(void **link) {
    return unregister_link(link, false);
}

BDWGC_EXPORT int GC_move_disappearing_link(void **link, void **new_link) {
    return move_link(link, new_link, false);
}

BDWGC_EXPORT int GC_register_long_link(void **link, const void *obj) {
    return register_link(link, obj, true);
}

BDWGC_EXPORT int GC_unregister_long_link(void **link) {
    return unregister_link(link, true);
}

BDWGC_EXPORT int GC_move_long_link(void **link, void **new_link) {
    return move_link(link, new_link, true);
}
