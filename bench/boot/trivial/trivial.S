/* bench/boot/trivial: the smallest PVH kernel QEMU can boot, the reference
 * "a trivial PVH kernel on the same QEMU" of issue 16.
 *
 * QEMU (microvm) loads the PT_LOAD segment at its physical address and jumps
 * to the address in the XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected
 * mode with paging off. We write the line the benchmark's static hello
 * prints to COM1 (the 16550 at 0x3f8; QEMU sends a byte written to THR at
 * once), then power off as Capsule does (arch/x64/power.cc): the status as
 * text on QEMU's debug console port 0x402, then status + 1 to
 * isa-debug-exit at 0xf4, which ends QEMU with ((0 + 1) << 1) | 1 = 3.
 * No page tables, no long mode, no stack: nothing else a kernel does. */

#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.pvh, "a", @note
    .balign 4
    .long 4                      /* namesz: "Xen\0" */
    .long 8                      /* descsz */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .quad start32                /* QEMU reads a size_t here */

    .text
    .code32
    .globl start32
start32:
    cli
    movw $0x3f8, %dx
    movl $line, %esi
1:  lodsb
    testb %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  movw $0x402, %dx             /* "0\n": the exit status, as Capsule does */
    movb $'0', %al
    outb %al, %dx
    movb $'\n', %al
    outb %al, %dx
    movw $0xf4, %dx
    movl $1, %eax                /* status 0 + 1 */
    outl %eax, %dx
3:  hlt                          /* no debug-exit device: stop here */
    jmp 3b

    .section .rodata
line:
    .asciz "capsule-bench: hello, world\n"
