/*
 * test_heapprof_format.c - the heap profile's parts that need no Go:
 *
 *   - gzip: gm_gzip_write's output of repetitive and random data is what
 *     `gzip -dc` gives back byte for byte (skipped if gzip is absent), and
 *     gm_crc32 gives the CRC-32 check value of "123456789";
 *   - protobuf: varints and nested messages encode as the wire format says;
 *   - scaling: gm_pprof_scale is Go's scaleHeapSample;
 *   - settings: a malformed GOMEM_DEBUG=memprofilerate stops start-up
 *     naming it; an unwritable GOMEM_HEAPPROFILE is reported at exit;
 *     memprofilerate=0 still writes a (sample-free) gzip profile.
 */
#include <math.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "gm_test.h"
#include "obs/gzip.h"
#include "obs/pprof.h"
#include "obs/protobuf.h"

static char self[1024];

static void check_gzip(const char *dir, const unsigned char *data, size_t n, const char *what) {
    char path[1200], cmd[2600];
    snprintf(path, sizeof path, "%s/data.gz", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    CHECK(gm_gzip_write(fd, data, n) == 0, "gm_gzip_write: %s", strerror(errno));
    close(fd);
    struct stat st;
    CHECK(stat(path, &st) == 0, "stat %s", path);
    printf("gzip of %zu bytes of %s: %lld bytes\n", n, what, (long long)st.st_size);
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL, "popen %s", cmd);
    unsigned char *back = malloc(n + 1);
    size_t got = fread(back, 1, n + 1, f);
    int rc = pclose(f);
    CHECK(rc == 0, "%s: exit status %d (%s)", cmd, rc, what);
    CHECK(got == n, "%s gave %zu bytes, expected %zu (%s)", cmd, got, n, what);
    for (size_t i = 0; i < n; i++)
        CHECK(back[i] == data[i], "byte %zu differs after gzip -dc: %u, expected %u (%s)", i, back[i], data[i], what);
    free(back);
}

static void test_gzip(const char *dir) {
    CHECK(gm_crc32(0, "123456789", 9) == 0xcbf43926u, "crc32 check value %08x", gm_crc32(0, "123456789", 9));
    CHECK(gm_crc32(gm_crc32(0, "1234", 4), "56789", 5) == 0xcbf43926u, "crc32 in two parts");
    if (system("command -v gzip >/dev/null 2>&1") != 0) {
        printf("note: gzip not installed, deflate round trip not checked\n");
        return;
    }
    size_t n = 300000;
    unsigned char *d = malloc(n);
    gm_rng r = {gm_test_seed("test_heapprof_format")};
    /* Text-like: words from a small vocabulary, runs, long repeats. */
    for (size_t i = 0; i < n;) {
        uint64_t k = gm_rng_below(&r, 10);
        if (k < 6) {
            static const char *words[] = {"alloc_space ", "inuse ", "0x7f12345678 ", "gm_alloc ", "\x01\x02\x03"};
            const char *w = words[gm_rng_below(&r, 5)];
            for (size_t j = 0; w[j] && i < n; j++)
                d[i++] = (unsigned char)w[j];
        } else if (k < 8) {
            size_t len = 1 + gm_rng_below(&r, 300), c = gm_rng_below(&r, 256);
            for (size_t j = 0; j < len && i < n; j++)
                d[i++] = (unsigned char)c;
        } else if (i > 40000) {
            size_t len = 3 + gm_rng_below(&r, 400), from = i - 1 - gm_rng_below(&r, 33000);
            for (size_t j = 0; j < len && i < n; j++)
                d[i++] = d[from + j];
        } else {
            d[i++] = (unsigned char)gm_rng_next(&r);
        }
    }
    check_gzip(dir, d, n, "mixed text, runs and repeats");
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)gm_rng_next(&r);
    check_gzip(dir, d, n, "random bytes");
    check_gzip(dir, d, 0, "nothing");
    check_gzip(dir, d, 1, "one byte");
    free(d);
}

static void expect_bytes(const gm_pb *b, const unsigned char *want, size_t n, const char *what) {
    CHECK(!b->failed && b->len == n, "%s: %zu bytes, expected %zu", what, b->len, n);
    for (size_t i = 0; i < n; i++)
        CHECK(b->buf[i] == want[i], "%s: byte %zu is %02x, expected %02x", what, i, b->buf[i], want[i]);
}

static void test_protobuf(void) {
    gm_pb b;
    gm_pb_init(&b);
    gm_pb_uint(&b, 1, 300);
    gm_pb_int(&b, 2, -1);
    static const unsigned char w1[] = {0x08, 0xac, 0x02, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0x01};
    expect_bytes(&b, w1, sizeof w1, "varints");
    gm_pb_free(&b);
    gm_pb_init(&b);
    size_t m = gm_pb_begin(&b, 3);
    gm_pb_bytes(&b, 6, "abc", 3);
    size_t inner = gm_pb_begin(&b, 2);
    for (int i = 0; i < 200; i++)
        gm_pb_varint(&b, 1);
    gm_pb_end(&b, inner);
    gm_pb_end(&b, m);
    /* 3<<3|2, len 208 (0xd0 0x01); 6<<3|2, 3, "abc"; 2<<3|2, 200 (0xc8 0x01), 200 x 01 */
    CHECK(b.len == 1 + 2 + 5 + 1 + 2 + 200, "nested: %zu bytes", b.len);
    CHECK(b.buf[0] == 0x1a && b.buf[1] == 0xd0 && b.buf[2] == 0x01, "outer key/length %02x %02x %02x", b.buf[0],
          b.buf[1], b.buf[2]);
    CHECK(b.buf[3] == 0x32 && b.buf[4] == 3 && memcmp(b.buf + 5, "abc", 3) == 0, "string field");
    CHECK(b.buf[8] == 0x12 && b.buf[9] == 0xc8 && b.buf[10] == 0x01 && b.buf[11] == 1 && b.buf[210] == 1,
          "packed field");
    gm_pb_free(&b);
}

static void test_scale(void) {
    int64_t c, s;
    gm_pprof_scale(1, 524288, 524288, &c, &s);
    double f = 1 / (1 - exp(-1.0));
    CHECK(c == (int64_t)f && s == (int64_t)(524288 * f), "scale at size = rate: %lld %lld", (long long)c,
          (long long)s);
    gm_pprof_scale(10, 640, 524288, &c, &s);
    f = 1 / (1 - exp(-64.0 / 524288));
    CHECK(c == (int64_t)(10 * f) && s == (int64_t)(640 * f), "scale of small objects: %lld %lld", (long long)c,
          (long long)s);
    gm_pprof_scale(7, 700, 1, &c, &s);
    CHECK(c == 7 && s == 700, "rate 1 is exact");
    gm_pprof_scale(0, 0, 524288, &c, &s);
    CHECK(c == 0 && s == 0, "empty bucket");
}


static char child_env[1024], child_arg[64];
static void exec_self(void *unused) {
    (void)unused;
    char *argv[] = {self, child_arg, NULL};
    char *eq = strchr(child_env, '=');
    *eq = 0;
    setenv(child_env, eq + 1, 1);
    execv(self, argv);
    _exit(127);
}

static void run_self(const char *env, const char *arg, gm_child *c) {
    snprintf(child_env, sizeof child_env, "%s", env);
    snprintf(child_arg, sizeof child_arg, "%s", arg);
    CHECK(gm_test_run_child(exec_self, NULL, c) == 0, "could not start a child");
}

static void test_settings(const char *dir) {
    static gm_child c;
    char how[64];
    const char *bad[] = {"memprofilerate=-1", "memprofilerate=abc", "memprofilerate=2000000000", "memprofilerate="};
    for (int i = 0; i < 4; i++) {
        char env[128];
        snprintf(env, sizeof env, "GOMEM_DEBUG=%s", bad[i]);
        run_self(env, "nothing", &c);
        CHECK(c.signaled && c.signo == SIGABRT, "%s: child ended with %s; stderr:\n%s", env,
              gm_child_how(&c, how, sizeof how), c.err);
        CHECK(strstr(c.err, "gomem: fatal error") && strstr(c.err, "GOMEM_DEBUG") && strstr(c.err, bad[i]) &&
                  strstr(c.err, "memprofilerate=N"),
              "%s: the message does not name the setting, the value and the form:\n%s", env, c.err);
    }
    run_self("GOMEM_HEAPPROFILE=/nonexistent-dir/heap.pb.gz", "allocate", &c);
    CHECK(c.exited && c.exit_code == 0, "unwritable GOMEM_HEAPPROFILE: child ended with %s", gm_child_how(&c, how, sizeof how));
    CHECK(strstr(c.err, "cannot write the heap profile") && strstr(c.err, "/nonexistent-dir/heap.pb.gz") &&
              strstr(c.err, "No such file"),
          "unwritable GOMEM_HEAPPROFILE: no message naming the path and the reason:\n%s", c.err);
    char env[1200], path[1100];
    snprintf(path, sizeof path, "%s/rate0.pb.gz", dir);
    snprintf(env, sizeof env, "GOMEM_HEAPPROFILE=%s", path);
    setenv("GOMEM_DEBUG", "memprofilerate=0", 1);
    run_self(env, "allocate", &c);
    unsetenv("GOMEM_DEBUG");
    CHECK(c.exited && c.exit_code == 0, "memprofilerate=0: child ended with %s:\n%s", gm_child_how(&c, how, sizeof how), c.err);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "memprofilerate=0: no profile at %s", path);
    unsigned char magic[2] = {0, 0};
    CHECK(fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b, "memprofilerate=0: not gzip");
    fclose(f);
}

int main(int argc, char **argv) {
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(len > 0, "readlink");
    self[len] = 0;
    if (argc == 2 && strcmp(argv[1], "nothing") == 0)
        return 0;
    if (argc == 2 && strcmp(argv[1], "allocate") == 0) {
        for (int i = 0; i < 100000; i++)
            gm_alloc(100);
        return 0;
    }
    char dir[] = "/tmp/gm_hpfmt_XXXXXX";
    CHECK(mkdtemp(dir), "mkdtemp");
    test_gzip(dir);
    test_protobuf();
    test_scale();
    test_settings(dir);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "rm");
    printf("ok\n");
    return 0;
}
