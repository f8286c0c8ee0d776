/* The faulting instructions of the copy helpers (arch/x64/mm/uaccess.cc).
 * Each has an exception-table entry (arch/x64/cpu/extable.h): a #PF that
 * demand paging cannot serve, or a #GP, resumes at the fixup with the
 * registers as the fault left them. rep movsb/stosb are restartable: on a
 * fault RCX counts the bytes not yet done [SDM Vol. 2B, REP]. */
    .section .text

/* size_t uaccess_copy(void* dst, const void* src, size_t n)
 * Returns 0, or the number of bytes not copied. */
    .globl uaccess_copy
    .type uaccess_copy, @function
uaccess_copy:
    movq %rdx, %rcx
1:  rep movsb
    xorl %eax, %eax
    ret
2:  movq %rcx, %rax
    ret
    .size uaccess_copy, . - uaccess_copy

/* size_t uaccess_clear(void* dst, size_t n)
 * Returns 0, or the number of bytes not cleared. */
    .globl uaccess_clear
    .type uaccess_clear, @function
uaccess_clear:
    movq %rsi, %rcx
    xorl %eax, %eax
3:  rep stosb
    ret
4:  movq %rcx, %rax
    ret
    .size uaccess_clear, . - uaccess_clear

/* long uaccess_strncpy(char* dst, const char* src, size_t max)
 * Copies up to and including the first NUL, at most max bytes. Returns the
 * string's length, max if no NUL was found, or -1 on a fault. */
    .globl uaccess_strncpy
    .type uaccess_strncpy, @function
uaccess_strncpy:
    xorl %eax, %eax
.Lnext:
    cmpq %rdx, %rax
    je .Ldone
5:  movb (%rsi,%rax), %cl
    movb %cl, (%rdi,%rax)
    testb %cl, %cl
    jz .Ldone
    incq %rax
    jmp .Lnext
.Ldone:
    ret
6:  movq $-1, %rax
    ret
    .size uaccess_strncpy, . - uaccess_strncpy

    .pushsection .extable, "a"
    .balign 8
    .quad 1b, 2b
    .quad 3b, 4b
    .quad 5b, 6b
    .popsection
