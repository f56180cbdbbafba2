/*
 * spill.c - the callee-saved registers, written out in plain form.
 *
 * A thread that stops for the collector (stw.c) or enters a blocking region
 * leaves the rest of its stack to be scanned from a point in its own frame.
 * A heap pointer its callers keep in a callee-saved register is then in no
 * memory the scan covers unless the register is written to the stack first.
 * setjmp does not do: glibc stores the frame pointer (rbp on x86-64), the
 * stack pointer and the return address mangled (xor with a per-process
 * guard and rotated), so a pointer held in rbp is saved unrecognisable and
 * its object is freed while in use.  gm_os_spill_registers stores every
 * callee-saved general register (and on aarch64 the low halves of v8-v15,
 * which compilers may use for spills) as it is into the caller's buffer.
 *
 * It is a separate, never-inlined function, so the registers it sees are
 * exactly the caller's at the call: those the caller itself saved in its
 * prologue are in its frame, on the stack, already.  It returns its own
 * stack pointer, which lies below all of the caller's frame: the scan must
 * start there, not at one of the caller's locals, because compilers put
 * the callee-saved register area below the locals on some processors
 * (gcc on aarch64), where a scan from a local missed the caller's caller's
 * registers saved in the prologue, and objects held in them were freed.
 */
#include "gm.h"

__attribute__((noinline)) void *gm_os_spill_registers(gm_spilled_regs *out) {
    void *sp;
#if defined(__x86_64__)
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    __asm__ volatile("mov %%rbx, 0(%0)\n\t"
                     "mov %%rbp, 8(%0)\n\t"
                     "mov %%r12, 16(%0)\n\t"
                     "mov %%r13, 24(%0)\n\t"
                     "mov %%r14, 32(%0)\n\t"
                     "mov %%r15, 40(%0)"
                     :
                     : "r"(out->w)
                     : "memory");
#elif defined(__aarch64__)
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    __asm__ volatile("stp x19, x20, [%0, #0]\n\t"
                     "stp x21, x22, [%0, #16]\n\t"
                     "stp x23, x24, [%0, #32]\n\t"
                     "stp x25, x26, [%0, #48]\n\t"
                     "stp x27, x28, [%0, #64]\n\t"
                     "stp x29, x30, [%0, #80]\n\t"
                     "stp d8, d9, [%0, #96]\n\t"
                     "stp d10, d11, [%0, #112]\n\t"
                     "stp d12, d13, [%0, #128]\n\t"
                     "stp d14, d15, [%0, #144]"
                     :
                     : "r"(out->w)
                     : "memory");
#else
    /* Elsewhere: make the compiler save every callee-saved register in
     * this function's frame, and copy the frame's words out. */
    __builtin_unwind_init();
    volatile uintptr_t frame[GM_SPILLED_WORDS];
    for (int i = 0; i < GM_SPILLED_WORDS; i++)
        out->w[i] = frame[i];
    sp = (void *)frame;
#endif
    return sp;
}
