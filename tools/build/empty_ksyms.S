/* First-pass kernel symbol table: empty (see cmake/kernel.cmake). */
    .section .ksyms, "a"
    .balign 8
    .globl ksyms_count, ksyms_table
ksyms_count: .quad 0
ksyms_table:
