/*
 * print.c - formatted output that never allocates.
 *
 * The allocator, the collector and signal handlers must be able to report
 * errors without calling malloc or stdio (which may hold locks, or be the
 * thing that is broken).  gm_snprintf implements the small printf subset the
 * project uses, writing into a caller's buffer; gm_print and gm_fatal format
 * into a stack buffer and write(2) it to stderr in one call.  All of it is
 * async-signal-safe.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gm.h"

typedef struct outbuf {
    char *p;
    size_t n, len;
} outbuf;

static void put(outbuf *o, char c) {
    if (o->len + 1 < o->n)
        o->p[o->len] = c;
    o->len++;
}

static void put_unsigned(outbuf *o, unsigned long long v, unsigned base, int width, char pad) {
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (width-- > i)
        put(o, pad);
    while (i)
        put(o, tmp[--i]);
}

static int vformat(char *buf, size_t n, const char *fmt, va_list ap) {
    outbuf o = {buf, n, 0};
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        f++;
        char pad = ' ';
        int width = 0;
        if (*f == '0') {
            pad = '0';
            f++;
        }
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        int longs = 0;
        bool size_t_arg = false;
        while (*f == 'l') {
            longs++;
            f++;
        }
        if (*f == 'z') {
            size_t_arg = true;
            f++;
        }
        switch (*f) {
        case 'd':
        case 'i': {
            long long v = size_t_arg ? (long long)va_arg(ap, ssize_t)
                          : longs == 0 ? va_arg(ap, int)
                          : longs == 1 ? va_arg(ap, long)
                                       : va_arg(ap, long long);
            if (v < 0) {
                put(&o, '-');
                put_unsigned(&o, -(unsigned long long)v, 10, width ? width - 1 : 0, pad);
            } else {
                put_unsigned(&o, (unsigned long long)v, 10, width, pad);
            }
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = size_t_arg ? va_arg(ap, size_t)
                                   : longs == 0 ? va_arg(ap, unsigned)
                                   : longs == 1 ? va_arg(ap, unsigned long)
                                                : va_arg(ap, unsigned long long);
            put_unsigned(&o, v, *f == 'x' ? 16 : 10, width, pad);
            break;
        }
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_unsigned(&o, (uintptr_t)va_arg(ap, void *), 16, width, pad);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t len = strlen(s);
            for (int w = (int)len; w < width; w++)
                put(&o, ' ');
            while (*s)
                put(&o, *s++);
            break;
        }
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case '%':
            put(&o, '%');
            break;
        default:
            put(&o, '%');
            if (*f)
                put(&o, *f);
            else
                f--;
        }
    }
    if (o.n)
        o.p[o.len < o.n ? o.len : o.n - 1] = 0;
    return (int)o.len;
}

int gm_snprintf(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int r = vformat(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

void gm_write_stderr(const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void gm_print(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int len = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gm_write_stderr(buf, len < (int)sizeof buf ? (size_t)len : sizeof buf - 1);
}

void (*_Atomic gm_fatal_figures)(char *buf, size_t n);

/* The process's address space in use and its limit (RLIMIT_AS), in KiB
 * (limit 0: none), read without allocating. */
static void address_space(unsigned long *used_kib, unsigned long *limit_kib) {
    *used_kib = 0;
    *limit_kib = 0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        *limit_kib = (unsigned long)(rl.rlim_cur >> 10);
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char st[4096];
    ssize_t n = read(fd, st, sizeof st - 1);
    close(fd);
    if (n <= 0)
        return;
    st[n] = 0;
    const char *v = strstr(st, "VmSize:");
    if (v)
        *used_kib = strtoul(v + 7, NULL, 10);
}

/* After a fatal message: where memory stands, for out-of-memory cases
 * above all (the heap's figures come from a hook the heap sets). */
static void print_figures(void) {
    char buf[512];
    size_t len = 0;
    unsigned long used, limit;
    address_space(&used, &limit);
    len += (size_t)gm_snprintf(buf, sizeof buf, "gomem: address space %lu MiB in use", used >> 10);
    if (limit)
        len += (size_t)gm_snprintf(buf + len, sizeof buf - len, " of a %lu MiB limit (ulimit -v)", limit >> 10);
    void (*heap)(char *, size_t) = atomic_load(&gm_fatal_figures);
    if (heap && len + 2 < sizeof buf) {
        len += (size_t)gm_snprintf(buf + len, sizeof buf - len, "; ");
        heap(buf + len, sizeof buf - len);
        len += strlen(buf + len);
    }
    if (len + 1 >= sizeof buf)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    gm_write_stderr(buf, len);
}

void gm_fatal(const char *fmt, ...) {
    char buf[1024];
    size_t prefix = (size_t)gm_snprintf(buf, sizeof buf, "gomem: fatal error: ");
    va_list ap;
    va_start(ap, fmt);
    int len = vformat(buf + prefix, sizeof buf - prefix - 1, fmt, ap);
    va_end(ap);
    size_t total = prefix + ((size_t)len < sizeof buf - prefix - 2 ? (size_t)len : sizeof buf - prefix - 2);
    buf[total++] = '\n';
    gm_write_stderr(buf, total);
    print_figures();
    abort();
}

void gm_assert_fail(const char *cond, const char *file, int line, const char *func) {
    gm_fatal("invariant violated: %s (%s:%d, in %s)", cond, file, line, func);
}
