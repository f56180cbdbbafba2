/*
 * test_gc_realloc_live.c - strings grown with gm_realloc while collections
 * run stay intact.
 *
 * 2000 growable strings (a scanned header pointing to a noscan buffer,
 * headers held in a global array) are appended to in turns; a buffer that
 * fills is doubled with gm_realloc.  Every string's contents are checked
 * before each append.  This caught registers that a thread's stack scan
 * missed: a thread that waits for a collection inside gm_realloc (in a
 * blocking region) had its registers saved with setjmp, which mangles the
 * saved rbp, so a new buffer held only in rbp was freed and handed out
 * again.
 */
#include "gm_test.h"

typedef struct str {
    char *ptr;
    long len, cap;
} str;

#define NSTR 2000
static str *strs[NSTR];

int main(void) {
    int rounds = gm_test_quick() ? 4 : 12;
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < NSTR; i++) {
            str *s = gm_alloc(sizeof *s);
            CHECK(s != NULL, "gm_alloc failed");
            s->cap = 16;
            s->ptr = gm_alloc_noscan((size_t)s->cap);
            strs[i] = s;
        }
        for (int k = 0; k < 200; k++) {
            for (int i = 0; i < NSTR; i += 7) {
                str *s = strs[i];
                char c = (char)('a' + i % 26);
                for (long j = 0; j < s->len; j++)
                    CHECK(s->ptr[j] == c, "round %d step %d: string %d byte %ld of %ld is %d, want %d (buffer %p)",
                          round, k, i, j, s->len, s->ptr[j], c, (void *)s->ptr);
                while (s->len + 64 >= s->cap) {
                    s->cap *= 2;
                    s->ptr = gm_realloc(s->ptr, (size_t)s->cap);
                    CHECK(s->ptr != NULL, "gm_realloc to %ld failed", s->cap);
                }
                memset(s->ptr + s->len, c, 64);
                s->len += 64;
            }
        }
    }
    gm_memstats m;
    gm_read_memstats(&m);
    printf("test_gc_realloc_live: %d rounds, %u collections: ok\n", rounds, m.num_gc);
    CHECK(m.num_gc > 0, "no collection ran");
    return 0;
}
