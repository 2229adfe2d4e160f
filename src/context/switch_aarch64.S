// SPDX-License-Identifier: MIT
//
// Context switch for AArch64 (AAPCS64).
//
// void cio__ctx_switch(cio__ctx *from, cio__ctx *to)
//   Saves x19-x28, the frame pointer x29, the link register x30, the low
//   halves d8-d15 of v8-v15 (callee-saved by the ABI) and FPCR (rounding
//   mode and flush-to-zero are thread state a task must keep), stores sp in
//   from->sp, loads to->sp and restores the same set.  x29/x30 sit at the top
//   of the frame, so a frame-pointer unwinder walks a saved context.
//
// void cio__ctx_trampoline(void)
//   The first return address of a fresh stack: calls the entry kept in x19.

        .text
        .globl  cio__ctx_switch
        .hidden cio__ctx_switch
        .type   cio__ctx_switch, %function
        .p2align 4
cio__ctx_switch:
        sub     sp, sp, #176
        stp     x29, x30, [sp, #160]
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     d8,  d9,  [sp, #80]
        stp     d10, d11, [sp, #96]
        stp     d12, d13, [sp, #112]
        stp     d14, d15, [sp, #128]
        mrs     x9, fpcr
        str     x9, [sp, #144]
        mov     x9, sp
        str     x9, [x0]
        ldr     x9, [x1]
        mov     sp, x9
        ldr     x9, [sp, #144]
        msr     fpcr, x9
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     d8,  d9,  [sp, #80]
        ldp     d10, d11, [sp, #96]
        ldp     d12, d13, [sp, #112]
        ldp     d14, d15, [sp, #128]
        ldp     x29, x30, [sp, #160]
        add     sp, sp, #176
        ret
        .size   cio__ctx_switch, .-cio__ctx_switch

        .globl  cio__ctx_trampoline
        .hidden cio__ctx_trampoline
        .type   cio__ctx_trampoline, %function
        .p2align 4
cio__ctx_trampoline:
        mov     x29, #0
        mov     x30, #0
        blr     x19
        brk     #0
        .size   cio__ctx_trampoline, .-cio__ctx_trampoline

        .section .note.GNU-stack,"",%progbits
