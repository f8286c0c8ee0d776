/* The vDSO's bytes (built by cmake/vdso.cmake from linux/vdso/), page
 * aligned in .rodata so its pages can be mapped into address spaces as
 * they are (core/vdso/vdso.cc). */
    .section .rodata.vdso, "a"
    .balign 4096
    .globl vdso_image_start
vdso_image_start:
    .incbin CAPSULE_VDSO_SO
    .globl vdso_image_end
vdso_image_end:
    .balign 4096
    .previous
    .section .note.GNU-stack, "", @progbits
