// SPDX-License-Identifier: MIT
//
// Context switch for x86-64 System V.
//
// void cio__ctx_switch(cio__ctx *from, cio__ctx *to)
//   Saves the callee-saved registers (rbx, rbp, r12-r15), the SSE control
//   word (MXCSR) and the x87 control word on the current stack, stores the
//   stack pointer in from->sp, loads to->sp and restores the same set from
//   there.  Everything else is caller-saved, so the C caller has already
//   spilled it.  rbp is pushed first, so a saved context looks like an
//   ordinary frame to a frame-pointer unwinder (the debug task dump uses it).
//
// void cio__ctx_trampoline(void)
//   The first "return address" of a fresh stack (see cio__ctx_make): calls
//   the entry function kept in r12 with the stack 16-byte aligned.  The
//   entry never returns (a finished task switches away for good).

        .text
        .globl  cio__ctx_switch
        .hidden cio__ctx_switch
        .type   cio__ctx_switch, @function
        .p2align 4
cio__ctx_switch:
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
        movq    (%rsi), %rsp
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
        .size   cio__ctx_switch, .-cio__ctx_switch

        .globl  cio__ctx_trampoline
        .hidden cio__ctx_trampoline
        .type   cio__ctx_trampoline, @function
        .p2align 4
cio__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined rip
        xorl    %ebp, %ebp
        andq    $-16, %rsp
        callq   *%r12
        ud2
        .cfi_endproc
        .size   cio__ctx_trampoline, .-cio__ctx_trampoline

        .section .note.GNU-stack,"",@progbits
