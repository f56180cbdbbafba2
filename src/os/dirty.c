/*
 * dirty.c - which heap pages the program wrote: userfaultfd asynchronous
 * write-protect read back with the PAGEMAP_SCAN ioctl (Linux 6.7 and later).
 *
 * A userfaultfd opened with UFFD_USER_MODE_ONLY (no privilege needed) and
 * the features WP_ASYNC and WP_UNPOPULATED lets a range be registered for
 * write-protect once: afterwards the kernel resolves a write to a protected
 * page by itself (the writer takes a minor fault, no thread of ours is
 * involved) and marks the page written; pages never touched count as
 * protected.  PAGEMAP_SCAN on /proc/self/pagemap with PM_SCAN_WP_MATCHING
 * reports the written pages of a range and write-protects them again, in one
 * call.  Writes by the kernel (read() into the heap) are seen the same way.
 * A reserved PROT_NONE range keeps its registration when parts of it are
 * later made writable with mprotect, so an arena is registered once, when
 * it is reserved.
 *
 * gm_dirty_init decides once whether the kernel can do all of it (and
 * proves it on a scratch page: write, scan, see it written); if not, the
 * collector marks with the world stopped.  Debian's headers may be older
 * than the kernel, so the kernel's structures are written out here.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gm.h"

/* userfaultfd (include/uapi/linux/userfaultfd.h) */
#define GM_UFFD_USER_MODE_ONLY 1
#define GM_UFFD_API 0xAAull
#define GM_UFFD_FEATURE_WP_UNPOPULATED (1ull << 13)
#define GM_UFFD_FEATURE_WP_ASYNC (1ull << 15)
#define GM_UFFDIO_REGISTER_MODE_WP (1ull << 1)
#define GM_UFFDIO_WRITEPROTECT_MODE_DONTWAKE (1ull << 1)

struct gm_uffdio_api {
    uint64_t api, features, ioctls;
};
struct gm_uffdio_register {
    uint64_t start, len, mode, ioctls;
};
#define GM_UFFDIO_API _IOWR(0xAA, 0x3F, struct gm_uffdio_api)
struct gm_uffdio_writeprotect {
    uint64_t start, len, mode;
};
#define GM_UFFDIO_REGISTER _IOWR(0xAA, 0x00, struct gm_uffdio_register)
#define GM_UFFDIO_WRITEPROTECT _IOWR(0xAA, 0x06, struct gm_uffdio_writeprotect)

/* PAGEMAP_SCAN (include/uapi/linux/fs.h) */
#define GM_PM_SCAN_WP_MATCHING (1ull << 0)
#define GM_PM_SCAN_CHECK_WPASYNC (1ull << 1)
#define GM_PAGE_IS_WRITTEN (1ull << 1)

struct gm_page_region {
    uint64_t start, end, categories;
};
struct gm_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define GM_PAGEMAP_SCAN _IOWR('f', 16, struct gm_pm_scan_arg)

static int uffd = -1, pagemap = -1;
static bool available;
static const char *why_not = "not checked";

bool gm_dirty_available(void) {
    return available;
}

const char *gm_dirty_unavailable_reason(void) {
    return why_not;
}

bool gm_dirty_register(void *p, size_t size) {
    if (!available)
        return false;
    struct gm_uffdio_register reg = {(uint64_t)(uintptr_t)p, size, GM_UFFDIO_REGISTER_MODE_WP, 0};
    return ioctl(uffd, GM_UFFDIO_REGISTER, &reg) == 0;
}

/* Both calls walk the page tables holding the address space's lock for
 * reading; over hundreds of MiB in one call they kept a thread that grows
 * the heap (mprotect takes it for writing) waiting 10 ms.  So they go in
 * steps of CALL_STEP. */
#define CALL_STEP ((uintptr_t)16 << 20)

void gm_dirty_release(uintptr_t lo, uintptr_t hi) {
    /* Mode 0 removes the protection; DONTWAKE: nobody waits on an
     * asynchronous fault. */
    for (uintptr_t at = lo; at < hi;) {
        uintptr_t end = hi - at > CALL_STEP ? at + CALL_STEP : hi;
        struct gm_uffdio_writeprotect wp = {at, end - at, GM_UFFDIO_WRITEPROTECT_MODE_DONTWAKE};
        if (ioctl(uffd, GM_UFFDIO_WRITEPROTECT, &wp) != 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            /* Harmless to stop here: pages left protected cost a fault each. */
            gm_print("gomem: unprotecting [%p, %p) failed (errno %d); writes there take a fault until the next "
                     "cycle\n", (void *)at, (void *)hi, errno);
            return;
        }
        at = end;
    }
}

/* One PAGEMAP_SCAN call over [lo, hi): written pages, re-protected. */
static long scan_once(uintptr_t lo, uintptr_t hi, struct gm_page_region *vec, size_t n, uintptr_t *walk_end,
                      bool reprotect) {
    struct gm_pm_scan_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.size = sizeof arg;
    arg.flags = (reprotect ? GM_PM_SCAN_WP_MATCHING : 0) | GM_PM_SCAN_CHECK_WPASYNC;
    arg.start = lo;
    arg.end = hi;
    arg.vec = (uint64_t)(uintptr_t)vec;
    arg.vec_len = n;
    arg.category_mask = GM_PAGE_IS_WRITTEN;
    arg.return_mask = GM_PAGE_IS_WRITTEN;
    long r = ioctl(pagemap, GM_PAGEMAP_SCAN, &arg);
    *walk_end = (uintptr_t)arg.walk_end;
    return r;
}

#define SCAN_VEC 256

uint64_t gm_dirty_collect(uintptr_t lo, uintptr_t hi, bool reprotect,
                          void (*fn)(uintptr_t lo, uintptr_t hi, void *ctx), void *ctx) {
    struct gm_page_region vec[SCAN_VEC];
    uint64_t bytes = 0;
    while (lo < hi) {
        uintptr_t step_end = hi - lo > CALL_STEP ? lo + CALL_STEP : hi;
        uintptr_t walk_end = step_end;
        long n = scan_once(lo, step_end, vec, SCAN_VEC, &walk_end, reprotect);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            gm_fatal("PAGEMAP_SCAN of [%p, %p) failed (errno %d): the collector cannot see which pages "
                     "were written (set GOMEM_DEBUG=gcstoptheworld=1 to mark with the world stopped)",
                     (void *)lo, (void *)hi, errno);
        }
        for (long i = 0; i < n; i++) {
            bytes += vec[i].end - vec[i].start;
            if (fn)
                fn((uintptr_t)vec[i].start, (uintptr_t)vec[i].end, ctx);
        }
        if (walk_end <= lo)
            break;
        lo = walk_end;
    }
    return bytes;
}

/* Proves the mechanism on one scratch page: registered, first scan resets,
 * a write is then reported, a second scan reports nothing. */
static bool self_test(void) {
    size_t page = gm_os_page_size();
    char *p = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    bool ok = false;
    struct gm_uffdio_register reg = {(uint64_t)(uintptr_t)p, page, GM_UFFDIO_REGISTER_MODE_WP, 0};
    if (ioctl(uffd, GM_UFFDIO_REGISTER, &reg) == 0 && mprotect(p, page, PROT_READ | PROT_WRITE) == 0) {
        uintptr_t lo = (uintptr_t)p, hi = lo + page;
        gm_dirty_collect(lo, hi, true, NULL, NULL);
        uint64_t before = gm_dirty_collect(lo, hi, true, NULL, NULL);
        *(volatile char *)p = 1;
        uint64_t seen = gm_dirty_collect(lo, hi, false, NULL, NULL); /* reported, kept written */
        uint64_t written = gm_dirty_collect(lo, hi, true, NULL, NULL);
        uint64_t after = gm_dirty_collect(lo, hi, true, NULL, NULL);
        ok = before == 0 && seen == page && written == page && after == 0;
        if (!ok)
            why_not = "the kernel's write tracking failed its self-test";
    } else {
        why_not = "userfaultfd write-protect registration failed";
    }
    munmap(p, page);
    return ok;
}

void gm_dirty_forked_child(void) {
    if (!available)
        return;
    /* The userfaultfd and the pagemap file stay bound to the parent's
     * address space: here they would read and re-protect the parent's
     * pages (hiding its writes from its own collector) and never see the
     * child's, whose arenas lost their registration in the fork.  The
     * child marks with the world stopped. */
    close(uffd);
    close(pagemap);
    uffd = pagemap = -1;
    available = false;
    why_not = "a forked child (the parent's write tracking does not follow it)";
}

void gm_dirty_init(const char *refused) {
    if (refused) {
        why_not = refused;
        return;
    }
    if (gm_os_page_size() > GM_PAGE_SIZE) {
        /* Large objects start and end on GM_PAGE_SIZE boundaries; tracking
         * by bigger pages would re-protect part of the next span. */
        why_not = "the system's pages are larger than the heap's 8 KiB pages";
        return;
    }
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | GM_UFFD_USER_MODE_ONLY);
    if (uffd < 0) {
        why_not = "userfaultfd is not available";
        return;
    }
    struct gm_uffdio_api api = {GM_UFFD_API, GM_UFFD_FEATURE_WP_ASYNC | GM_UFFD_FEATURE_WP_UNPOPULATED, 0};
    if (ioctl(uffd, GM_UFFDIO_API, &api) != 0) {
        why_not = "userfaultfd lacks asynchronous write-protect (Linux 6.7 or later)";
        goto fail;
    }
    pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pagemap < 0) {
        why_not = "/proc/self/pagemap cannot be opened";
        goto fail;
    }
    available = true; /* for the self-test's calls */
    if (self_test())
        return;
    available = false;
fail:
    if (pagemap >= 0)
        close(pagemap);
    close(uffd);
    uffd = pagemap = -1;
    if (!strcmp(why_not, "not checked"))
        why_not = "unknown";
}
