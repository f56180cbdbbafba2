/*
 * test_gc_config.c - GOMEM_* settings at start-up.
 *
 * The test re-executes itself (/proc/self/exe) in a child with one setting
 * in the environment and reads the child's stderr:
 *
 *   - a malformed GOMEM_GC, GOMEM_LIMIT, GOMEM_PROCS, GOMEM_DEBUG (and
 *     GOMEM_STACK, GOMEM_STACK_MAX) stops start-up before main runs: the
 *     child dies of SIGABRT and its stderr has "gomem: fatal error", the
 *     variable's name, the value given and the accepted forms;
 *   - well-formed values start normally, and the child reads them back
 *     through the API (gm_set_gc_percent, gm_set_memory_limit) or sees
 *     their effect (GOMEM_GC=off: no collection while allocating 64 MiB of
 *     garbage).
 *
 * Children inherit an environment with every other GOMEM_* variable
 * removed.
 */
#include "gm_test.h"

extern char **environ;

#define MAX_ENV 512

typedef struct child_spec {
    char *argv[3];
    char *envp[MAX_ENV];
} child_spec;

static char self_path[] = "/proc/self/exe";
static char child_arg[] = "child";

/* Builds argv and envp for a child with name=value (value NULL: none). */
static void make_spec(child_spec *cs, const char *name, const char *value, char *buf, size_t bufsize) {
    cs->argv[0] = self_path;
    cs->argv[1] = child_arg;
    cs->argv[2] = NULL;
    size_t n = 0;
    for (char **e = environ; *e && n + 2 < MAX_ENV; e++)
        if (strncmp(*e, "GOMEM_", 6) != 0)
            cs->envp[n++] = *e;
    if (value) {
        snprintf(buf, bufsize, "%s=%s", name, value);
        cs->envp[n++] = buf;
    }
    cs->envp[n] = NULL;
}

static void exec_child(void *arg) {
    child_spec *cs = arg;
    gm_test_execve(cs->argv[0], cs->argv, cs->envp);
    fprintf(stderr, "execve(%s) failed: %s\n", cs->argv[0], strerror(errno));
    _exit(127);
}

static void run(const char *name, const char *value, gm_child *c) {
    static child_spec cs;
    static char buf[512];
    make_spec(&cs, name, value, buf, sizeof buf);
    CHECK(gm_test_run_child(exec_child, &cs, c) == 0, "could not start a child: %s", strerror(errno));
}

static void expect_rejected(const char *name, const char *value, const char *const *forms) {
    static gm_child c;
    char how[64];
    run(name, value, &c);
    gm_child_how(&c, how, sizeof how);
    CHECK(c.signaled && c.signo == SIGABRT, "%s=\"%s\": child ended with %s, expected SIGABRT; stderr:\n%s", name,
          value, how, c.err);
    CHECK(strstr(c.err, "gomem: fatal error") != NULL, "%s=\"%s\": no \"gomem: fatal error\" on stderr:\n%s", name,
          value, c.err);
    CHECK(strstr(c.err, name) != NULL, "%s=\"%s\": the message does not name the variable:\n%s", name, value,
          c.err);
    CHECK(strstr(c.err, value) != NULL, "%s=\"%s\": the message does not show the value:\n%s", name, value, c.err);
    for (const char *const *f = forms; *f; f++)
        CHECK(strstr(c.err, *f) != NULL, "%s=\"%s\": the message does not mention the accepted form \"%s\":\n%s",
              name, value, *f, c.err);
    CHECK(strstr(c.err, "child main") == NULL, "%s=\"%s\": main ran before the setting was rejected:\n%s", name,
          value, c.err);
}

static void expect_accepted(const char *name, const char *value, const char *want_line) {
    static gm_child c;
    char how[64];
    run(name, value, &c);
    gm_child_how(&c, how, sizeof how);
    CHECK(c.exited && c.exit_code == 0, "%s=\"%s\": child ended with %s, expected exit 0; stderr:\n%s", name, value,
          how, c.err);
    CHECK(strstr(c.err, "fatal") == NULL, "%s=\"%s\": stderr has a fatal error:\n%s", name, value, c.err);
    if (want_line)
        CHECK(strstr(c.err, want_line) != NULL, "%s=\"%s\": child did not report \"%s\"; stderr:\n%s", name, value,
              want_line, c.err);
}

/* The child: reports what the library took from the environment. */
static int child_main(void) {
    fprintf(stderr, "child main\n");
    int gcp = gm_set_gc_percent(100);
    gm_set_gc_percent(gcp);
    long long lim = (long long)gm_set_memory_limit(-1);
    fprintf(stderr, "gcpercent=%d\nlimit=%lld\n", gcp, lim);
    gm_memstats m0, m1;
    gm_read_memstats(&m0);
    for (int i = 0; i < 64 * 16; i++) {
        char *p = gm_alloc(64 * 1024);
        if (!p)
            return 3;
        p[0] = 1;
    }
    gm_read_memstats(&m1);
    fprintf(stderr, "cycles=%u\n", m1.num_gc - m0.num_gc);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return child_main();

    static const char *const gc_forms[] = {"percent", "\"off\"", NULL};
    static const char *const limit_forms[] = {"B", "KiB", "MiB", "GiB", "TiB", "\"off\"", NULL};
    static const char *const procs_forms[] = {"1", "1024", NULL};
    static const char *const debug_forms[] = {"gctrace", "gccheckmark", NULL};
    static const char *const stack_forms[] = {"growable", "copy", NULL};
    static const char *const stackmax_forms[] = {"KiB", "GiB", NULL};

    static const char *const bad_gc[] = {"abc", "100x", "1e3", "10%", "offf", "0x10", NULL};
    static const char *const bad_limit[] = {"12XB", "-5", "5 MiB", "1.5GiB", "99999999999999999999",
                                            "16777216TiB", "MiB", "64kib", NULL};
    static const char *const bad_procs[] = {"0", "-1", "two", "1025", "4x", NULL};
    static const char *const bad_debug[] = {"gctrace", "gctrace=yes", "bogus=1", "gctrace=1,bogus=1", "gctrace=3",
                                            NULL};
    int n = 0;
    for (const char *const *v = bad_gc; *v; v++, n++)
        expect_rejected("GOMEM_GC", *v, gc_forms);
    for (const char *const *v = bad_limit; *v; v++, n++)
        expect_rejected("GOMEM_LIMIT", *v, limit_forms);
    for (const char *const *v = bad_procs; *v; v++, n++)
        expect_rejected("GOMEM_PROCS", *v, procs_forms);
    for (const char *const *v = bad_debug; *v; v++, n++)
        expect_rejected("GOMEM_DEBUG", *v, debug_forms);
    expect_rejected("GOMEM_STACK", "huge", stack_forms);
    expect_rejected("GOMEM_STACK_MAX", "1KiB", stackmax_forms);
    n += 2;
    printf("  %d malformed values stop start-up with a message naming the variable and the forms\n", n);

    expect_accepted("GOMEM_GC", NULL, "gcpercent=100");
    expect_accepted("GOMEM_GC", "50", "gcpercent=50");
    expect_accepted("GOMEM_GC", "250", "gcpercent=250");
    expect_accepted("GOMEM_GC", "off", "cycles=0");
    expect_accepted("GOMEM_GC", "off", "gcpercent=-1");
    expect_accepted("GOMEM_GC", "-1", "gcpercent=-1");
    expect_accepted("GOMEM_LIMIT", NULL, "limit=9223372036854775807");
    expect_accepted("GOMEM_LIMIT", "512MiB", "limit=536870912");
    expect_accepted("GOMEM_LIMIT", "1GiB", "limit=1073741824");
    expect_accepted("GOMEM_LIMIT", "1TiB", "limit=1099511627776");
    expect_accepted("GOMEM_LIMIT", "64KiB", "limit=65536");
    expect_accepted("GOMEM_LIMIT", "1048576", "limit=1048576");
    expect_accepted("GOMEM_LIMIT", "4096B", "limit=4096");
    expect_accepted("GOMEM_LIMIT", "off", "limit=9223372036854775807");
    expect_accepted("GOMEM_PROCS", "1", NULL);
    expect_accepted("GOMEM_PROCS", "3", NULL);
    expect_accepted("GOMEM_PROCS", "1024", NULL);
    expect_accepted("GOMEM_DEBUG", "gctrace=0", NULL);
    expect_accepted("GOMEM_DEBUG", "gccheckmark=0,gctrace=0", NULL);
    expect_accepted("GOMEM_STACK", "copy", NULL);
    expect_accepted("GOMEM_STACK_MAX", "64KiB", NULL);
    printf("  well-formed values start and take effect\n");
    printf("test_gc_config: ok\n");
    return 0;
}
