/*
 * pprof_tool.h - running `go tool pprof` on the profiles the heap profile
 * tests write, and reading its -top output.
 *
 *   pprof_setup()          finds `go` (the test exits 77, which CTest
 *                          counts as skipped, if it is absent) and points
 *                          HOME, GOCACHE, GOPATH and PPROF_TMPDIR at a
 *                          fresh temporary folder, GOTOOLCHAIN=local and
 *                          GOFLAGS empty, so pprof runs offline and writes
 *                          nowhere else.  Returns that folder.
 *   pprof_cleanup()        removes it.
 *   pprof_run(args, out)   runs `go tool pprof ARGS` with stderr folded
 *                          into stdout; returns its exit status.
 *   pprof_top(...)         runs -top for one sample index with bytes as
 *                          plain numbers and parses the rows.
 *   pprof_top_flat(t, fn)  the flat value of function fn (0 if absent).
 *   pprof_write(path)      gm_write_heap_profile into a new file.
 */
#ifndef PPROF_TOOL_H
#define PPROF_TOOL_H

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gm_test.h"

static char pprof_dir[256];

static inline const char *pprof_setup(void) {
    if (system("command -v go >/dev/null 2>&1") != 0) {
        printf("SKIP: `go` is not installed (golang-go), so `go tool pprof` cannot read the profiles\n");
        exit(77);
    }
    snprintf(pprof_dir, sizeof pprof_dir, "/tmp/gm_pprof_XXXXXX");
    CHECK(mkdtemp(pprof_dir) != NULL, "mkdtemp: %s", strerror(errno));
    char sub[512];
    const char *names[] = {"home", "gocache", "gopath", "pproftmp"};
    const char *vars[] = {"HOME", "GOCACHE", "GOPATH", "PPROF_TMPDIR"};
    for (int i = 0; i < 4; i++) {
        snprintf(sub, sizeof sub, "%s/%s", pprof_dir, names[i]);
        CHECK(mkdir(sub, 0700) == 0, "mkdir %s: %s", sub, strerror(errno));
        setenv(vars[i], sub, 1);
    }
    setenv("GOTOOLCHAIN", "local", 1);
    setenv("GOFLAGS", "", 1);
    setenv("GO111MODULE", "off", 1);
    unsetenv("PPROF_BINARY_PATH");
    return pprof_dir;
}

static inline void pprof_cleanup(void) {
    if (!pprof_dir[0])
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pprof_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", pprof_dir);
}

/* Runs go tool pprof in the temporary folder (so no go.mod around is
 * seen); out gets up to cap-1 bytes of its output.  Returns the exit
 * status (-1 if it could not run). */
static inline int pprof_run(const char *args, char *out, size_t cap) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && go tool pprof %s 2>&1", pprof_dir, args);
    fflush(NULL);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL, "popen(%s): %s", cmd, strerror(errno));
    size_t n = 0, r;
    char sink[4096];
    while ((r = fread(n + 1 < cap ? out + n : sink, 1, n + 1 < cap ? cap - 1 - n : sizeof sink, f)) > 0)
        if (n + 1 < cap)
            n += r;
    out[n] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define PPROF_TOP_MAX 256
typedef struct pprof_top_row {
    double flat, cum;
    char name[160];
} pprof_top_row;
typedef struct pprof_top_t {
    pprof_top_row rows[PPROF_TOP_MAX];
    int n;
    double total; /* "of N total" */
    char text[65536];
} pprof_top_t;

/* `go tool pprof -top -unit=B -sample_index=INDEX BINARY PROFILE`. */
static inline void pprof_top(pprof_top_t *t, const char *index, const char *binary, const char *profile) {
    char args[2048];
    snprintf(args, sizeof args, "-top -unit=B -nodefraction=0 -nodecount=%d -sample_index=%s '%s' '%s'", PPROF_TOP_MAX, index,
             binary, profile);
    int rc = pprof_run(args, t->text, sizeof t->text);
    CHECK(rc == 0, "go tool pprof %s failed with status %d:\n%s", args, rc, t->text);
    t->n = 0;
    t->total = -1;
    bool table = false;
    for (const char *at = t->text; at && *at;) {
        const char *next = strchr(at, '\n');
        char line[1024];
        size_t len = next ? (size_t)(next - at) : strlen(at);
        if (len >= sizeof line)
            len = sizeof line - 1;
        memcpy(line, at, len);
        line[len] = 0;
        at = next ? next + 1 : NULL;
        const char *of = strstr(line, "% of ");
        if (of && strstr(line, "total"))
            t->total = strtod(of + 5, NULL);
        if (strstr(line, "flat%") && strstr(line, "cum%")) {
            table = true;
        } else if (table && t->n < PPROF_TOP_MAX) {
            /* flat flat% sum% cum cum% name */
            char *p = line, *tok[5];
            int k = 0;
            for (; k < 5; k++) {
                while (*p == ' ')
                    p++;
                if (!*p)
                    break;
                tok[k] = p;
                while (*p && *p != ' ')
                    p++;
                if (*p)
                    *p++ = 0;
            }
            while (*p == ' ')
                p++;
            if (k == 5 && *p) {
                pprof_top_row *r = &t->rows[t->n++];
                r->flat = strtod(tok[0], NULL);
                r->cum = strtod(tok[3], NULL);
                size_t len = strlen(p);
                if (len >= sizeof r->name)
                    len = sizeof r->name - 1;
                memcpy(r->name, p, len);
                r->name[len] = 0;
            }
        }
    }
    CHECK(t->total >= 0, "no total in the output of go tool pprof %s:\n%s", args, t->text);
}

static inline double pprof_top_flat(const pprof_top_t *t, const char *fn) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].name, fn) == 0)
            return t->rows[i].flat;
    return 0;
}

static inline void pprof_write(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    CHECK(gm_write_heap_profile(fd) == 0, "gm_write_heap_profile(%s): %s", path, strerror(errno));
    CHECK(close(fd) == 0, "close %s: %s", path, strerror(errno));
}

/* Re-executes the program with the environment variable name=value
 * unless it is set so already. */
static inline void pprof_reexec_with(char **argv, const char *name, const char *value) {
    const char *v = getenv(name);
    if (v && strcmp(v, value) == 0)
        return;
    setenv(name, value, 1);
    fflush(NULL);
    execv("/proc/self/exe", argv);
    CHECK(0, "re-exec with %s=%s failed: %s", name, value, strerror(errno));
}

#endif /* PPROF_TOOL_H */
