/*
 * pprof.c - writing a heap snapshot as pprof's profile.proto.
 *
 * The profile (field numbers from pprof's profile.proto):
 *   Profile   1 sample_type, 2 sample, 3 mapping, 4 location, 5 function,
 *             6 string_table, 9 time_nanos, 11 period_type, 12 period
 *   ValueType 1 type, 2 unit (string indices)
 *   Sample    1 location_id (packed), 2 value (packed), 3 label
 *   Label     1 key, 3 num
 *   Mapping   1 id, 2 memory_start, 3 memory_limit, 4 file_offset,
 *             5 filename, 6 build_id, 7 has_functions
 *   Location  1 id, 2 mapping_id, 3 address, 4 line
 *   Line      1 function_id
 *   Function  1 id, 2 name, 3 system_name
 * Strings are interned in string_table, whose entry 0 is "".
 *
 * As Go writes heap profiles: four values per sample, alloc_objects and
 * alloc_space (everything sampled), inuse_objects and inuse_space (those
 * not freed), each scaled from sampled counts to estimates (Go's
 * scaleHeapSample); a numeric label "bytes" with the object size; period
 * type space/bytes and period the sampling rate.  pprof shows inuse_space
 * unless told otherwise (-sample_index).
 *
 * One location per distinct address.  A location gets a function when the
 * symbol table of its mapping's file names one (symtab.c), or else dladdr
 * (exported symbols); no file names or line numbers.  A mapping is marked
 * has_functions only when every location in it got one; pprof then leaves
 * it as it is, and symbolizes the others itself from the files, found
 * through the mappings' file names and build IDs.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "obs/gzip.h"
#include "obs/mappings.h"
#include "obs/pprof.h"
#include "obs/protobuf.h"
#include "obs/symtab.h"

void gm_pprof_scale(uint64_t count, uint64_t size, int64_t rate, int64_t *count_out, int64_t *size_out) {
    if (count == 0 || size == 0) {
        *count_out = *size_out = 0;
        return;
    }
    if (rate <= 1) {
        *count_out = (int64_t)count;
        *size_out = (int64_t)size;
        return;
    }
    double avg = (double)size / (double)count;
    double scale = 1.0 / (1.0 - exp(-avg / (double)rate));
    *count_out = (int64_t)((double)count * scale);
    *size_out = (int64_t)((double)size * scale);
}

/* ------------------------------------------------- a map uint64 -> uint64 */

typedef struct u64map {
    uint64_t *keys, *vals; /* keys are stored plus one: 0 marks a free slot */
    size_t cap, n;
    bool failed;
} u64map;

static void map_free(u64map *m) {
    if (m->keys)
        gm_os_free(m->keys, m->cap * 2 * sizeof(uint64_t));
    memset(m, 0, sizeof *m);
}

static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static uint64_t *map_slot(u64map *m, uint64_t key, bool *found) {
    size_t i = (size_t)mix(key) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    *found = m->keys[i] == key;
    m->keys[i] = key;
    return &m->vals[i];
}

/* The value of key if it is there; else inserts key with value fresh and
 * returns 0 (so values must not be 0). */
static uint64_t map_get_or_put(u64map *m, uint64_t key, uint64_t fresh) {
    key++;
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        uint64_t *keys = gm_os_alloc(cap * 2 * sizeof(uint64_t));
        if (!keys) {
            m->failed = true;
            return 0;
        }
        u64map next = {keys, keys + cap, cap, m->n, false};
        for (size_t i = 0; i < m->cap; i++) {
            if (m->keys[i]) {
                bool f;
                *map_slot(&next, m->keys[i], &f) = m->vals[i];
            }
        }
        map_free(m);
        *m = next;
    }
    bool found;
    uint64_t *v = map_slot(m, key, &found);
    if (found)
        return *v;
    *v = fresh;
    m->n++;
    return 0;
}

/* ----------------------------------------------------------- the builder */

typedef struct builder {
    gm_pb out;     /* the Profile message */
    gm_pb strings; /* the string table, already encoded as field 6 */
    u64map string_ids; /* hash of the text -> index + 1 (collisions checked) */
    size_t nstrings;
    gm_pb texts;   /* every interned text, NUL-terminated, for the check */
    u64map text_at; /* index -> offset in texts */
    u64map locations; /* address -> location id */
    u64map functions; /* string index of the name -> function id */
    size_t nfunctions;
    gm_mapping *maps;
    size_t nmaps, maps_bytes;
    bool *unnamed; /* per mapping: some location in it has no function */
    gm_symtab *symtabs; /* per mapping, opened at its first location */
    uint8_t *symtab_state; /* 0 not tried, 1 open, 2 failed */
} builder;

static uint64_t hash_text(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

/* The string table index of s. */
static int64_t intern(builder *b, const char *s) {
    size_t n = strlen(s);
    uint64_t h = hash_text(s, n);
    for (uint64_t probe = h;; probe = mix(probe + 1)) {
        uint64_t at = map_get_or_put(&b->string_ids, probe, b->nstrings + 1);
        if (b->string_ids.failed)
            return 0;
        if (at == 0)
            break; /* new: index b->nstrings */
        uint64_t off = map_get_or_put(&b->text_at, at - 1, 0);
        if (off && strcmp((const char *)b->texts.buf + off - 1, s) == 0)
            return (int64_t)(at - 1);
        /* A different text with the same hash: probe on. */
    }
    size_t index = b->nstrings++;
    map_get_or_put(&b->text_at, index, b->texts.len + 1);
    gm_pb_raw(&b->texts, s, n + 1);
    gm_pb_bytes(&b->strings, 6, s, n);
    return (int64_t)index;
}

static void value_type(builder *b, unsigned field, const char *type, const char *unit) {
    int64_t t = intern(b, type), u = intern(b, unit);
    size_t m = gm_pb_begin(&b->out, field);
    gm_pb_int(&b->out, 1, t);
    gm_pb_int(&b->out, 2, u);
    gm_pb_end(&b->out, m);
}

/* The index (1-based) of the mapping holding pc, or 0. */
static size_t mapping_of(builder *b, uintptr_t pc) {
    for (size_t i = 0; i < b->nmaps; i++)
        if (pc >= b->maps[i].start && pc < b->maps[i].limit)
            return i + 1;
    return 0;
}

static uint64_t function_id(builder *b, const char *name) {
    int64_t s = intern(b, name);
    uint64_t id = map_get_or_put(&b->functions, (uint64_t)s, b->nfunctions + 1);
    if (id)
        return id;
    id = ++b->nfunctions;
    size_t m = gm_pb_begin(&b->out, 5);
    gm_pb_uint(&b->out, 1, id);
    gm_pb_int(&b->out, 2, s);
    gm_pb_int(&b->out, 3, s);
    gm_pb_end(&b->out, m);
    return id;
}

/* The location id of pc, writing the Location (and its Function) the
 * first time. */
static uint64_t location_id(builder *b, uintptr_t pc) {
    uint64_t fresh = b->locations.n + 1;
    uint64_t id = map_get_or_put(&b->locations, pc, fresh);
    if (id)
        return id;
    id = fresh;
    size_t mapping = mapping_of(b, pc);
    const char *name = NULL;
    if (mapping) {
        size_t k = mapping - 1;
        if (b->symtab_state[k] == 0)
            b->symtab_state[k] = gm_symtab_open(&b->symtabs[k], b->maps[k].file) ? 1 : 2;
        if (b->symtab_state[k] == 1)
            name = gm_symtab_lookup(&b->symtabs[k], pc - b->maps[k].bias);
    }
    Dl_info info;
    if (!name && pc && dladdr((void *)pc, &info) && info.dli_sname && info.dli_sname[0])
        name = info.dli_sname;
    uint64_t fn = name && name[0] ? function_id(b, name) : 0;
    if (mapping && !fn)
        b->unnamed[mapping - 1] = true;
    size_t m = gm_pb_begin(&b->out, 4);
    gm_pb_uint(&b->out, 1, id);
    if (mapping)
        gm_pb_uint(&b->out, 2, mapping);
    gm_pb_uint(&b->out, 3, pc);
    if (fn) {
        size_t l = gm_pb_begin(&b->out, 4);
        gm_pb_uint(&b->out, 1, fn);
        gm_pb_end(&b->out, l);
    }
    gm_pb_end(&b->out, m);
    return id;
}

static void write_sample(builder *b, const gm_heapprof_entry *e, int64_t rate, int64_t bytes_key) {
    uint64_t ids[GM_SAMPLE_MAX_DEPTH];
    for (uint32_t i = 0; i < e->depth; i++)
        ids[i] = location_id(b, e->pcs[i]);
    int64_t v[4];
    gm_pprof_scale(e->allocs, e->alloc_bytes, rate, &v[0], &v[1]);
    uint64_t live = e->allocs > e->frees ? e->allocs - e->frees : 0;
    uint64_t live_bytes = e->alloc_bytes > e->free_bytes ? e->alloc_bytes - e->free_bytes : 0;
    gm_pprof_scale(live, live_bytes, rate, &v[2], &v[3]);
    size_t m = gm_pb_begin(&b->out, 2);
    size_t p = gm_pb_begin(&b->out, 1);
    for (uint32_t i = 0; i < e->depth; i++)
        gm_pb_varint(&b->out, ids[i]);
    gm_pb_end(&b->out, p);
    p = gm_pb_begin(&b->out, 2);
    for (int i = 0; i < 4; i++)
        gm_pb_varint(&b->out, (uint64_t)v[i]);
    gm_pb_end(&b->out, p);
    size_t l = gm_pb_begin(&b->out, 3);
    gm_pb_int(&b->out, 1, bytes_key);
    gm_pb_int(&b->out, 3, (int64_t)e->size);
    gm_pb_end(&b->out, l);
    gm_pb_end(&b->out, m);
}

static void write_mappings(builder *b) {
    for (size_t i = 0; i < b->nmaps; i++) {
        const gm_mapping *mp = &b->maps[i];
        int64_t file = intern(b, mp->file), id = intern(b, mp->build_id);
        size_t m = gm_pb_begin(&b->out, 3);
        gm_pb_uint(&b->out, 1, i + 1);
        gm_pb_uint(&b->out, 2, mp->start);
        gm_pb_uint(&b->out, 3, mp->limit);
        gm_pb_uint(&b->out, 4, mp->offset);
        gm_pb_int(&b->out, 5, file);
        gm_pb_int(&b->out, 6, id);
        if (!b->unnamed[i])
            gm_pb_uint(&b->out, 7, 1);
        gm_pb_end(&b->out, m);
    }
}

#define MAX_MAPPINGS 1024

int gm_pprof_write_heap(int fd, const gm_heapprof_snapshot *snap) {
    builder b;
    memset(&b, 0, sizeof b);
    gm_pb_init(&b.out);
    gm_pb_init(&b.strings);
    gm_pb_init(&b.texts);
    b.maps_bytes = MAX_MAPPINGS * (sizeof(gm_mapping) + sizeof(gm_symtab) + sizeof(bool) + 1);
    b.maps = gm_os_alloc(b.maps_bytes);
    int rc = -1;
    if (!b.maps) {
        errno = ENOMEM;
        return -1;
    }
    b.nmaps = gm_mappings_read(b.maps, MAX_MAPPINGS);
    b.symtabs = (gm_symtab *)(b.maps + MAX_MAPPINGS);
    b.unnamed = (bool *)(b.symtabs + MAX_MAPPINGS);
    b.symtab_state = (uint8_t *)(b.unnamed + MAX_MAPPINGS);
    intern(&b, "");
    value_type(&b, 1, "alloc_objects", "count");
    value_type(&b, 1, "alloc_space", "bytes");
    value_type(&b, 1, "inuse_objects", "count");
    value_type(&b, 1, "inuse_space", "bytes");
    int64_t bytes_key = intern(&b, "bytes");
    for (size_t i = 0; i < snap->count; i++)
        write_sample(&b, &snap->entries[i], snap->rate, bytes_key);
    write_mappings(&b);
    gm_pb_int(&b.out, 9, (int64_t)snap->time_ns);
    value_type(&b, 11, "space", "bytes");
    gm_pb_int(&b.out, 12, snap->rate);
    /* The string table goes last, once every string is interned. */
    gm_pb_raw(&b.out, b.strings.buf, b.strings.len);
    bool failed = b.out.failed || b.strings.failed || b.texts.failed || b.string_ids.failed ||
                  b.text_at.failed || b.locations.failed || b.functions.failed;
    if (failed)
        errno = ENOMEM;
    else
        rc = gm_gzip_write(fd, b.out.buf, b.out.len);
    int err = errno;
    gm_pb_free(&b.out);
    gm_pb_free(&b.strings);
    gm_pb_free(&b.texts);
    map_free(&b.string_ids);
    map_free(&b.text_at);
    map_free(&b.locations);
    map_free(&b.functions);
    for (size_t i = 0; i < b.nmaps; i++)
        if (b.symtab_state[i] == 1)
            gm_symtab_close(&b.symtabs[i]);
    gm_os_free(b.maps, b.maps_bytes);
    errno = err;
    return rc;
}
