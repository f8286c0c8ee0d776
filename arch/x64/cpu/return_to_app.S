/* [[noreturn]] void return_to_application(const SyscallFrame* f)
 *
 * Leaves the kernel into the application with every general register taken
 * from `f` (arch/x64/cpu/syscall_frame.h layout), RFLAGS and RSP included:
 * a new clone() child "returns" from the parent's syscall this way. The
 * frame may live on the kernel stack; it is read before iretq, which loads
 * RIP, RFLAGS (interrupts back on) and RSP atomically. */
    .section .text
    .globl return_to_application
return_to_application:
    cli
    pushq $0x10             /* SS */
    pushq 17*8(%rdi)        /* RSP */
    pushq 16*8(%rdi)        /* RFLAGS */
    pushq $0x08             /* CS */
    pushq 15*8(%rdi)        /* RIP */
    movq 0*8(%rdi), %r15
    movq 1*8(%rdi), %r14
    movq 2*8(%rdi), %r13
    movq 3*8(%rdi), %r12
    movq 4*8(%rdi), %rbp
    movq 5*8(%rdi), %rbx
    movq 6*8(%rdi), %r11
    movq 7*8(%rdi), %r10
    movq 8*8(%rdi), %r9
    movq 9*8(%rdi), %r8
    movq 10*8(%rdi), %rcx
    movq 11*8(%rdi), %rdx
    movq 12*8(%rdi), %rsi
    movq 14*8(%rdi), %rax
    movq 13*8(%rdi), %rdi
    swapgs                  /* the application's GS base; interrupts stay off
                               until iretq loads RFLAGS */
    iretq
