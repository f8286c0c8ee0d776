/* Application-processor start-up code.
 *
 * A STARTUP IPI starts an AP in real mode at CS:IP = (page << 8):0. This blob
 * is copied to AP_TRAMPOLINE_PHYS (0x8000, inside the first MiB that the
 * allocator never hands out) and runs there: real mode -> protected mode ->
 * long mode on the boot page table (boot_pml4: identity-maps the first GiB,
 * so the trampoline keeps running after paging is on, and maps the kernel),
 * then jumps to the higher-half entry with its stack and argument, which the
 * boot CPU writes into the parameter block at the end before each SIPI. */

#define TRAMP 0x8000
#define T(x) ((x) - ap_trampoline_start + TRAMP)

    .section .rodata.ap_trampoline, "a"
    .globl ap_trampoline_start, ap_trampoline_end, ap_trampoline_params
    .code16
ap_trampoline_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl T(tramp_gdt_ptr)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $T(ap32)

    .code32
ap32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $(1 << 5), %eax                 /* PAE */
    movl %eax, %cr4
    movl T(param_cr3), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax   /* LME, NXE */
    wrmsr
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16)), %eax  /* PG, WP */
    movl %eax, %cr0
    ljmpl $0x18, $T(ap64)

    .code64
ap64:
    /* Still on the identity map: hand the kernel page table, the stack and
     * the argument to ap_start64 in the higher half, which switches to them. */
    movq T(param_arg), %rdi
    movq T(param_final_cr3), %rsi
    movq T(param_stack), %rdx
    movq T(param_entry), %rax
    jmp *%rax

    .balign 8
tramp_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff   /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff   /* 0x10: data */
    .quad 0x00af9a000000ffff   /* 0x18: 64-bit code */
tramp_gdt_end:
tramp_gdt_ptr:
    .word tramp_gdt_end - tramp_gdt - 1
    .long T(tramp_gdt)

    .balign 8
ap_trampoline_params:
param_cr3:   .quad 0     /* physical, below 4 GiB: the boot page table */
param_entry: .quad 0     /* higher-half entry, void entry(void* arg) */
param_stack: .quad 0
param_arg:   .quad 0
param_final_cr3: .quad 0 /* the kernel's own page table */
ap_trampoline_end:

    /* Higher-half continuation (kernel text, mapped by both page tables). */
    .section .text
    .globl ap_start64
ap_start64:
    movq %rsi, %cr3
    movq %rdx, %rsp
    xorl %ebp, %ebp
    call ap_entry
    ud2
