/*
 * fault.c - fault injection in the OS layer, for the tests.
 *
 * GOMEM_FAULT=KIND:N[,KIND:N...] makes the Nth call (counted from 1, over
 * the whole process) of one kind of OS request fail as the kernel would
 * fail it; N+ makes it and every later one fail.  Kinds:
 *
 *   reserve  address-space reservations (heap arenas): NULL, ENOMEM
 *   commit   making reserved memory read/write: false, ENOMEM
 *   alloc    anonymous memory for metadata (span, thread, arena records):
 *            NULL, ENOMEM
 *   madvise  returning idle pages to the OS: false (the pages stay)
 *   stack    goroutine stack mappings: MAP_FAILED, ENOMEM
 *
 * The setting is read once, on the first request of any kind (start-up
 * runs before main, so a test sets it in a child's environment); a
 * malformed one is a fatal error naming it.  Without the variable each
 * check is one predictable branch on a flag.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gm.h"

static const char *const kind_names[GM_FAULT_KINDS] = {"reserve", "commit", "alloc", "madvise", "stack"};

typedef struct fault_rule {
    uint64_t nth;  /* 0: never */
    bool and_after;
} fault_rule;

static fault_rule rules[GM_FAULT_KINDS];
static _Atomic uint64_t calls[GM_FAULT_KINDS];
static _Atomic int state; /* 0: not read, 1: reading, 2: off, 3: on */

static void parse(const char *spec) {
    const char *p = spec;
    while (*p) {
        const char *colon = strchr(p, ':');
        int kind = -1;
        for (int k = 0; colon && k < GM_FAULT_KINDS; k++)
            if ((size_t)(colon - p) == strlen(kind_names[k]) && strncmp(p, kind_names[k], (size_t)(colon - p)) == 0)
                kind = k;
        char *end = NULL;
        unsigned long long n = kind >= 0 ? strtoull(colon + 1, &end, 10) : 0;
        if (kind < 0 || end == colon + 1 || n == 0)
            gm_fatal("GOMEM_FAULT=\"%s\": want KIND:N[+] items separated by commas, KIND one of reserve, "
                     "commit, alloc, madvise, stack, N a call number from 1",
                     spec);
        rules[kind].nth = n;
        rules[kind].and_after = *end == '+';
        p = end + (*end == '+');
        if (*p == ',')
            p++;
        else if (*p)
            gm_fatal("GOMEM_FAULT=\"%s\": unexpected \"%s\"", spec, p);
    }
}

static bool read_setting(void) {
    int s = atomic_load_explicit(&state, memory_order_acquire);
    if (s >= 2)
        return s == 3;
    int zero = 0;
    if (atomic_compare_exchange_strong(&state, &zero, 1)) {
        const char *spec = getenv("GOMEM_FAULT");
        if (spec && *spec)
            parse(spec);
        atomic_store_explicit(&state, spec && *spec ? 3 : 2, memory_order_release);
    }
    while ((s = atomic_load_explicit(&state, memory_order_acquire)) == 1)
        ;
    return s == 3;
}

bool gm_fault(gm_fault_kind kind) {
    if (GM_LIKELY(atomic_load_explicit(&state, memory_order_relaxed) == 2))
        return false;
    if (!read_setting() || !rules[kind].nth)
        return false;
    uint64_t n = atomic_fetch_add_explicit(&calls[kind], 1, memory_order_relaxed) + 1;
    return n == rules[kind].nth || (rules[kind].and_after && n > rules[kind].nth);
}

uint64_t gm_fault_calls(gm_fault_kind kind) {
    return atomic_load_explicit(&calls[kind], memory_order_relaxed);
}
