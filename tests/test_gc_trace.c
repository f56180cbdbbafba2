/*
 * test_gc_trace.c - GOMEM_DEBUG=gctrace=1 prints one line per cycle on
 * stderr in Go's format:
 *
 *   gc N @T.TTTs P%: A+B+C ms clock, D+E/F/G+H ms cpu, X->Y->Z MB,
 *   G MB goal, S MB stacks, F MB globals, W P [(forced)]
 *
 * The test re-executes itself with GOMEM_DEBUG=gctrace=1 and GOMEM_PROCS=2;
 * the child keeps 24 MiB live, allocates garbage until collections have
 * started on their own, and calls gm_gc() three times.  Every line that
 * starts with "gc " must match the format (a regular expression; extra
 * ", ..." fields after "W P" are allowed), cycle numbers must count 1, 2,
 * 3, ... and times must not go backwards, exactly the three gm_gc() cycles
 * say "(forced)", "W P" says 2, the live heap of the forced cycles is
 * about the 24 MiB kept, the goal printed is the cycle's own (Go prints the
 * goal the cycle ran against): the last forced cycle's is twice what the
 * forced cycle before it found live, and the assist CPU time (E) is a
 * number.  Without gctrace the child prints no such line.
 */
#include <regex.h>

#include "gm_test.h"

extern char **environ;

#define MAX_ENV 512

typedef struct child_spec {
    char *argv[3];
    char *envp[MAX_ENV];
} child_spec;

static char self_path[] = "/proc/self/exe";
static char child_arg[] = "child";

static void exec_child(void *arg) {
    child_spec *cs = arg;
    gm_test_execve(cs->argv[0], cs->argv, cs->envp);
    fprintf(stderr, "execve failed: %s\n", strerror(errno));
    _exit(127);
}

static void run(const char *debug, gm_child *c) {
    static child_spec cs;
    static char dbg[128], procs[] = "GOMEM_PROCS=2";
    cs.argv[0] = self_path;
    cs.argv[1] = child_arg;
    cs.argv[2] = NULL;
    size_t n = 0;
    for (char **e = environ; *e && n + 3 < MAX_ENV; e++)
        if (strncmp(*e, "GOMEM_", 6) != 0)
            cs.envp[n++] = *e;
    cs.envp[n++] = procs;
    if (debug) {
        snprintf(dbg, sizeof dbg, "GOMEM_DEBUG=%s", debug);
        cs.envp[n++] = dbg;
    }
    cs.envp[n] = NULL;
    CHECK(gm_test_run_child(exec_child, &cs, c) == 0, "could not start a child: %s", strerror(errno));
}

/* ------------------------------------------------------------- child */

#define KEEP_MB 24
static void *volatile *volatile kept;

static int child_main(void) {
    /* 24 MiB live in 24 KiB objects. */
    size_t n = (size_t)KEEP_MB * 1024 / 24;
    kept = gm_alloc(n * sizeof(void *));
    if (!kept)
        return 3;
    for (size_t i = 0; i < n; i++) {
        kept[i] = gm_alloc(24 * 1024);
        if (!kept[i])
            return 3;
    }
    /* Garbage until two cycles started on their own. */
    gm_memstats m0, m;
    gm_read_memstats(&m0);
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 1024; i++) {
            char *p = gm_alloc(16 * 1024);
            if (!p)
                return 3;
            p[0] = 1;
        }
        gm_read_memstats(&m);
        if (m.num_gc >= m0.num_gc + 2)
            break;
    }
    for (int i = 0; i < 3; i++)
        gm_gc();
    gm_read_memstats(&m);
    fprintf(stderr, "child: num_gc=%u num_forced_gc=%u\n", m.num_gc, m.num_forced_gc);
    return 0;
}

/* ------------------------------------------------------------ parent */

static const char line_re[] =
    "^gc ([0-9]+) @([0-9]+)\\.([0-9]{3})s ([0-9]+)%: "
    "([0-9]+(\\.[0-9]+)?)\\+([0-9]+(\\.[0-9]+)?)\\+([0-9]+(\\.[0-9]+)?) ms clock, "
    "([0-9]+(\\.[0-9]+)?)\\+([0-9]+(\\.[0-9]+)?)/([0-9]+(\\.[0-9]+)?)/([0-9]+(\\.[0-9]+)?)\\+([0-9]+(\\.[0-9]+)?) ms "
    "cpu, "
    "([0-9]+)->([0-9]+)->([0-9]+) MB, ([0-9]+) MB goal, ([0-9]+) MB stacks, ([0-9]+) MB globals, ([0-9]+) P"
    "(, [^()]*)?( \\(forced\\))?( \\(checkmark\\))?( \\(stw\\))?$";

/* Group numbers in line_re. */
enum { G_N = 1, G_SEC = 2, G_MSEC = 3, G_PCT = 4, G_X = 21, G_Y = 22, G_Z = 23, G_GOAL = 24, G_STACKS = 25, G_GLOBALS = 26, G_PROCS = 27,
       G_FORCED = 29, G_CHECKMARK = 30, G_STW = 31 };

static long group_long(const char *line, const regmatch_t *m, int g) {
    CHECK(m[g].rm_so >= 0, "group %d missing in: %s", g, line);
    return strtol(line + m[g].rm_so, NULL, 10);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return child_main();

    regex_t re;
    int rc = regcomp(&re, line_re, REG_EXTENDED);
    CHECK(rc == 0, "regcomp failed: %d", rc);
    CHECK(re.re_nsub == G_STW, "the expression has %zu groups", re.re_nsub);

    static gm_child c;
    char how[64];
    run("gctrace=1", &c);
    gm_child_how(&c, how, sizeof how);
    CHECK(c.exited && c.exit_code == 0, "child with gctrace=1 ended with %s; stderr:\n%s", how, c.err);

    int lines = 0, forced = 0, paced = 0;
    long last_n = 0, last_ms = -1;
    long last_forced_live = -1, last_forced_goal = -1, prev_forced_live = -1;
    long last_forced_other = 0, prev_forced_other = 0; /* stacks + globals, MB */
    char *save = NULL;
    for (char *line = strtok_r(c.err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "gc ", 3) != 0)
            continue;
        regmatch_t m[32];
        CHECK(regexec(&re, line, 32, m, 0) == 0, "gctrace line not in Go's format:\n  %s", line);
        if (lines == 0)
            printf("  e.g. %s\n", line);
        lines++;
        long n = group_long(line, m, G_N);
        CHECK(n == last_n + 1, "cycle number %ld after %ld:\n  %s", n, last_n, line);
        last_n = n;
        long ms = group_long(line, m, G_SEC) * 1000 + group_long(line, m, G_MSEC);
        CHECK(ms >= last_ms, "time went backwards (%ld ms after %ld ms):\n  %s", ms, last_ms, line);
        last_ms = ms;
        long pct = group_long(line, m, G_PCT);
        CHECK(pct >= 0 && pct <= 100, "collector CPU share %ld%%:\n  %s", pct, line);
        long x = group_long(line, m, G_X), y = group_long(line, m, G_Y), z = group_long(line, m, G_Z);
        long goal = group_long(line, m, G_GOAL);
        /* Live is what marking found, at most the heap when marking ended;
         * with concurrent marking the program allocates meanwhile, so the
         * heap at the start bounds nothing. */
        (void)x;
        CHECK(z <= y + 1, "live heap %ld MB above the heap when marking ended, %ld MB:\n  %s", z, y, line);
        CHECK(goal > 0, "goal %ld MB:\n  %s", goal, line);
        CHECK(group_long(line, m, G_PROCS) == 2, "GOMEM_PROCS=2 but the line says:\n  %s", line);
        if (m[G_FORCED].rm_so >= 0) {
            forced++;
            prev_forced_live = last_forced_live;
            prev_forced_other = last_forced_other;
            last_forced_live = z;
            last_forced_other = group_long(line, m, G_STACKS) + group_long(line, m, G_GLOBALS);
            last_forced_goal = goal;
        } else {
            paced++;
        }
    }
    CHECK(lines >= 5, "%d gctrace lines, expected at least 2 paced and 3 forced; stderr:\n%s", lines, c.err);
    CHECK(forced == 3, "%d lines say (forced) after 3 gm_gc() calls", forced);
    CHECK(paced >= 2, "%d paced cycles in the trace, expected at least 2", paced);
    CHECK(last_forced_live >= KEEP_MB - 1 && last_forced_live <= KEEP_MB + 8,
          "the last forced cycle found %ld MB live, %d MB are kept", last_forced_live, KEEP_MB);
    /* Forced cycles follow one another: the last one's goal is the one the
     * cycle before it set from what it found (GOGC=100: live + live +
     * stacks + globals; globals are megabytes under AddressSanitizer).
     * Each figure is rounded down to a MB: 3 MB of slack. */
    long want = 2 * prev_forced_live + prev_forced_other;
    CHECK(last_forced_goal >= want - 1 && last_forced_goal <= want + 3,
          "the last forced cycle's goal is %ld MB; the forced cycle before it found %ld MB live and %ld MB of "
          "stacks and globals (GOGC=100: %ld MB)",
          last_forced_goal, prev_forced_live, prev_forced_other, want);
    printf("  gctrace=1: %d lines in Go's format (%d paced, %d forced), numbered in order\n", lines, paced, forced);

    run(NULL, &c);
    gm_child_how(&c, how, sizeof how);
    CHECK(c.exited && c.exit_code == 0, "child without gctrace ended with %s; stderr:\n%s", how, c.err);
    CHECK(strstr(c.err, "\ngc ") == NULL && strncmp(c.err, "gc ", 3) != 0,
          "gctrace lines without GOMEM_DEBUG=gctrace=1:\n%s", c.err);
    run("gctrace=0", &c);
    CHECK(c.exited && c.exit_code == 0 && strstr(c.err, "\ngc ") == NULL && strncmp(c.err, "gc ", 3) != 0,
          "gctrace=0: child status 0x%x, stderr:\n%s", (unsigned)c.status, c.err);
    printf("  no trace without gctrace=1\n");
    regfree(&re);
    printf("test_gc_trace: ok\n");
    return 0;
}
