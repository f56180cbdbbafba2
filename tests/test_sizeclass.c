/*
 * test_sizeclass.c - the generated size-class table (src/heap/sizeclasses.h).
 *
 * Checks the table's invariants (increasing sizes, 16-byte steps from 16 B,
 * at most 1/8 of a span lost to its tail, object counts that fit the span
 * bitmaps), that the two lookup tables, read with malloc.c's rule, give the
 * smallest class that fits for every size from 0 to 32 KiB, that the
 * reciprocals divide exactly at every offset of a span, that the allocator
 * hands out objects of exactly those classes, and that running the
 * generator again gives the checked-in file byte for byte.
 */
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>

#include "gm_test.h"
#include "gm.h"
#include "heap/heap.h"

#define NCLASSES ((int)(sizeof gm_class_to_size / sizeof gm_class_to_size[0]))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* malloc.c's size_to_class, restated: the test reads the tables the same
 * way the allocator does. */
static uint32_t table_class(size_t size) {
    if (size <= GM_SMALL_SIZE_MAX - 8) {
        size_t i = (size + GM_SMALL_SIZE_DIV - 1) / GM_SMALL_SIZE_DIV;
        CHECK(i < ARRAY_LEN(gm_size_to_class8), "size %zu: index %zu past size_to_class8[%zu]", size, i,
              ARRAY_LEN(gm_size_to_class8));
        return gm_size_to_class8[i];
    }
    size_t i = (size - GM_SMALL_SIZE_MAX + GM_LARGE_SIZE_DIV - 1) / GM_LARGE_SIZE_DIV;
    CHECK(i < ARRAY_LEN(gm_size_to_class128), "size %zu: index %zu past size_to_class128[%zu]", size, i,
          ARRAY_LEN(gm_size_to_class128));
    return gm_size_to_class128[i];
}

/* The smallest class whose size is at least size, by a linear search. */
static uint32_t smallest_fit(size_t size) {
    for (int c = 1; c < NCLASSES; c++)
        if (gm_class_to_size[c] >= size)
            return (uint32_t)c;
    return 0;
}

static void check_table(void) {
    CHECK(NCLASSES == GM_NUM_SIZE_CLASSES, "table length %d, GM_NUM_SIZE_CLASSES %d", NCLASSES,
          GM_NUM_SIZE_CLASSES);
    CHECK(ARRAY_LEN(gm_class_to_npages) == (size_t)GM_NUM_SIZE_CLASSES, "npages length %zu",
          ARRAY_LEN(gm_class_to_npages));
    CHECK(ARRAY_LEN(gm_class_to_nobjs) == (size_t)GM_NUM_SIZE_CLASSES, "nobjs length %zu",
          ARRAY_LEN(gm_class_to_nobjs));
    CHECK(ARRAY_LEN(gm_class_to_divmagic) == (size_t)GM_NUM_SIZE_CLASSES, "divmagic length %zu",
          ARRAY_LEN(gm_class_to_divmagic));
    /* Go's 68 classes (class 0 included), less its 24-byte class, which the
     * 16-byte alignment rule merges away. */
    CHECK(GM_NUM_SIZE_CLASSES == 67, "GM_NUM_SIZE_CLASSES = %d, expected 67", GM_NUM_SIZE_CLASSES);
    CHECK(gm_class_to_size[0] == 0 && gm_class_to_npages[0] == 0 && gm_class_to_nobjs[0] == 0,
          "class 0 (large objects) must be empty: size %u npages %u nobjs %u", gm_class_to_size[0],
          gm_class_to_npages[0], gm_class_to_nobjs[0]);
    CHECK(gm_class_to_size[1] == 8, "class 1 is %u B, expected 8", gm_class_to_size[1]);
    /* The tiny allocator's blocks are objects of size class 2. */
    CHECK(gm_class_to_size[2] == GM_TINY_SIZE, "class 2 is %u B, the tiny block is %d B", gm_class_to_size[2],
          GM_TINY_SIZE);
    CHECK(gm_class_to_size[GM_NUM_SIZE_CLASSES - 1] == GM_MAX_SMALL_SIZE, "last class is %u B, expected %d",
          gm_class_to_size[GM_NUM_SIZE_CLASSES - 1], GM_MAX_SMALL_SIZE);
    CHECK(GM_MAX_SMALL_SIZE == 32768, "GM_MAX_SMALL_SIZE = %d", GM_MAX_SMALL_SIZE);

    for (int c = 1; c < NCLASSES; c++) {
        uint32_t size = gm_class_to_size[c];
        uint32_t npages = gm_class_to_npages[c];
        uint32_t nobjs = gm_class_to_nobjs[c];
        uint64_t span = (uint64_t)npages * GM_PAGE_SIZE;
        CHECK(c == 1 || size > gm_class_to_size[c - 1], "class %d: size %u not above class %d's %u", c, size,
              c - 1, gm_class_to_size[c - 1]);
        CHECK(size >= 8 && size % 8 == 0, "class %d: size %u not a multiple of 8", c, size);
        CHECK(size < 16 || size % 16 == 0, "class %d: size %u >= 16 is not a multiple of 16", c, size);
        CHECK(npages >= 1, "class %d: npages %u", c, npages);
        CHECK(nobjs == span / size, "class %d: nobjs %u, span %llu / size %u = %llu", c, nobjs,
              (unsigned long long)span, size, (unsigned long long)(span / size));
        CHECK(nobjs >= 1 && nobjs <= GM_MAX_OBJS_PER_SPAN, "class %d: nobjs %u outside [1, %d]", c, nobjs,
              GM_MAX_OBJS_PER_SPAN);
        CHECK((nobjs + 63) / 64 <= GM_BITMAP_WORDS, "class %d: %u objects need more than %d bitmap words", c,
              nobjs, GM_BITMAP_WORDS);
        uint64_t tail = span - (uint64_t)nobjs * size;
        CHECK(tail * 8 <= span, "class %d (%u B, %u pages): tail waste %llu B is more than 1/8 of %llu", c, size,
              npages, (unsigned long long)tail, (unsigned long long)span);
        /* Above 1 KiB the 128-byte lookup table must land on class sizes. */
        CHECK(size <= GM_SMALL_SIZE_MAX || size % GM_LARGE_SIZE_DIV == 0,
              "class %d: size %u above %d is not a multiple of %d", c, size, GM_SMALL_SIZE_MAX,
              GM_LARGE_SIZE_DIV);
    }
    printf("table: %d classes, 8 .. %u B: ok\n", GM_NUM_SIZE_CLASSES - 1, gm_class_to_size[NCLASSES - 1]);
}

static void check_lookup(void) {
    CHECK(ARRAY_LEN(gm_size_to_class8) == GM_SMALL_SIZE_MAX / GM_SMALL_SIZE_DIV + 1, "size_to_class8 has %zu",
          ARRAY_LEN(gm_size_to_class8));
    CHECK(ARRAY_LEN(gm_size_to_class128) == (GM_MAX_SMALL_SIZE - GM_SMALL_SIZE_MAX) / GM_LARGE_SIZE_DIV + 1,
          "size_to_class128 has %zu", ARRAY_LEN(gm_size_to_class128));
    for (size_t size = 0; size <= GM_MAX_SMALL_SIZE; size++) {
        uint32_t want = smallest_fit(size);
        uint32_t got = table_class(size);
        CHECK(want != 0, "no class fits %zu", size);
        CHECK(got == want, "size %zu: lookup gives class %u (%u B), smallest fit is class %u (%u B)", size, got,
              gm_class_to_size[got], want, gm_class_to_size[want]);
    }
    printf("lookup: every size 0 .. %d maps to its smallest fitting class: ok\n", GM_MAX_SMALL_SIZE);
}

static void check_divmagic(void) {
    uint64_t checked = 0;
    for (int c = 1; c < NCLASSES; c++) {
        uint32_t size = gm_class_to_size[c];
        uint64_t magic = gm_class_to_divmagic[c];
        uint64_t span = (uint64_t)gm_class_to_npages[c] * GM_PAGE_SIZE;
        for (uint64_t off = 0; off < span; off++) {
            uint64_t q = (off * magic) >> 32;
            if (q != off / size)
                CHECK(q == off / size, "class %d (%u B, magic %llu): offset %llu gives %llu, expected %llu", c,
                      size, (unsigned long long)magic, (unsigned long long)off, (unsigned long long)q,
                      (unsigned long long)(off / size));
        }
        checked += span;
        /* The same through the span record the allocator uses. */
        gm_span s;
        memset(&s, 0, sizeof s);
        s.base = 1ull << 40;
        s.elemsize = size;
        s.divmagic = (uint32_t)magic;
        for (uint64_t i = 0; i < gm_class_to_nobjs[c]; i++) {
            uintptr_t start = s.base + i * size;
            CHECK(gm_span_index(&s, start) == i && gm_span_index(&s, start + size - 1) == i,
                  "class %d: gm_span_index of slot %llu", c, (unsigned long long)i);
        }
        /* An offset in the tail lies past the last slot. */
        if (span % size)
            CHECK(gm_span_index(&s, s.base + (uintptr_t)gm_class_to_nobjs[c] * size) == gm_class_to_nobjs[c],
                  "class %d: tail offset index", c);
    }
    printf("divmagic: exact division at all %llu span offsets: ok\n", (unsigned long long)checked);
}

/* The allocator hands out exactly the table's classes. */
static void check_allocator(void) {
    for (size_t size = 0; size <= GM_MAX_SMALL_SIZE + 1; size++) {
        uint32_t want = size <= GM_MAX_SMALL_SIZE ? gm_class_to_size[smallest_fit(size)]
                                                  : (uint32_t)((size + GM_PAGE_SIZE - 1) & ~(GM_PAGE_SIZE - 1));
        void *p = gm_alloc(size);
        CHECK(p != NULL, "gm_alloc(%zu) failed", size);
        CHECK(gm_size(p) == want, "gm_alloc(%zu): gm_size %zu, class size %u", size, gm_size(p), want);
        gm_free(p);
        if (size >= GM_TINY_SIZE) {
            void *q = gm_alloc_noscan(size);
            CHECK(q != NULL, "gm_alloc_noscan(%zu) failed", size);
            CHECK(gm_size(q) == want, "gm_alloc_noscan(%zu): gm_size %zu, class size %u", size, gm_size(q), want);
            gm_free(q);
        }
    }
    printf("allocator: gm_size of every size 0 .. %d is its class size: ok\n", GM_MAX_SMALL_SIZE + 1);
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The source tree: from this file's path, else the build dir's parent. */
static bool find_source_root(char *out, size_t n) {
    char buf[PATH_MAX];
    char probe[PATH_MAX + 64];
    snprintf(buf, sizeof buf, "%s", __FILE__);
    if (buf[0] == '/') {
        char *dir = dirname(dirname(buf));
        snprintf(probe, sizeof probe, "%s/tools/mksizeclasses.py", dir);
        if (file_exists(probe)) {
            snprintf(out, n, "%s", dir);
            return true;
        }
    }
    snprintf(buf, sizeof buf, "%s", GM_TEST_LIBDIR);
    char *dir = dirname(buf);
    snprintf(probe, sizeof probe, "%s/tools/mksizeclasses.py", dir);
    if (file_exists(probe)) {
        snprintf(out, n, "%s", dir);
        return true;
    }
    return false;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static void check_regenerate(void) {
    char root[PATH_MAX];
    if (!find_source_root(root, sizeof root)) {
        printf("regenerate: source tree not found (from %s or %s/..); skipped\n", __FILE__, GM_TEST_LIBDIR);
        return;
    }
    if (system("python3 -c 'import sys' >/dev/null 2>&1") != 0) {
        printf("regenerate: python3 not available; skipped\n");
        return;
    }
    char tmp[] = "/tmp/gm_sizeclasses_XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
    close(fd);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "python3 '%s/tools/mksizeclasses.py' > '%s'", root, tmp);
    int rc = system(cmd);
    CHECK(rc == 0, "'%s' failed: status %d", cmd, rc);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/src/heap/sizeclasses.h", root);
    size_t n1 = 0, n2 = 0;
    char *want = read_file(path, &n1);
    char *got = read_file(tmp, &n2);
    unlink(tmp);
    CHECK(want != NULL, "cannot read %s", path);
    CHECK(got != NULL, "cannot read the generator's output");
    size_t i = 0;
    while (i < n1 && i < n2 && want[i] == got[i])
        i++;
    if (i != n1 || n1 != n2) {
        size_t line = 1;
        for (size_t k = 0; k < i; k++)
            line += want[k] == '\n';
        CHECK(false, "%s differs from the output of tools/mksizeclasses.py at line %zu (byte %zu; sizes %zu vs %zu)",
              path, line, i, n1, n2);
    }
    free(want);
    free(got);
    printf("regenerate: tools/mksizeclasses.py reproduces src/heap/sizeclasses.h: ok\n");
}

int main(void) {
    check_table();
    check_lookup();
    check_divmagic();
    check_allocator();
    check_regenerate();
    printf("test_sizeclass: ok\n");
    return 0;
}
