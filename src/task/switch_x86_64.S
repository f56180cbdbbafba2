/*
 * switch_x86_64.S - goroutine context switch for x86-64 (System V ABI).
 *
 * A parked context is its stack pointer alone: gm_ctx_switch pushes the
 * callee-saved registers (rbp, rbx, r12-r15) and the floating-point control
 * words (MXCSR and the x87 control word, which the ABI makes callee-saved)
 * onto the current stack, stores rsp through save_sp, loads new_sp and pops
 * the same frame from there.  Caller-saved registers need no saving: the
 * switch is a call.  No system call, no signal mask: goroutines of a thread
 * share its signal mask, as they share the thread.
 *
 * Frame at a saved sp (64 bytes, sp 16-byte aligned):
 *   [sp+0]  MXCSR (4 bytes), x87 control word (2 bytes)
 *   [sp+8]  r15  [sp+16] r14  [sp+24] r13  [sp+32] r12
 *   [sp+40] rbx  [sp+48] rbp  [sp+56] return address
 *
 * gm_ctx_make builds such a frame at the top of a fresh stack so that the
 * first switch "returns" into gm_ctx_start with r12 = entry, r13 = g and
 * the creator's control words.  gm_ctx_start calls entry(g), which returns
 * the goroutine's {fn, arg} (in rax:rdx), calls fn(arg) and then
 * gm_task_exit, with the stack aligned as the ABI wants.  It has no frame
 * of its own: fn's frame starts at the top of the stack, which keeps a
 * parked copy stack small.
 */
        .text

        .globl  gm_ctx_switch
        .hidden gm_ctx_switch
        .type   gm_ctx_switch, @function
        .p2align 4
gm_ctx_switch:                  /* (void **save_sp, void *new_sp) */
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   gm_ctx_switch, .-gm_ctx_switch

        .globl  gm_ctx_make
        .hidden gm_ctx_make
        .type   gm_ctx_make, @function
        .p2align 4
gm_ctx_make:                    /* (void *stack_top, void (*entry)(g), g) -> sp */
        .cfi_startproc
        movq    %rdi, %rax
        andq    $-16, %rax      /* top, 16-byte aligned */
        subq    $64, %rax
        stmxcsr (%rax)
        fnstcw  4(%rax)
        movq    $0, 8(%rax)     /* r15 */
        movq    $0, 16(%rax)    /* r14 */
        movq    %rdx, 24(%rax)  /* r13 = g */
        movq    %rsi, 32(%rax)  /* r12 = entry */
        movq    $0, 40(%rax)    /* rbx */
        movq    $0, 48(%rax)    /* rbp: end of frame chain */
        leaq    gm_ctx_start(%rip), %rcx
        movq    %rcx, 56(%rax)
        ret
        .cfi_endproc
        .size   gm_ctx_make, .-gm_ctx_make

        .type   gm_ctx_start, @function
        .p2align 4
gm_ctx_start:                   /* rsp is the 16-aligned top here */
        .cfi_startproc
        .cfi_undefined rip      /* outermost frame: unwinders stop here */
        movq    %r13, %rdi
        callq   *%r12           /* entry(g) -> {fn, arg} */
        movq    %rdx, %rdi
        callq   *%rax           /* fn(arg) */
        callq   gm_task_exit
        ud2
        .cfi_endproc
        .size   gm_ctx_start, .-gm_ctx_start

        .globl  gm_ctx_copy
        .hidden gm_ctx_copy
        .type   gm_ctx_copy, @function
        .p2align 4
gm_ctx_copy:                    /* (void *dst, const void *src, size_t n) */
        .cfi_startproc
        /* Plain bytes, unseen by sanitizers: stack images hold the
         * poisoned red zones of other frames. */
        movq    %rdx, %rcx
        rep movsb
        ret
        .cfi_endproc
        .size   gm_ctx_copy, .-gm_ctx_copy

        .section .note.GNU-stack,"",@progbits
