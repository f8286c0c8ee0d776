/* PVH boot entry.
 *
 * QEMU (microvm, q35), Firecracker and Cloud Hypervisor load the kernel's
 * PT_LOAD segments at their physical addresses and jump to the address in the
 * XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected mode: paging off,
 * interrupts off, flat segments, %ebx = physical address of hvm_start_info.
 *
 * We zero .bss, build a boot page table that maps the first 1 GiB three
 * times (identity, direct map at DIRECT_MAP_BASE, kernel at KERNEL_VMA) with
 * 2 MiB pages, enter long mode and continue in the higher half. The real page
 * tables (W^X, all of RAM) are built later in C++ (core/mm). */

#define KERNEL_VMA 0xffffffff80000000
#define PHYS(x) ((x) - KERNEL_VMA)

#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.pvh, "a", @note
    .balign 4
    .long 4                      /* namesz: "Xen\0" */
    .long 8                      /* descsz */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .quad PHYS(pvh_start32)      /* QEMU reads a size_t here */

    .section .boot.text, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    /* First thing: the boot timestamp for --bootchart. */
    rdtsc
    movl %eax, PHYS(boot_tsc_early)
    movl %edx, PHYS(boot_tsc_early) + 4
    movl %ebx, %esi              /* hvm_start_info, survives the code below */

    /* Zero .bss (boot page tables and stacks live there), four bytes a
     * step: TCG runs a rep string instruction one element at a time, so
     * stosb over ~650 KiB was most of the time to kernel_main (kernel.ld
     * aligns both ends to 16). */
    movl $PHYS(__bss_start), %edi
    movl $PHYS(__bss_end), %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    movl %esi, PHYS(boot_start_info)

    /* PD: 512 × 2 MiB = first 1 GiB, present|writable|large. */
    movl $PHYS(boot_pd), %edi
    movl $0x83, %eax
    movl $512, %ecx
1:  movl %eax, (%edi)
    movl $0, 4(%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 1b

    /* PDPTs: low (identity and direct map share it) and high (kernel). */
    movl $PHYS(boot_pd) + 3, %eax
    movl %eax, PHYS(boot_pdpt_low)
    movl %eax, PHYS(boot_pdpt_high) + 510 * 8

    movl $PHYS(boot_pdpt_low) + 3, %eax
    movl %eax, PHYS(boot_pml4)               /* 0x0000000000000000 */
    movl %eax, PHYS(boot_pml4) + 256 * 8     /* 0xffff800000000000 */
    movl $PHYS(boot_pdpt_high) + 3, %eax
    movl %eax, PHYS(boot_pml4) + 511 * 8     /* 0xffffff8000000000 */

    /* CR4.PAE, CR3, EFER.LME|NXE, CR0.PG|WP|PE. */
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl $PHYS(boot_pml4), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | 1), %eax
    movl %eax, %cr0

    lgdt PHYS(boot_gdt_ptr)
    ljmp $0x08, $PHYS(start64_low)

    .code64
start64_low:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    movabsq $start64_high, %rax
    jmp *%rax

start64_high:
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movl %esi, %edi              /* arg: physical address of hvm_start_info */
    call kernel_main
2:  cli
    hlt
    jmp 2b

    .section .rodata
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff     /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff     /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long PHYS(boot_gdt)

    .section .bss
    .balign 4096
    .globl boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096
    /* Boot stack with a guard page below it: the guard is left unmapped
     * when the kernel's own page tables are built. */
    .globl boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_stack_guard:  .skip 4096
boot_stack_bottom: .skip 32768
boot_stack_top:

    .section .data
    .balign 8
    .globl boot_tsc_early, boot_start_info
boot_tsc_early:  .quad 0
boot_start_info: .quad 0
