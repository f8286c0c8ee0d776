/* int probe_read_u64_asm(const void* addr, uint64_t* out)
 * Returns 0 and stores *addr in *out, or returns -1 if the load faults: the
 * load has an exception-table entry (extable.h) whose fixup is label 2. */
    .section .text
    .globl probe_read_u64_asm
    .type probe_read_u64_asm, @function
probe_read_u64_asm:
1:  movq (%rdi), %rax
    movq %rax, (%rsi)
    xorl %eax, %eax
    ret
2:  movl $-1, %eax
    ret
    .size probe_read_u64_asm, . - probe_read_u64_asm

    .pushsection .extable, "a"
    .balign 8
    .quad 1b, 2b
    .popsection
