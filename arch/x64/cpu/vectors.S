/* The 256 interrupt and exception entry points, and the common path that
 * saves the registers into a TrapFrame (trap_frame.h), calls trap_dispatch
 * and returns with iretq.
 *
 * Every IDT gate selects an IST stack (idt.cc), so the CPU never pushes onto
 * the interrupted stack: the application may keep live data in the 128-byte
 * red zone below its RSP (docs/traps.md).
 *
 * Each stub starts exactly 16 bytes after the previous one so the IDT can
 * compute its address; .org fails the build if a stub outgrows its slot. */

    .section .text
    .balign 16
    .globl trap_stubs
trap_stubs:
    vector = 0
    .rept 256
    .org trap_stubs + vector * 16, 0xcc
    /* Error-code vectors: keep in sync with has_error_code() in trap_frame.h. */
    .if vector == 8 || vector == 10 || vector == 11 || vector == 12 || vector == 13 || vector == 14 || vector == 17 || vector == 21 || vector == 29 || vector == 30
    .else
    pushq $0                     /* dummy error code */
    .endif
    pushq $vector
    jmp trap_common
    vector = vector + 1
    .endr
    .org trap_stubs + 256 * 16, 0xcc

trap_common:
    /* GS: the kernel's per-CPU base while in the kernel, the application's
     * (ARCH_SET_GS) while it runs. Interrupted application code (a lower-half,
     * i.e. non-negative, RIP) has the application's loaded: swap. */
    cmpq $0, 16(%rsp)
    jge 2f
    /* A kernel RIP in the last three instructions of a system call's fast
     * return (syscall_entry.S: POPFQ turned interrupts on, then POP RSP,
     * SWAPGS, JMP *RCX): finish the return in the frame, so the interrupt
     * is one of the application at RCX, as if it came one instruction
     * later. 16(%rsp) RIP, 40(%rsp) RSP. */
    cmpq $syscall_exit_window, 16(%rsp)
    jb 1f
    cmpq $syscall_exit_jmp, 16(%rsp)
    ja 1f
    jne 3f
    movq %rcx, 16(%rsp)          /* at the JMP: GS is the application's */
    jmp 2f
3:  cmpq $syscall_exit_window, 16(%rsp)
    jne 4f
    pushq %rax                   /* at POP RSP: RSP points at the saved one */
    movq 48(%rsp), %rax
    movq (%rax), %rax
    movq %rax, 48(%rsp)
    popq %rax
4:  movq %rcx, 16(%rsp)          /* before SWAPGS: GS is still the kernel's, */
    jmp 1f                       /* the return path swaps to the application's */
2:  swapgs
1:  pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    /* From the application (a lower-half RIP; the exit window's cases have
     * the application's RIP by now): its RBP is no frame of ours, and a
     * backtrace from the handler must end here, not follow whatever value
     * the program keeps in RBP (-8192 sent the debug heap's backtrace into
     * an unmapped page). The frame holds the program's RBP for the return. */
    cmpq $0, 17*8(%rsp)
    jl 5f
    xorl %ebp, %ebp
5:  cld                          /* the C++ ABI expects DF clear */
    movq %rsp, %rdi              /* TrapFrame* */
    movq %rsp, %rbx              /* callee-saved: survives the call */
    andq $-16, %rsp              /* ABI stack alignment at the call */
    call trap_dispatch
    cmpq %rax, %rbx
    je 1f
    movq %rax, %rsp              /* the frame now lives on the thread's stack */
    movq %rax, %rdi
    call trap_preempt            /* switch threads or handle an application
                                    exception; returns to resume */
    jmp 2f
1:  movq %rbx, %rsp
2:  cmpq $0, 136(%rsp)           /* --stats: back to application code */
    jl 4f
    cmpb $0, g_cpu_accounting(%rip)
    je 4f
    movq %rsp, %rbx
    andq $-16, %rsp
    movl $1, %edi                /* CpuMode::User */
    call cpu_account_slow
    movq %rbx, %rsp
4:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp               /* vector and error code */
    cmpq $0, (%rsp)              /* returning to application code? */
    jl 3f
    swapgs
3:  iretq
