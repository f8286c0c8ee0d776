/* SYSCALL entry at CPL0 (docs/syscall.md).
 *
 * SYSCALL does not switch stacks, and the application may keep live data in
 * the 128 bytes below its RSP, so the first thing is to move to the current
 * thread's kernel stack (PerCpu at %gs: +16 kernel_stack_top, +24 scratch).
 * FMASK cleared IF, so nothing can interrupt these first instructions.
 *
 * SYSRET cannot return to CPL0, so the return restores RFLAGS with popfq on
 * the kernel stack, loads the application RSP and jumps through RCX, which
 * the Linux ABI lets the kernel clobber (with R11 = RFLAGS). The "full"
 * return restores every register and uses iretq instead. */
    .section .text
    .globl syscall_entry
syscall_entry:
    swapgs                  /* the kernel's per-CPU GS; the application's
                               goes to MSR_KERNEL_GS_BASE until we return */
    movq %rsp, %gs:24
    movq %gs:16, %rsp
    pushq %gs:24            /* rsp */
    pushq %r11              /* rflags */
    pushq %rcx              /* rip */
    pushq %rax
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    movq %rsp, %rdi
    sti
    call syscall_dispatch
    cli
    testq %rax, %rax
    jnz 1f
    /* Fast return: RCX/R11 are the ABI's scratch (R11 = RFLAGS). */
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    addq $16, %rsp          /* r11, r10 slots: r10 restored below */
    movq -8(%rsp), %r10
    popq %r9
    popq %r8
    addq $8, %rsp           /* rcx */
    popq %rdx
    popq %rsi
    popq %rdi
    popq %rax
    popq %rcx               /* rip */
    popq %r11               /* rflags */
    /* Restore RFLAGS but IF, switch stack and GS with interrupts still off,
     * then STI: its one-instruction shadow makes the jump happen before any
     * interrupt can see the application's GS with a kernel RIP. */
    btrq $9, %r11
    pushq %r11
    popfq
    btsq $9, %r11           /* R11 = RFLAGS, as the Linux ABI says */
    popq %rsp               /* the application's stack */
    swapgs
    sti
    jmp *%rcx

1:  /* Full return through an iretq frame built in place of rip/rflags/rsp. */
    movq 15*8(%rsp), %rax   /* rip */
    movq 16*8(%rsp), %rbx   /* rflags */
    movq 17*8(%rsp), %rcx   /* rsp */
    /* iretq pops RIP, CS, RFLAGS, RSP, SS: build it above the frame. */
    subq $40, %rsp
    movq %rax, 0(%rsp)
    movq $0x08, 8(%rsp)
    movq %rbx, 16(%rsp)
    movq %rcx, 24(%rsp)
    movq $0x10, 32(%rsp)
    /* The saved registers now start 40 bytes higher. */
    movq 40+0*8(%rsp), %r15
    movq 40+1*8(%rsp), %r14
    movq 40+2*8(%rsp), %r13
    movq 40+3*8(%rsp), %r12
    movq 40+4*8(%rsp), %rbp
    movq 40+5*8(%rsp), %rbx
    movq 40+6*8(%rsp), %r11
    movq 40+7*8(%rsp), %r10
    movq 40+8*8(%rsp), %r9
    movq 40+9*8(%rsp), %r8
    movq 40+10*8(%rsp), %rcx
    movq 40+11*8(%rsp), %rdx
    movq 40+12*8(%rsp), %rsi
    movq 40+13*8(%rsp), %rdi
    movq 40+14*8(%rsp), %rax
    swapgs                  /* interrupts are off until iretq loads RFLAGS */
    iretq
