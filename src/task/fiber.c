/*
 * fiber.c - telling the sanitizers about goroutine switches.
 *
 * ThreadSanitizer keeps a shadow call stack and a vector clock per thread; a
 * stack switch it does not know about leaves those wrong (frames that never
 * return pile up).  Its fiber API gives every goroutine its own: a fiber is
 * made with each goroutine and switched to just before gm_ctx_switch.
 * AddressSanitizer poisons the red zones of live frames; a stack reused by a
 * new goroutine, or a copy stack written back over the shared stack, still
 * carries the old frames' poison, so those bytes are unpoisoned.
 *
 * The sanitizer entry points are weak references: in a plain build they are
 * null and each hook is one predictable branch, so no build flag is needed.
 */
#include "task/task.h"

extern void *__tsan_get_current_fiber(void) __attribute__((weak));
extern void *__tsan_create_fiber(unsigned flags) __attribute__((weak));
extern void __tsan_destroy_fiber(void *fiber) __attribute__((weak));
extern void __tsan_switch_to_fiber(void *fiber, unsigned flags) __attribute__((weak));
extern void __asan_unpoison_memory_region(const volatile void *addr, size_t size)
    __attribute__((weak));

void *gm_fiber_current(void) {
    return __tsan_get_current_fiber ? __tsan_get_current_fiber() : NULL;
}

void *gm_fiber_create(void) {
    return __tsan_create_fiber ? __tsan_create_fiber(0) : NULL;
}

void gm_fiber_destroy(void *fiber) {
    if (fiber && __tsan_destroy_fiber)
        __tsan_destroy_fiber(fiber);
}

void gm_fiber_switch(void *fiber) {
    /* flags 0: the switch synchronizes, as a handoff on one thread does. */
    if (fiber && __tsan_switch_to_fiber)
        __tsan_switch_to_fiber(fiber, 0);
}

void gm_fiber_unpoison(const void *lo, size_t n) {
    if (__asan_unpoison_memory_region)
        __asan_unpoison_memory_region(lo, n);
}
