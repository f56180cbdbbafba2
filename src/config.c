/*
 * config.c - GOMEM_* settings, read once at start-up.
 *
 * The names and forms mirror Go's: GOMEM_GC is GOGC (a percent or "off"),
 * GOMEM_LIMIT is GOMEMLIMIT (bytes with an optional B/KiB/MiB/GiB/TiB suffix,
 * or "off"), GOMEM_PROCS is the number of mark workers, GOMEM_DEBUG a comma
 * list of key=value (gctrace=1, gccheckmark=1, gcstoptheworld=1, stackcheck=1,
 * cleanupcheck=1, memprofilerate=N as Go's runtime.MemProfileRate).  GOMEM_STACK and
 * GOMEM_STACK_MAX choose the default goroutine stack kind and limit.
 * GOMEM_HEAPPROFILE names a file the heap profile is written to at exit.
 *
 * A value that does not parse is not guessed at: start-up stops with a
 * message naming the variable, the value and the accepted forms.
 * gm_init runs on the first call into the library (and from a constructor);
 * it is idempotent and safe to race.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc/gc.h"
#include "heap/heap.h"
#include "obs/heapprof.h"
#include "task/task.h"

gm_config gm_cfg = {
    .gc_percent = 100,
    .memory_limit = INT64_MAX,
    .procs = 1,
    .stack_kind = GM_STACK_GROWABLE,
    .stack_max = 8u << 20,
    .memprofilerate = 512 * 1024,
};
_Atomic int gm_initialized;
static gm_mutex init_lock = GM_MUTEX_INIT;


GM_NORETURN static void bad_setting(const char *name, const char *value, const char *forms) {
    gm_fatal("invalid %s=\"%s\": %s", name, value, forms);
}

/* Parses a decimal integer in [lo, hi]; false if it is not one. */
static bool parse_int(const char *s, long long lo, long long hi, long long *out) {
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Parses bytes with an optional unit (B, KiB, MiB, GiB, TiB), as GOMEMLIMIT. */
static bool parse_bytes(const char *s, long long *out) {
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    static const struct {
        const char *unit;
        int shift;
    } units[] = {{"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v > ((unsigned long long)INT64_MAX >> units[i].shift))
                return false;
            *out = (long long)(v << units[i].shift);
            return true;
        }
    }
    return false;
}

static void parse_debug(const char *value) {
    static const char forms[] =
        "expected a comma-separated list of gctrace=0|1, gccheckmark=0|1, gcstoptheworld=0|1, stackcheck=0|1, "
        "cleanupcheck=0|1, memprofilerate=N (bytes per heap profile sample, 0 to 1073741824; 0 is off)";
    const char *p = value;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (len >= sizeof item)
            bad_setting("GOMEM_DEBUG", value, forms);
        memcpy(item, p, len);
        item[len] = 0;
        char *eq = strchr(item, '=');
        if (!eq)
            bad_setting("GOMEM_DEBUG", value, forms);
        *eq = 0;
        long long v;
        bool rate = strcmp(item, "memprofilerate") == 0;
        if (!parse_int(eq + 1, 0, rate ? 1ll << 30 : 2, &v))
            bad_setting("GOMEM_DEBUG", value, forms);
        if (rate)
            gm_cfg.memprofilerate = v;
        else if (strcmp(item, "gctrace") == 0)
            gm_cfg.gctrace = v != 0;
        else if (strcmp(item, "gccheckmark") == 0)
            gm_cfg.gccheckmark = v != 0;
        else if (strcmp(item, "gcstoptheworld") == 0)
            gm_cfg.gcstoptheworld = v != 0;
        else if (strcmp(item, "stackcheck") == 0)
            gm_cfg.stackcheck = v != 0;
        else if (strcmp(item, "cleanupcheck") == 0)
            gm_cfg.cleanupcheck = v != 0;
        else if (len > 0)
            bad_setting("GOMEM_DEBUG", value, forms);
        p += len;
        if (*p == ',')
            p++;
    }
}

static void read_environment(void) {
    const char *v;
    long long n;
    gm_cfg.procs = gm_os_ncpu();
    if ((v = getenv("GOMEM_GC")) && *v) {
        if (strcmp(v, "off") == 0)
            gm_cfg.gc_percent = -1;
        else if (parse_int(v, INT_MIN, INT_MAX, &n))
            gm_cfg.gc_percent = n < 0 ? -1 : (int)n;
        else
            bad_setting("GOMEM_GC", v, "expected a percent (e.g. 100) or \"off\"");
    }
    if ((v = getenv("GOMEM_LIMIT")) && *v) {
        if (strcmp(v, "off") == 0)
            gm_cfg.memory_limit = INT64_MAX;
        else if (parse_bytes(v, &n))
            gm_cfg.memory_limit = n;
        else
            bad_setting("GOMEM_LIMIT", v,
                        "expected a byte count with an optional unit B, KiB, MiB, GiB or TiB "
                        "(e.g. 512MiB), or \"off\"");
    }
    if ((v = getenv("GOMEM_PROCS")) && *v) {
        if (parse_int(v, 1, 1024, &n))
            gm_cfg.procs = (int)n;
        else
            bad_setting("GOMEM_PROCS", v, "expected a number of mark workers from 1 to 1024");
    }
    if ((v = getenv("GOMEM_DEBUG")))
        parse_debug(v);
    if ((v = getenv("GOMEM_HEAPPROFILE")) && *v)
        gm_cfg.heapprofile = v;
    if ((v = getenv("GOMEM_STACK")) && *v) {
        if (strcmp(v, "growable") == 0)
            gm_cfg.stack_kind = GM_STACK_GROWABLE;
        else if (strcmp(v, "copy") == 0)
            gm_cfg.stack_kind = GM_STACK_COPY;
        else
            bad_setting("GOMEM_STACK", v, "expected \"growable\" or \"copy\"");
    }
    if ((v = getenv("GOMEM_STACK_MAX")) && *v) {
        if (parse_bytes(v, &n) && n >= 16384 && n <= (1ll << 30))
            gm_cfg.stack_max = (size_t)n;
        else
            bad_setting("GOMEM_STACK_MAX", v,
                        "expected a size from 16KiB to 1GiB with an optional unit B, KiB, MiB or GiB");
    }
}

/* Marking runs concurrently where the kernel allows, unless refused: by
 * GOMEM_DEBUG=gcstoptheworld=1, or under an address-space limit below
 * 1 GiB (ulimit -v), where the heap's growth while marking runs (the
 * program keeps allocating) can exhaust the space a stop-the-world cycle
 * would not. */
static const char *concurrent_mark_refused(void) {
    if (gm_cfg.gcstoptheworld)
        return "GOMEM_DEBUG=gcstoptheworld=1";
    if (gm_os_address_space_limit() < ((uint64_t)1 << 30))
        return "an address-space limit (ulimit -v) under 1 GiB";
    return NULL;
}

void gm_init(void) {
    if (atomic_load_explicit(&gm_initialized, memory_order_acquire))
        return;
    gm_mutex_lock(&init_lock);
    if (!atomic_load_explicit(&gm_initialized, memory_order_relaxed)) {
        read_environment();
        /* Bottom layer first: each layer's init may register hooks with
         * the ones below it. */
        gm_threads_init();
        gm_dirty_init(concurrent_mark_refused());
        gm_heap_init();
        gm_heapprof_init(); /* before gm_gc_init: its fork handler runs after the collector's */
        gm_gc_init();
        gm_task_init(); /* GOMEM_DEBUG=stackcheck turns on the copy-stack send check */
        atomic_store_explicit(&gm_initialized, 1, memory_order_release);
        gm_mutex_unlock(&init_lock);
        /* The thread that initialises the library is registered at once. */
        gm_thread_self();
        return;
    }
    gm_mutex_unlock(&init_lock);
}

__attribute__((constructor)) static void gm_init_at_load(void) {
    gm_init();
    /* gm_init's frames held heap addresses (the first arena's base among
     * them), which main's frames, pushed next at that depth, would cover
     * without writing: the object at the arena's base was kept alive
     * (test_gc_own_globals part 1 failed 6 runs in 300 for this alone).
     * The main thread only: a library opened with dlopen runs this on
     * the opening thread, whose stack may be too small. */
    if (gm_os_gettid() == getpid())
        gm_os_scrub_stack(12288);
}
