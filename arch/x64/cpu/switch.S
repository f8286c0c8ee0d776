/* Thread switch: saves the callee-saved registers on the old stack, stores
 * the old RSP, loads the new one and restores. Everything else (caller-saved
 * registers, FS base, vector state) is the caller's business: the C++ side
 * saves FS and XSAVE state, and the System V ABI makes the rest scratch.
 *
 *   Thread* arch_switch(uint64_t* save_rsp, uint64_t new_rsp, Thread* prev)
 * returns `prev` in the new thread (for finish_switch). A new thread's stack
 * is prepared so that this `ret` lands in thread_trampoline. */
    .section .text
    .globl arch_switch
arch_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    movq %rdx, %rax
    ret

    .globl thread_trampoline
thread_trampoline:
    movq %rax, %rdi          /* prev */
    xorl %ebp, %ebp          /* end of the frame-pointer chain */
    call thread_first_run    /* never returns */
    ud2
