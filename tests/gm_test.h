/*
 * gm_test.h - the harness every test uses.
 *
 *   CHECK(cond, fmt, ...)   stops the test (exit 1) printing file:line, the
 *                           condition and the formatted values when cond is
 *                           false.
 *   gm_test_gc_off(argv)    re-executes the program with GOMEM_GC=off (the
 *                           setting is read once at load), so that no
 *                           collection runs while a test holds pointers in
 *                           memory the collector does not scan.
 *   gm_test_seed(name)      the seed of a random test: GM_TEST_SEED if set,
 *                           else one from the clock; printed either way.
 *   gm_rng                  a small PRNG (splitmix64) for the tests.
 *   gm_test_run_child(...)  runs a function in a forked child, captures its
 *                           stderr and how it ended (exit status or signal),
 *                           for tests of fatal errors.
 *   gm_test_fill/verify     a pattern of bytes derived from a tag, to check
 *                           that an object's contents are intact.
 *   gm_test_clear_stack()   wipes the stack below the caller and the vector
 *                           registers, so that stale copies of an address do
 *                           not keep its object alive.
 */
#ifndef GM_TEST_H
#define GM_TEST_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gomem.h>

/* GM_TEST_TSAN is 1 in a ThreadSanitizer build. */
#if defined(__SANITIZE_THREAD__)
#define GM_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GM_TEST_TSAN 1
#endif
#endif
#ifndef GM_TEST_TSAN
#define GM_TEST_TSAN 0
#endif

__attribute__((noreturn, format(printf, 4, 5))) static inline void
gm_test_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
    fflush(stdout);
    fprintf(stderr, "%s:%d: CHECK(%s) failed: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    exit(1);
}

#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond))                                                  \
            gm_test_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
    } while (0)

/* True if GM_TEST_QUICK is set (and not "0"): a shorter run. */
static inline bool gm_test_quick_env(void) {
    const char *q = getenv("GM_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* The same, and always under a sanitizer (GOMEM_SANITIZED) or an
 * emulator (GM_TEST_EMULATOR), where the full run would take too long. */
static inline bool gm_test_quick(void) {
#ifdef GOMEM_SANITIZED
    return true;
#else
    const char *emu = getenv("GM_TEST_EMULATOR");
    return gm_test_quick_env() || (emu && *emu);
#endif
}

/* execve for a test that re-executes itself (path "/proc/self/exe").
 * Where the tests run under an emulator (GM_TEST_EMULATOR: its command
 * line, e.g. "/usr/bin/qemu-aarch64 -L /usr/aarch64-linux-gnu", set by
 * CTest for a cross build), the kernel cannot run the program itself:
 * the emulator is executed with the program's real path.  Returns only on
 * failure, as execve. */
static inline int gm_test_execve(const char *path, char *const argv[], char *const envp[]) {
    const char *emu = getenv("GM_TEST_EMULATOR");
    if (!emu || !*emu)
        return execve(path, argv, envp);
    static char words[1024], self[4096];
    char *args[64];
    int n = 0;
    snprintf(words, sizeof words, "%s", emu);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w && n < 32; w = strtok_r(NULL, " ", &save))
        args[n++] = w;
    ssize_t len = readlink(path, self, sizeof self - 1);
    if (len <= 0)
        return -1;
    self[len] = 0;
    args[n++] = self;
    for (int i = 1; argv[i] && n < 63; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    return execve(args[0], args, envp);
}

static inline int gm_test_execv(const char *path, char *const argv[]) {
    extern char **environ;
    return gm_test_execve(path, argv, environ);
}

/* Re-executes the program with GOMEM_DEBUG=gccheckmark=1 unless it already
 * runs so: every cycle's marks are then checked against a full
 * stop-the-world mark, and a reachable object left unmarked is fatal.
 * Falls through (with a note) if the re-exec fails. */
static inline void gm_test_checkmark(char **argv) {
    const char *debug = getenv("GOMEM_DEBUG");
    if (debug && strstr(debug, "gccheckmark"))
        return;
    setenv("GOMEM_DEBUG", "gccheckmark=1", 1);
    fflush(NULL);
    gm_test_execv("/proc/self/exe", argv);
    fprintf(stderr, "note: re-exec with GOMEM_DEBUG=gccheckmark=1 failed (%s); running without\n",
            strerror(errno));
}

/* Re-executes the program with GOMEM_GC=off unless it already runs so.
 * Falls through (with a note) if the re-exec fails. */
static inline void gm_test_gc_off(char **argv) {
    const char *v = getenv("GOMEM_GC");
    if (v && strcmp(v, "off") == 0)
        return;
    setenv("GOMEM_GC", "off", 1);
    fflush(NULL);
    gm_test_execv("/proc/self/exe", argv);
    fprintf(stderr, "note: re-exec with GOMEM_GC=off failed (%s); running with the collector on\n",
            strerror(errno));
}

/* --------------------------------------------------------------- random */

typedef struct gm_rng {
    uint64_t s;
} gm_rng;

static inline uint64_t gm_rng_next(gm_rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t gm_rng_below(gm_rng *r, uint64_t n) {
    return gm_rng_next(r) % n;
}

static inline uint64_t gm_test_seed(const char *name) {
    const char *e = getenv("GM_TEST_SEED");
    uint64_t seed;
    if (e && *e) {
        seed = strtoull(e, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
    printf("%s: seed %llu (rerun with GM_TEST_SEED=%llu)\n", name, (unsigned long long)seed,
           (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

/* ------------------------------------------------------------- patterns */

/* The 64-bit word at word index w (bytes 8w .. 8w+7, little-endian). */
static inline uint64_t gm_test_word(uint64_t tag, size_t w) {
    uint64_t x = (tag ^ 0xd1b54a32d192ed03ull) + w * 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
}

/* The byte at offset i of an object tagged tag.  The pattern does not
 * depend on the object's length: a shorter fill is a prefix of a longer. */
static inline uint8_t gm_test_byte(uint64_t tag, size_t i) {
    return (uint8_t)(gm_test_word(tag, i / 8) >> (8 * (i % 8)));
}

static inline uint64_t gm_test_le64(uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

/* Fills n bytes at p with the pattern of tag. */
static inline void gm_test_fill(void *p, size_t n, uint64_t tag) {
    unsigned char *b = p;
    size_t words = n / 8;
    for (size_t w = 0; w < words; w++) {
        uint64_t v = gm_test_le64(gm_test_word(tag, w));
        memcpy(b + 8 * w, &v, 8);
    }
    for (size_t i = words * 8; i < n; i++)
        b[i] = gm_test_byte(tag, i);
}

/* Returns the first offset of [p, p+n) where the pattern of tag differs, or
 * (size_t)-1. */
static inline size_t gm_test_verify(const void *p, size_t n, uint64_t tag) {
    const unsigned char *b = p;
    size_t words = n / 8;
    for (size_t w = 0; w < words; w++) {
        uint64_t v;
        memcpy(&v, b + 8 * w, 8);
        if (v != gm_test_le64(gm_test_word(tag, w))) {
            for (size_t i = 8 * w; i < 8 * w + 8; i++)
                if (b[i] != gm_test_byte(tag, i))
                    return i;
        }
    }
    for (size_t i = words * 8; i < n; i++)
        if (b[i] != gm_test_byte(tag, i))
            return i;
    return (size_t)-1;
}

/* Returns the first nonzero offset of [p, p+n), or (size_t)-1. */
static inline size_t gm_test_first_nonzero(const void *p, size_t n) {
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, b + i, 8);
        if (v)
            break;
    }
    for (; i < n; i++)
        if (b[i])
            return i;
    return (size_t)-1;
}

/* ------------------------------------------------------ stale pointers */

/* The collector scans stacks and registers conservatively, so a test that
 * proves an object is reclaimed must first wipe the stack below its frame
 * and the vector registers, where earlier calls may have left the
 * object's address: gm_test_clear_stack() does both. */
/* Zeroes the vector registers: the collector's signal frame saves them on
 * the stack it scans, and memset/memcpy or vectorised code may have left
 * heap addresses in them. */
static inline void gm_test_clear_vector_registers(void) {
#if defined(__x86_64__)
    __asm__ volatile("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
                     "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
                     "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
                     "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
                     "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\t"
                     "pxor %%xmm15, %%xmm15"
                     :
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                       "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (__builtin_cpu_supports("avx"))
        __asm__ volatile("vzeroall" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                         "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (__builtin_cpu_supports("avx512f"))
        __asm__ volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
                         "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
                         "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
                         "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
                         "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
                         "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
                         "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
                         "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31" ::
                             : "memory");
#endif
}

/* Zeroes 64 KiB of stack below the caller's frame, and the vector
 * registers.  On x86-64 the zeroing starts right at the stack pointer: a
 * local buffer would leave this function's own frame (return address
 * aside, sanitizers' redzones and padding, hundreds of bytes under ASan)
 * holding whatever an earlier call left there, and the next call's frame
 * (gm_gc's) covers it without writing it. */
/* Makes the 64 KiB below the caller's frame mapped stack the ordinary way
 * (valgrind, unlike the kernel, does not extend the main stack for stores
 * below the stack pointer). */
__attribute__((noinline, unused)) static void gm_test_touch_stack(void) {
    volatile char buf[64 * 1024 + 256];
    buf[0] = 0;
    buf[sizeof buf - 1] = 0;
    __asm__ volatile("" : : "r"(buf) : "memory");
}

__attribute__((noinline, unused)) static void gm_test_clear_stack(void) {
    gm_test_touch_stack();
#if defined(__x86_64__)
    __asm__ volatile("lea -65536(%%rsp), %%rdi\n\t"
                     "mov $8192, %%ecx\n\t"
                     "xor %%eax, %%eax\n\t"
                     "rep stosq"
                     :
                     :
                     : "rdi", "rcx", "rax", "memory", "cc");
#else
    volatile char buf[64 * 1024];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
#endif
    gm_test_clear_vector_registers();
}

/* --------------------------------------------------------- child runs */

typedef struct gm_child {
    int status;      /* raw wait status */
    bool exited;     /* exited normally ... */
    int exit_code;   /* ... with this code */
    bool signaled;   /* killed by ... */
    int signo;       /* ... this signal */
    char err[16384]; /* its stderr (truncated), NUL-terminated */
    size_t err_len;
} gm_child;

/* Runs fn(arg) in a forked child whose stderr goes into c->err; the child
 * exits 0 if fn returns.  No core files.  Returns 0, or -1 if the child
 * could not be started. */
static inline int gm_test_run_child(void (*fn)(void *), void *arg, gm_child *c) {
    int p[2];
    memset(c, 0, sizeof *c);
    if (pipe(p) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
        signal(SIGABRT, SIG_DFL);
        close(p[0]);
        dup2(p[1], 2);
        close(p[1]);
        fn(arg);
        fflush(NULL);
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    for (;;) {
        char sink[512];
        char *dst = n + 1 < sizeof c->err ? c->err + n : sink;
        size_t room = n + 1 < sizeof c->err ? sizeof c->err - 1 - n : sizeof sink;
        r = read(p[0], dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (dst != sink)
            n += (size_t)r;
    }
    c->err[n] = 0;
    c->err_len = n;
    close(p[0]);
    while (waitpid(pid, &c->status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    c->exited = WIFEXITED(c->status);
    c->exit_code = c->exited ? WEXITSTATUS(c->status) : -1;
    c->signaled = WIFSIGNALED(c->status);
    c->signo = c->signaled ? WTERMSIG(c->status) : 0;
    return 0;
}

/* "exit 3", "signal 6 (Aborted)": how a child ended, for messages. */
static inline const char *gm_child_how(const gm_child *c, char *buf, size_t n) {
    if (c->exited)
        snprintf(buf, n, "exit %d", c->exit_code);
    else if (c->signaled)
        snprintf(buf, n, "signal %d (%s)", c->signo, strsignal(c->signo));
    else
        snprintf(buf, n, "status 0x%x", (unsigned)c->status);
    return buf;
}

/* The text %p gives for p, as the library prints it. */
static inline const char *gm_test_ptrstr(const void *p, char *buf, size_t n) {
    snprintf(buf, n, "%p", p);
    return buf;
}

/* Seconds on the monotonic clock. */
static inline double gm_test_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------ checked objects */

/* A heap object that carries its identity and a checksum, for the tests
 * that move pointers around while the collector runs: a lost, freed or
 * overwritten object is caught by gm_test_obj_verify. */
#define GM_TEST_OBJ_WORDS 8
typedef struct gm_test_obj {
    uint64_t id;
    uint64_t sum;
    struct gm_test_obj *link;
    uint64_t payload[GM_TEST_OBJ_WORDS];
} gm_test_obj;

static inline uint64_t gm_test_obj_sum(const gm_test_obj *o) {
    uint64_t s = o->id * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < GM_TEST_OBJ_WORDS; i++)
        s = (s ^ o->payload[i]) * 0x100000001b3ull;
    return s;
}

static inline gm_test_obj *gm_test_obj_make(uint64_t id) {
    gm_test_obj *o = gm_new(gm_test_obj);
    CHECK(o, "allocation failed");
    o->id = id;
    for (int i = 0; i < GM_TEST_OBJ_WORDS; i++)
        o->payload[i] = id * 31 + (uint64_t)i;
    o->sum = gm_test_obj_sum(o);
    return o;
}

static inline void gm_test_obj_verify(const gm_test_obj *o, uint64_t id, const char *where) {
    CHECK(o != NULL, "%s: lost object %llu", where, (unsigned long long)id);
    CHECK(gm_size(o) >= sizeof(gm_test_obj), "%s: object %llu was freed", where, (unsigned long long)id);
    CHECK(o->id == id && o->sum == gm_test_obj_sum(o), "%s: object %llu overwritten (id %llu)", where,
          (unsigned long long)id, (unsigned long long)o->id);
}

#endif /* GM_TEST_H */
