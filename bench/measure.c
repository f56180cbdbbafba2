/*
 * measure.c - runs one program as a child and reports what it cost.
 *
 * Usage: measure RESULT_FILE PROGRAM [ARGS...]
 *
 * Forks, execs PROGRAM with ARGS (standard input, output and error are
 * inherited, so the caller redirects them), waits with wait4() and writes one
 * line to RESULT_FILE:
 *
 *   measure: wall_s=W user_s=U sys_s=S cpu_s=C maxrss_kib=R status=X
 *
 * wall_s is the monotonic time from before fork to after wait4; user_s and
 * sys_s come from the child's rusage (its threads included), cpu_s is their
 * sum; maxrss_kib is the child's peak resident set (ru_maxrss, KiB); status
 * is the exit code, or 128 + signal number if a signal ended it.  measure
 * exits with the same status.  Only the child's own figures are taken, not
 * those of the benchmark script around it.
 *
 * Why a C program between bench/bench.py and the benchmark: a process's
 * ru_maxrss also counts the memory it had before its exec, which for a child
 * of the Python runner (fork or vfork) is the runner's own peak, 10-30 MiB;
 * forked from this small program instead, the benchmark's figure is its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: measure RESULT_FILE PROGRAM [ARGS...]\n");
        return 2;
    }
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "measure: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int wstatus;
    struct rusage ru;
    pid_t r;
    do
        r = wait4(pid, &wstatus, 0, &ru);
    while (r < 0 && errno == EINTR);
    double wall = now_s() - t0;
    if (r < 0) {
        perror("measure: wait4");
        return 2;
    }
    int status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    double user = tv_s(ru.ru_utime), sys = tv_s(ru.ru_stime);

    FILE *f = fopen(argv[1], "w");
    if (f == NULL) {
        fprintf(stderr, "measure: cannot write %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    fprintf(f, "measure: wall_s=%.6f user_s=%.6f sys_s=%.6f cpu_s=%.6f maxrss_kib=%ld status=%d\n",
            wall, user, sys, user + sys, ru.ru_maxrss, status);
    fclose(f);
    return status;
}
