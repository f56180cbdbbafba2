/*
 * fuzz_api.c - drives the heap API with operations decoded from bytes and
 * checks every answer against a shadow model.
 *
 * Built two ways: as a libFuzzer target (clang -fsanitize=fuzzer, CMake
 * option GOMEM_FUZZ, `make fuzz`), and into the ordinary test
 * test_fuzz_corpus, which replays every file of tests/fuzz/corpus/ through
 * the same entry point (tests/fuzz/replay.c).
 *
 * Encoding: each operation is one byte (its low 4 bits the operation, its
 * high 4 bits a slot number, 16 slots) followed by the operation's
 * argument bytes; missing bytes read as zero, so every input is valid.
 * Operations: allocate (scan or noscan, size from 2 bytes and a scale
 * byte: up to 1 MiB), free, realloc, write a byte, check, keep alive, drop
 * a slot without freeing (the object becomes garbage), collect, interior
 * pointer queries (gm_size, gm_base), weak handle make/get, NULL and
 * non-heap queries, the pointer just past an object.  (Objects reached
 * only through other objects are test_torture's part.)
 *
 * The model keeps, per slot, the pointer, the size asked for and the tag
 * of the byte pattern the object holds (gm_test_fill), plus the single
 * byte writes since.  Invariants checked: a new object is zeroed and at
 * least as large as asked; gm_size and gm_base agree with the model for
 * every offset tried; contents match the pattern after collections and
 * reallocs (the prefix that fits); a freed object (other than a tiny one,
 * whose free does nothing) is no longer allocated; a weak handle gives
 * back its object while a slot holds it.  Slots live in a global (a
 * root).  At the end of each input every slot is freed or dropped, so
 * inputs do not depend on each other.
 */
#include <stddef.h>
#include <stdint.h>

#include "gm_test.h"

enum { NSLOTS = 16 };

typedef struct slot {
    unsigned char *p;
    size_t size;    /* bytes asked for */
    uint64_t tag;   /* pattern of the contents */
    int dirty_at;   /* offset of the one byte written over the pattern, or -1 */
    unsigned char dirty_val;
    gm_weak *weak;
} slot;

static slot slots[NSLOTS];
static uint64_t next_tag = 1;

typedef struct reader {
    const uint8_t *d;
    size_t n, i;
} reader;

static uint8_t rd8(reader *r) {
    return r->i < r->n ? r->d[r->i++] : 0;
}

static size_t rd_size(reader *r) {
    size_t v = rd8(r);
    v |= (size_t)rd8(r) << 8;
    unsigned scale = rd8(r) % 5; /* 0..4: up to 2^16 << 4 = 1 MiB */
    v <<= scale;
    return v;
}

static bool is_tiny(const slot *s) {
    return s->size < 16 && gm_size(s->p) == s->size && s->size > 0;
}

static void check_slot(const slot *s, int i) {
    if (!s->p)
        return;
    CHECK(gm_base(s->p) == s->p, "slot %d: %p is not a live object start (gm_base %p)", i, (void *)s->p,
          gm_base(s->p));
    size_t usable = gm_size(s->p);
    CHECK(usable >= s->size, "slot %d: gm_size %zu < %zu asked", i, usable, s->size);
    if (s->dirty_at < 0) {
        size_t bad = gm_test_verify(s->p, s->size, s->tag);
        CHECK(bad == (size_t)-1, "slot %d: %zu-byte object corrupted at byte %zu", i, s->size, bad);
    } else {
        size_t d = (size_t)s->dirty_at;
        CHECK(s->p[d] == s->dirty_val, "slot %d: byte %zu written %#x reads %#x", i, d, s->dirty_val, s->p[d]);
        size_t bad = gm_test_verify(s->p, d, s->tag);
        CHECK(bad == (size_t)-1, "slot %d: corrupted at byte %zu", i, bad);
        if (d + 1 < s->size) {
            /* The pattern after the written byte, compared byte by byte. */
            for (size_t k = d + 1; k < s->size; k++)
                CHECK(s->p[k] == gm_test_byte(s->tag, k), "slot %d: corrupted at byte %zu", i, k);
        }
    }
}

static void alloc_into(slot *s, reader *r, bool noscan) {
    size_t size = rd_size(r);
    unsigned char *p = noscan ? gm_alloc_noscan(size) : gm_alloc(size);
    CHECK(p != NULL, "gm_alloc%s(%zu) failed: %s", noscan ? "_noscan" : "", size, strerror(errno));
    size_t nz = gm_test_first_nonzero(p, size);
    CHECK(nz == (size_t)-1, "new %zu-byte object not zeroed at byte %zu", size, nz);
    CHECK(gm_size(p) >= size, "gm_size %zu < %zu", gm_size(p), size);
    s->p = p;
    s->size = size;
    s->tag = next_tag++;
    s->dirty_at = -1;
    s->weak = NULL;
    gm_test_fill(p, size, s->tag);
}

static void free_slot(slot *s) {
    if (!s->p)
        return;
    bool tiny = is_tiny(s);
    unsigned char *p = s->p;
    gm_free(p);
    s->p = NULL;
    s->weak = NULL;
    if (!tiny)
        CHECK(gm_size(p) == 0, "%p still allocated after gm_free", (void *)p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size, 0};
    int ops = 0, collections = 0;
    while (r.i < r.n && ops++ < 4096) {
        uint8_t op = rd8(&r);
        int i = op >> 4;
        slot *s = &slots[i];
        switch (op & 15) {
        case 0: /* allocate, scan */
        case 1: /* allocate, noscan */
            free_slot(s);
            alloc_into(s, &r, op & 1);
            break;
        case 2: /* free */
            free_slot(s);
            break;
        case 3: { /* realloc */
            size_t n = rd_size(&r);
            if (!s->p) {
                alloc_into(s, &r, false);
                break;
            }
            if (n == 0) {
                unsigned char *q = gm_realloc(s->p, 0);
                CHECK(q == NULL, "gm_realloc(p, 0) returned %p", (void *)q);
                s->p = NULL;
                break;
            }
            check_slot(s, i);
            unsigned char *q = gm_realloc(s->p, n);
            CHECK(q != NULL, "gm_realloc(%zu) failed", n);
            size_t keep = n < s->size ? n : s->size;
            if (s->dirty_at >= 0 && (size_t)s->dirty_at < keep) {
                CHECK(q[s->dirty_at] == s->dirty_val, "gm_realloc lost the written byte");
                q[s->dirty_at] = gm_test_byte(s->tag, (size_t)s->dirty_at);
            }
            size_t bad = gm_test_verify(q, keep, s->tag);
            CHECK(bad == (size_t)-1, "gm_realloc %zu -> %zu lost byte %zu", s->size, n, bad);
            if (n > s->size && q != s->p) {
                size_t nz = gm_test_first_nonzero(q + s->size, n - s->size);
                CHECK(nz == (size_t)-1, "grown part of a moved object not zeroed at %zu", s->size + nz);
            }
            gm_test_fill(q, n, s->tag);
            s->p = q;
            s->size = n;
            s->dirty_at = -1;
            s->weak = NULL;
            break;
        }
        case 4: { /* write a byte */
            size_t off = rd8(&r) | (size_t)rd8(&r) << 8;
            uint8_t v = rd8(&r);
            if (!s->p || s->size == 0)
                break;
            off %= s->size;
            if (s->dirty_at >= 0)
                s->p[s->dirty_at] = gm_test_byte(s->tag, (size_t)s->dirty_at);
            s->p[off] = v;
            s->dirty_at = (int)off;
            s->dirty_val = v;
            break;
        }
        case 5: /* check */
            check_slot(s, i);
            break;
        case 6: /* gm_keep_alive and a collection: the slot's object stays */
            if (s->p)
                gm_keep_alive(s->p);
            break;
        case 7: { /* drop: garbage, not freed */
            s->p = NULL;
            s->weak = NULL;
            break;
        }
        case 8: /* collect (at most once an input, to keep inputs fast) */
            if (collections++ >= 1)
                break;
            gm_gc();
            for (int k = 0; k < NSLOTS; k++)
                check_slot(&slots[k], k);
            break;
        case 9: { /* interior queries */
            size_t off = rd8(&r) | (size_t)rd8(&r) << 8 | (size_t)rd8(&r) << 16;
            if (!s->p || s->size == 0)
                break;
            off %= s->size;
            CHECK(gm_base(s->p + off) == s->p, "gm_base(p + %zu) = %p, want %p", off, gm_base(s->p + off),
                  (void *)s->p);
            CHECK(gm_size(s->p + off) == gm_size(s->p), "gm_size of an interior pointer differs");
            break;
        }
        case 10: /* weak make */
            if (s->p) {
                s->weak = gm_weak_make(s->p);
                CHECK(s->weak != NULL, "gm_weak_make(%p) = NULL", (void *)s->p);
            }
            break;
        case 11: /* weak get */
            if (s->p && s->weak)
                CHECK(gm_weak_get(s->weak) == s->p, "weak handle of a held object gives %p, want %p",
                      gm_weak_get(s->weak), (void *)s->p);
            break;
        case 12: /* NULL and non-heap cases */
            gm_free(NULL);
            CHECK(gm_size(NULL) == 0 && gm_base(NULL) == NULL, "NULL queries");
            CHECK(gm_base(&r) == NULL && gm_size(&slots[0]) == 0, "non-heap pointers answered as heap");
            break;
        case 13: { /* a pointer just past the end: another object or none */
            if (!s->p || is_tiny(s))
                break;
            size_t usable = gm_size(s->p);
            void *b = gm_base(s->p + usable);
            CHECK(b != s->p, "gm_base(p + gm_size(p)) = p");
            break;
        }
        default: /* 14, 15: no-ops, room for the fuzzer to mutate */
            break;
        }
    }
    for (int k = 0; k < NSLOTS; k++) {
        check_slot(&slots[k], k);
        if (slots[k].p && (k & 1))
            free_slot(&slots[k]);
        slots[k].p = NULL;
        slots[k].weak = NULL;
    }
    return 0;
}
