/* SYSCALL entry at CPL0 (docs/syscall.md).
 *
 * SYSCALL does not switch stacks, and the application may keep live data in
 * the 128 bytes below its RSP, so the first thing is to move to the current
 * thread's kernel stack (PerCpu at %gs: +16 kernel_stack_top, +24 scratch).
 * FMASK cleared IF, so nothing can interrupt these first instructions
 * (nor, for the calls that run with interrupts off, the whole call).
 *
 * SYSRET cannot return to CPL0, so the return restores RFLAGS with popfq on
 * the kernel stack, loads the application RSP and jumps through RCX, which
 * the Linux ABI lets the kernel clobber (with R11 = RFLAGS). The "full"
 * return restores every register and uses iretq instead.
 *
 * The CFI lets a debugger unwind from the kernel into the application
 * (docs/gdb.md): while syscall_dispatch runs, the caller's registers are
 * the saved ones, its RIP the one SYSCALL put in RCX, its RSP the one saved
 * first. Before the frame is complete and after it is taken down, the
 * return address is undefined (the backtrace ends here). A signal frame
 * to gdb: the application's stack is below the kernel stack, which gdb
 * takes for a corrupt stack between two ordinary frames. The kernel keeps
 * no .eh_frame: the table goes to .debug_frame. */
    .cfi_sections .debug_frame
    .section .text.hot.syscall_entry, "ax", @progbits
    .globl syscall_entry
syscall_entry:
    .cfi_startproc simple
    .cfi_signal_frame
    .cfi_def_cfa %rsp, 8
    .cfi_undefined %rip
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
    /* The SyscallFrame: slot k at %rsp + 8k = CFA - 8(18 - k). */
    .cfi_remember_state
    .cfi_def_cfa %rsp, 18*8
    .cfi_offset %rsp, -1*8
    .cfi_offset %rip, -3*8
    .cfi_offset %rax, -4*8
    .cfi_offset %rdi, -5*8
    .cfi_offset %rsi, -6*8
    .cfi_offset %rdx, -7*8
    .cfi_offset %rcx, -8*8
    .cfi_offset %r8, -9*8
    .cfi_offset %r9, -10*8
    .cfi_offset %r10, -11*8
    .cfi_offset %r11, -12*8
    .cfi_offset %rbx, -13*8
    .cfi_offset %rbp, -14*8
    .cfi_offset %r12, -15*8
    .cfi_offset %r13, -16*8
    .cfi_offset %r14, -17*8
    .cfi_offset %r15, -18*8
    cmpb $0, g_cpu_accounting(%rip)   /* --stats: kernel time from here */
    je 7f
    movl $2, %edi           /* CpuMode::System */
    call cpu_account_slow
7:  movq %rsp, %rdi
    /* The program's RBP (saved in the frame, restored on return) is no
     * frame of ours: a backtrace from the kernel ends at syscall_dispatch
     * rather than follow whatever value the program keeps there (-8192
     * sent the debug heap's backtrace into an unmapped page). */
    xorl %ebp, %ebp
    /* Interrupts stay off: syscall_dispatch turns them on for every call
     * but the DEFINE_SYSCALL_IRQS_OFF ones (docs/syscall.md), which thus
     * save a POPFQ, a trip through QEMU's CPU loop under TCG
     * (bench/README.md). FMASK cleared DF (the C++ ABI), TF and AC. */
    call syscall_dispatch
    cli
    cmpb $0, g_cpu_accounting(%rip)   /* --stats: the program's time again */
    je 8f
    pushq %rax
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    movl $1, %edi           /* CpuMode::User */
    call cpu_account_slow
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %rax
    .cfi_adjust_cfa_offset -8
8:  .cfi_restore_state
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
    movq (%rsp), %r11       /* R11 = RFLAGS, as the Linux ABI says */
    /* POPFQ restores the application's RFLAGS, IF included: interrupts are
     * on for the last three instructions (no STI, whose shadow costs a trip
     * through QEMU's CPU loop under TCG: bench/README.md). An interrupt
     * taken in that window (syscall_exit_window .. syscall_exit_jmp) is
     * made, by trap_common (vectors.S), an interrupt of the application at
     * RCX with the application's RSP and GS: the return is finished in its
     * frame. */
    popfq
    .globl syscall_exit_window, syscall_exit_jmp
syscall_exit_window:
    popq %rsp               /* the application's stack */
    swapgs
syscall_exit_jmp:
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
    .cfi_endproc

/* --syscall-probe (syscall.cc): the bare SYSCALL round trip for bench/syscall.
 * Number 1023 (SYSCALL_PROBE_NR, unused by Linux) jumps straight back: STI
 * (FMASK cleared IF; its shadow covers the jump) and JMP through RCX, the
 * CPL0 equivalent of SYSRET, nothing saved and the stack never touched (the
 * program's red zone). RAX comes back as 1023. Any other number is a normal
 * call: R11 holds the program's RFLAGS, which the CMP here leaves alone. */
    .globl syscall_entry_probe
syscall_entry_probe:
    cmpq $1023, %rax
    jne syscall_entry
    sti
    jmp *%rcx
