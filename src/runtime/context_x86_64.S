/*
 * x86-64 System V context switch.
 *
 * arbor__ctx_jump(void **save_sp, void *new_sp) pushes the callee-saved
 * registers (rbp, rbx, r12-r15) and an 8-byte slot holding MXCSR and the x87
 * control word onto the current stack, stores rsp in *save_sp, loads new_sp
 * and pops the same layout from there. Caller-saved registers need no saving:
 * the compiler already assumes a call clobbers them.
 *
 * A fresh context (arbor__ctx_make) is laid out so that the first jump
 * "returns" into arbor__ctx_start with r13 = the entry, r12 and r14 = its
 * two arguments.
 */
    .text

    .globl  arbor__ctx_jump
    .hidden arbor__ctx_jump
    .type   arbor__ctx_jump, @function
    .p2align 4
arbor__ctx_jump:
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    subq    $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15
    .cfi_adjust_cfa_offset -8
    popq    %r14
    .cfi_adjust_cfa_offset -8
    popq    %r13
    .cfi_adjust_cfa_offset -8
    popq    %r12
    .cfi_adjust_cfa_offset -8
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size   arbor__ctx_jump, .-arbor__ctx_jump

    .globl  arbor__ctx_start
    .hidden arbor__ctx_start
    .type   arbor__ctx_start, @function
    .p2align 4
arbor__ctx_start:
    .cfi_startproc
    .cfi_undefined rip      /* outermost frame: unwinders stop here */
    movq    %r12, %rdi
    movq    %r14, %rsi
    callq   *%r13
    ud2                     /* the entry function never returns */
    .cfi_endproc
    .size   arbor__ctx_start, .-arbor__ctx_start

    .section .note.GNU-stack,"",@progbits
