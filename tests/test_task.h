/*
 * test_task.h - the small harness of the goroutine and channel tests.
 *
 * CHECK(cond, fmt, ...) stops the test with the file, line, condition and a
 * message; run_child() runs a function in a forked child and collects its
 * stderr and how it ended, for tests of fatal errors.
 */
#ifndef TEST_TASK_H
#define TEST_TASK_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gomem.h>

#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fprintf(stderr, "\n");                                                    \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* Runs fn(arg) in a child; returns its wait status, its stderr in out. */
static inline int run_child(void (*fn)(void *), void *arg, char *out, size_t outsize) {
    int p[2];
    if (pipe(p) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 2);
        fn(arg);
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < outsize && (r = read(p[0], out + n, outsize - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    char sink[256];
    while (read(p[0], sink, sizeof sink) > 0) {
    }
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static inline uint64_t test_seed(void) {
    const char *e = getenv("TEST_SEED");
    uint64_t seed = e ? strtoull(e, NULL, 0) : (uint64_t)getpid() * 2654435761u;
    fprintf(stderr, "seed %llu (TEST_SEED to repeat)\n", (unsigned long long)seed);
    return seed;
}

#endif
