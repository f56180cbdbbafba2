/*
 * gc_clear.h - wiping stale pointers before a collection, for the collector
 * tests.
 *
 * The collector scans stacks and registers conservatively, so a test that
 * proves an object is reclaimed must first wipe the stack below its frame
 * and the vector registers, where earlier calls may have left the object's
 * address.
 */
#ifndef GC_CLEAR_H
#define GC_CLEAR_H

#include <string.h>

#define GC_CLEAR_NOINLINE __attribute__((noinline))

/* Zeroes the vector registers: the collector's signal frame saves them on
 * the stack it scans, and memset/memcpy or vectorised code may have left
 * heap addresses in them. */
static void clear_vector_registers(void) {
#if defined(__x86_64__)
    __asm__ volatile("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
                     "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
                     "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
                     "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
                     "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\t"
                     "pxor %%xmm15, %%xmm15"
                     :
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                       "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (__builtin_cpu_supports("avx"))
        __asm__ volatile("vzeroall" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                         "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    if (__builtin_cpu_supports("avx512f"))
        __asm__ volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
                         "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
                         "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
                         "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
                         "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
                         "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
                         "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
                         "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31" ::
                             : "memory");
#endif
}

/* Zeroes 64 KiB of stack below the caller's frame, and the vector
 * registers.  On x86-64 the zeroing starts right at the stack pointer: a
 * local buffer would leave this function's own frame (return address
 * aside, sanitizers' redzones and padding, hundreds of bytes under ASan)
 * holding whatever an earlier call left there, and the next call's frame
 * (gm_gc's) covers it without writing it. */
GC_CLEAR_NOINLINE static void clear_stack(void) {
#if defined(__x86_64__)
    __asm__ volatile("lea -65536(%%rsp), %%rdi\n\t"
                     "mov $8192, %%ecx\n\t"
                     "xor %%eax, %%eax\n\t"
                     "rep stosq"
                     :
                     :
                     : "rdi", "rcx", "rax", "memory", "cc");
#else
    volatile char buf[64 * 1024];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
#endif
    clear_vector_registers();
}

#endif
