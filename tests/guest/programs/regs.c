/* The syscall ABI: every register but RAX (result), RCX and R11 survives a
 * system call, and so do the vector registers and the flags the program
 * owns (DF clear, the arithmetic flags are not preserved by Linux either). */
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "check.h"

uint64_t g_regs_in[13], g_regs_out[13], g_xin, g_xout;

static int one_call(long nr) {
  /* Load a pattern into every general register the kernel must preserve,
   * make the call, and store them back. */
  uint64_t* in = g_regs_in;
  uint64_t* out = g_regs_out;
  for (int i = 0; i < 13; ++i) in[i] = 0x1111111111111111ull * (uint64_t)(i + 1) ^ (uint64_t)nr;
  g_xin = 0x0123456789abcdefull;
  g_xout = 0;
  __asm__ volatile(
      "push %%rbp\n\t"
      "push %%rbx\n\t"
      "lea g_regs_in(%%rip), %%rax\n\t"
      "movq g_xin(%%rip), %%xmm5\n\t"
      "mov 0(%%rax), %%rbx\n\t"
      "mov 8(%%rax), %%rdx\n\t"
      "mov 16(%%rax), %%rsi\n\t"
      "mov 24(%%rax), %%rdi\n\t"
      "mov 32(%%rax), %%r8\n\t"
      "mov 40(%%rax), %%r9\n\t"
      "mov 48(%%rax), %%r10\n\t"
      "mov 56(%%rax), %%r12\n\t"
      "mov 64(%%rax), %%r13\n\t"
      "mov 72(%%rax), %%r14\n\t"
      "mov 80(%%rax), %%r15\n\t"
      "mov 88(%%rax), %%rbp\n\t"
      "xor %%eax, %%eax\n\t" /* read(2) */
      "syscall\n\t"
      "lea g_regs_out(%%rip), %%rax\n\t"
      "mov %%rbx, 0(%%rax)\n\t"
      "mov %%rdx, 8(%%rax)\n\t"
      "mov %%rsi, 16(%%rax)\n\t"
      "mov %%rdi, 24(%%rax)\n\t"
      "mov %%r8, 32(%%rax)\n\t"
      "mov %%r9, 40(%%rax)\n\t"
      "mov %%r10, 48(%%rax)\n\t"
      "mov %%r12, 56(%%rax)\n\t"
      "mov %%r13, 64(%%rax)\n\t"
      "mov %%r14, 72(%%rax)\n\t"
      "mov %%r15, 80(%%rax)\n\t"
      "mov %%rbp, 88(%%rax)\n\t"
      "movq %%xmm5, g_xout(%%rip)\n\t"
      "pop %%rbx\n\t"
      "pop %%rbp\n\t"
      :
      :
      : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm5",
        "memory");
  uint64_t xin = g_xin, xout = g_xout;
  (void)nr;
  int bad = 0;
  static const char* names[12] = {"rbx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r12", "r13", "r14", "r15", "rbp"};
  for (int i = 0; i < 12; ++i)
    if (in[i] != out[i]) {
      printf("FAIL %s changed by the syscall: got %#llx want %#llx\n", names[i], (unsigned long long)out[i],
             (unsigned long long)in[i]);
      ++bad;
    }
  if (xout != xin) {
    printf("FAIL xmm5 changed by the syscall\n");
    ++bad;
  }
  return bad;
}

int main(void) {
  check_init("regs");
  /* Syscall 0 is read(fd = the pattern in RDI, a bad fd) -> -EBADF; the
   * registers must come back either way. */
  int bad = 0;
  for (int i = 0; i < 100; ++i) bad += one_call(0);
  CHECK(bad == 0, "all registers but rax, rcx, r11 survive 100 syscalls");
  return check_finish();
}
