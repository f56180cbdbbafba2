/*
 * switch_aarch64.S - goroutine context switch for AArch64 (AAPCS64).
 *
 * A parked context is its stack pointer alone: gm_ctx_switch stores the
 * callee-saved registers (x19-x28, the frame pointer x29, the link register
 * x30, the low halves d8-d15 of v8-v15) and the floating-point control
 * register FPCR on the current stack, stores sp through save_sp, loads
 * new_sp and restores the same frame from there, returning through x30.
 * No system call, no signal mask.
 *
 * Frame at a saved sp (176 bytes, sp 16-byte aligned):
 *   [sp+0]  x19 x20  [sp+16] x21 x22  [sp+32] x23 x24  [sp+48] x25 x26
 *   [sp+64] x27 x28  [sp+80] x29 x30  [sp+96] d8 d9 ... [sp+144] d14 d15
 *   [sp+160] FPCR    [sp+168] unused
 *
 * gm_ctx_make builds such a frame at the top of a fresh stack so that the
 * first switch returns into gm_ctx_start with x19 = entry, x20 = g and the
 * creator's FPCR.  gm_ctx_start calls entry(g), which returns the
 * goroutine's {fn, arg} (in x0, x1), calls fn(arg) and then gm_task_exit;
 * it has no frame of its own.
 */
        .text

        .globl  gm_ctx_switch
        .hidden gm_ctx_switch
        .type   gm_ctx_switch, %function
        .p2align 4
gm_ctx_switch:                  /* (void **save_sp, void *new_sp) */
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x9, sp
        str     x9, [x0]
        mov     sp, x1
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .size   gm_ctx_switch, .-gm_ctx_switch

        .globl  gm_ctx_make
        .hidden gm_ctx_make
        .type   gm_ctx_make, %function
        .p2align 4
gm_ctx_make:                    /* (void *stack_top, void (*entry)(g), g) -> sp */
        and     x0, x0, #~15
        sub     x0, x0, #176
        mov     x9, x0
        mov     x10, #22        /* zero the 22 saved words */
1:      str     xzr, [x9], #8
        subs    x10, x10, #1
        b.ne    1b
        stp     x1, x2, [x0, #0]        /* x19 = entry, x20 = g */
        adr     x9, gm_ctx_start
        str     x9, [x0, #88]           /* x30 */
        mrs     x9, fpcr
        str     x9, [x0, #160]
        ret
        .size   gm_ctx_make, .-gm_ctx_make

        .type   gm_ctx_start, %function
        .p2align 4
gm_ctx_start:
        .cfi_startproc
        .cfi_undefined x30      /* outermost frame: unwinders stop here */
        mov     x29, #0
        mov     x0, x20
        blr     x19             /* entry(g) -> {fn, arg} */
        mov     x9, x0
        mov     x0, x1
        blr     x9              /* fn(arg) */
        bl      gm_task_exit
        brk     #0
        .cfi_endproc
        .size   gm_ctx_start, .-gm_ctx_start

        .globl  gm_ctx_copy
        .hidden gm_ctx_copy
        .type   gm_ctx_copy, %function
        .p2align 4
gm_ctx_copy:                    /* (void *dst, const void *src, size_t n) */
        /* Plain bytes, unseen by sanitizers: stack images hold the
         * poisoned red zones of other frames. */
        cmp     x2, #16
        b.lo    2f
1:      ldp     x9, x10, [x1], #16
        stp     x9, x10, [x0], #16
        sub     x2, x2, #16
        cmp     x2, #16
        b.hs    1b
2:      cbz     x2, 4f
3:      ldrb    w9, [x1], #1
        strb    w9, [x0], #1
        subs    x2, x2, #1
        b.ne    3b
4:      ret
        .size   gm_ctx_copy, .-gm_ctx_copy

        .section .note.GNU-stack,"",%progbits
