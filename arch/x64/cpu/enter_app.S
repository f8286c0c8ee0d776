/* void enter_application(uintptr_t entry, uintptr_t sp): leaves the kernel
 * for the application's first instruction. Registers are zeroed so nothing
 * of the kernel leaks; RDX = 0 tells _start there is no atexit function
 * (x86-64 psABI 3.4.1). */
    .section .text
    .globl _ZN7capsule17enter_applicationEmm
_ZN7capsule17enter_applicationEmm:
    cli
    cmpb $0, g_cpu_accounting(%rip)   /* --stats: the program's time from here */
    je 1f
    pushq %rdi
    pushq %rsi
    subq $8, %rsp
    movl $1, %edi           /* CpuMode::User */
    call cpu_account_slow
    addq $8, %rsp
    popq %rsi
    popq %rdi
1:
    movq %rsi, %rsp
    movq %rdi, %rcx
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %edi, %edi
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    pushq $0x2              /* RFLAGS: clean, IF set below */
    popfq
    swapgs                  /* the application's GS base (0 at start) */
    sti                     /* shadow: no interrupt before the jump */
    jmp *%rcx
