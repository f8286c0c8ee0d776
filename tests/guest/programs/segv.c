/* segv: synchronous signals delivered to handlers with a correct ucontext,
 * which the handler inspects and modifies before resuming.
 *   SIGSEGV write to read-only (SEGV_ACCERR) repaired with mprotect, resumed
 *   SIGSEGV read of PROT_NONE, write to an unmapped page (SEGV_MAPERR) repaired with mmap
 *   SIGSEGV instruction fetch from a non-executable page, repaired
 *   SIGSEGV null read and non-canonical address, recovered with siglongjmp
 *   SIGFPE integer divide by zero: handler skips the instruction and sets RAX
 *   SIGILL ud2: handler checks/modifies general registers, XMM state restored
 *   SIGTRAP int3: RIP after the breakpoint
 * SIGBUS needs a file mapping: tests/guest/programs-mmap/mmap_files.c has it. */
#include "check.h"
#include <ucontext.h>

#define HIDDEN_LABEL(name) ".globl " #name "\n.hidden " #name "\n" #name ":\n"
extern char store_insn[], load_insn[], div_insn[], div_after[], ud2_insn[], int3_insn[],
    int3_after[], ncanon_insn[];

struct record {
  int count, sig, code, in_mask, uc_mask_has_sig;
  void *addr;
  long long rip, err, trapno;
};
static volatile struct record rec;

enum { REPAIR_MPROTECT, REPAIR_MMAP, REPAIR_EXEC, SKIP_DIV, SKIP_UD2, JUMP, CONTINUE };
static volatile int mode;
static sigjmp_buf jump_buf;
static char *fault_page;

static const uint64_t V_RBX = 0xb0b0b0b0b0b0b0b0ULL, V_R12 = 0x1212121212121212ULL,
                      V_R13 = 0x1313131313131313ULL, V_R14 = 0x1414141414141414ULL,
                      V_R15 = 0x1515151515151515ULL, V_XMM8 = 0x8888777766665555ULL,
                      NEW_R13 = 0x0123456789abcdefULL;
static volatile int regs_in_frame_ok, xmm_in_frame_ok;

static void handler(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  greg_t *g = uc->uc_mcontext.gregs;
  sigset_t cur;
  rec.count++;
  rec.sig = sig;
  rec.code = si->si_code;
  rec.addr = si->si_addr;
  rec.rip = g[REG_RIP];
  rec.err = g[REG_ERR];
  rec.trapno = g[REG_TRAPNO];
  sigprocmask(SIG_BLOCK, NULL, &cur);
  rec.in_mask = sigismember(&cur, sig);
  rec.uc_mask_has_sig = sigismember(&uc->uc_sigmask, sig);
  switch (mode) {
    case REPAIR_MPROTECT:
      mprotect(fault_page, PAGE, PROT_READ | PROT_WRITE);
      break;
    case REPAIR_MMAP:
      mmap(fault_page, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      break;
    case REPAIR_EXEC:
      mprotect(fault_page, PAGE, PROT_READ | PROT_EXEC);
      break;
    case SKIP_DIV:
      g[REG_RIP] = (greg_t)div_after;
      g[REG_RAX] = 0x1234;
      break;
    case SKIP_UD2:
      regs_in_frame_ok = (uint64_t)g[REG_RBX] == V_RBX && (uint64_t)g[REG_R12] == V_R12 &&
                         (uint64_t)g[REG_R13] == V_R13 && (uint64_t)g[REG_R14] == V_R14 &&
                         (uint64_t)g[REG_R15] == V_R15;
      xmm_in_frame_ok = uc->uc_mcontext.fpregs != NULL &&
                        uc->uc_mcontext.fpregs->_xmm[8].element[0] == (uint32_t)V_XMM8 &&
                        uc->uc_mcontext.fpregs->_xmm[8].element[1] == (uint32_t)(V_XMM8 >> 32);
      g[REG_R13] = (greg_t)NEW_R13;
      g[REG_RIP] += 2;
      __asm__ volatile("pxor %%xmm8, %%xmm8" ::: "xmm8"); /* the frame must restore it */
      break;
    case JUMP:
      siglongjmp(jump_buf, 1);
    case CONTINUE:
      break;
  }
}

static void reset(int m) {
  memset((void *)&rec, 0, sizeof rec);
  mode = m;
}

static void __attribute__((noinline)) do_store(volatile int *p) {
  __asm__ volatile(HIDDEN_LABEL(store_insn) "movl $42, (%0)" ::"r"(p) : "memory");
}
static int __attribute__((noinline)) do_load(volatile int *p) {
  int v;
  __asm__ volatile(HIDDEN_LABEL(load_insn) "movl (%1), %0" : "=r"(v) : "r"(p) : "memory");
  return v;
}

static void common_segv(const char *what, void *addr, long long rip, int code, long long err) {
  char w[160];
  snprintf(w, sizeof w, "%s: handler ran once", what);
  CHECK_EQ(rec.count, 1, w);
  snprintf(w, sizeof w, "%s: signal", what);
  CHECK_EQ(rec.sig, SIGSEGV, w);
  snprintf(w, sizeof w, "%s: si_code", what);
  CHECK_EQ(rec.code, code, w);
  snprintf(w, sizeof w, "%s: si_addr", what);
  CHECK_HEX(rec.addr, addr, w);
  snprintf(w, sizeof w, "%s: REG_RIP is the faulting instruction", what);
  CHECK_HEX(rec.rip, rip, w);
  snprintf(w, sizeof w, "%s: REG_TRAPNO (page fault)", what);
  CHECK_EQ(rec.trapno, 14, w);
  /* x86 page-fault error code as Linux reports it for user faults:
   * bit1 write, bit2 user, bit4 instruction fetch. Bit0 (present) depends
   * on whether the page was ever faulted in / how PROT_NONE is encoded, so
   * it is not checked. */
  snprintf(w, sizeof w, "%s: REG_ERR bits W|I", what);
  CHECK_HEX(rec.err & 0x12, err & 0x12, w);
  snprintf(w, sizeof w, "%s: REG_ERR user bit", what);
  CHECK_HEX(rec.err & 4, 4, w);
  snprintf(w, sizeof w, "%s: signal blocked inside its handler", what);
  CHECK_EQ(rec.in_mask, 1, w);
  snprintf(w, sizeof w, "%s: uc_sigmask is the interrupted mask", what);
  CHECK_EQ(rec.uc_mask_has_sig, 0, w);
}

static void test_segv(void) {
  fault_page = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  volatile int *p = (volatile int *)(fault_page + 0x124);

  reset(REPAIR_MPROTECT);
  do_store(p);
  common_segv("write to read-only", (void *)p, (long long)store_insn, SEGV_ACCERR, 0x3);
  CHECK_EQ(*p, 42, "write to read-only: the store completed after repair");

  mprotect(fault_page, PAGE, PROT_NONE);
  reset(REPAIR_MPROTECT);
  int v = do_load(p);
  common_segv("read of PROT_NONE", (void *)p, (long long)load_insn, SEGV_ACCERR, 0x1);
  CHECK_EQ(v, 42, "read of PROT_NONE: value after repair");

  munmap(fault_page, PAGE);
  reset(REPAIR_MMAP);
  do_store(p);
  common_segv("write to unmapped", (void *)p, (long long)store_insn, SEGV_MAPERR, 0x2);
  CHECK_EQ(*p, 42, "write to unmapped: store completed in the new page");

  /* Instruction fetch from a page without PROT_EXEC (NX). */
  mprotect(fault_page, PAGE, PROT_READ | PROT_WRITE);
  fault_page[0] = (char)0xb8; /* mov $0x2a, %eax; ret */
  fault_page[1] = 42;
  fault_page[2] = fault_page[3] = fault_page[4] = 0;
  fault_page[5] = (char)0xc3;
  reset(REPAIR_EXEC);
  int (*fn)(void) = (int (*)(void))(void *)fault_page;
  int r = fn();
  common_segv("execute non-executable page", fault_page, (long long)fault_page, SEGV_ACCERR, 0x11);
  CHECK_EQ(r, 42, "execute after repair returns");
  reset(CONTINUE);
  CHECK_EQ(fn(), 42, "executable page runs without fault");
  CHECK_EQ(rec.count, 0, "no fault on an executable page");
  munmap(fault_page, PAGE);

  /* Null read: MAPERR, si_addr 0; recovered with siglongjmp. */
  reset(JUMP);
  if (sigsetjmp(jump_buf, 1) == 0) {
    (void)do_load((volatile int *)0);
    FAILF("null read did not fault");
  }
  CHECK_EQ(rec.count, 1, "null read: handler ran");
  CHECK_EQ(rec.code, SEGV_MAPERR, "null read: si_code");
  CHECK_HEX(rec.addr, 0, "null read: si_addr");
  CHECK_HEX(rec.rip, (long long)load_insn, "null read: REG_RIP");
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK_EQ(sigismember(&cur, SIGSEGV), 0, "siglongjmp out of the handler restored the mask");

  /* A non-canonical address raises #GP: Linux gives SIGSEGV, SI_KERNEL. */
  reset(JUMP);
  if (sigsetjmp(jump_buf, 1) == 0) {
    volatile long *nc = (volatile long *)0x8000000000000000ULL;
    long x;
    __asm__ volatile(HIDDEN_LABEL(ncanon_insn) "movq (%1), %0" : "=r"(x) : "r"(nc) : "memory");
    FAILF("non-canonical read did not fault");
  }
  CHECK_EQ(rec.count, 1, "non-canonical: handler ran");
  CHECK_EQ(rec.sig, SIGSEGV, "non-canonical: signal");
  CHECK_EQ(rec.code, SI_KERNEL, "non-canonical: si_code");
  CHECK_EQ(rec.trapno, 13, "non-canonical: REG_TRAPNO (#GP)");
  CHECK_HEX(rec.rip, (long long)ncanon_insn, "non-canonical: REG_RIP");
}

static void test_fpe(void) {
  reset(SKIP_DIV);
  int q, rem, zero = 0;
  __asm__ volatile(HIDDEN_LABEL(div_insn) "idivl %[d]\n" HIDDEN_LABEL(div_after)
                   : "=a"(q), "=d"(rem)
                   : "a"(7), "d"(0), [d] "r"(zero));
  CHECK_EQ(rec.count, 1, "SIGFPE: handler ran once");
  CHECK_EQ(rec.sig, SIGFPE, "SIGFPE: signal");
  CHECK_EQ(rec.code, FPE_INTDIV, "SIGFPE: si_code");
  CHECK_HEX(rec.addr, (long long)div_insn, "SIGFPE: si_addr");
  CHECK_HEX(rec.rip, (long long)div_insn, "SIGFPE: REG_RIP");
  CHECK_EQ(rec.trapno, 0, "SIGFPE: REG_TRAPNO (#DE)");
  CHECK_EQ(q, 0x1234, "SIGFPE: RAX set by the handler took effect");
}

static void test_ill(void) {
  reset(SKIP_UD2);
  uint64_t o[6];
  __asm__ volatile(
      "movabs $0xb0b0b0b0b0b0b0b0, %%rbx\n"
      "movabs $0x1212121212121212, %%r12\n"
      "movabs $0x1313131313131313, %%r13\n"
      "movabs $0x1414141414141414, %%r14\n"
      "movabs $0x1515151515151515, %%r15\n"
      "movabs $0x8888777766665555, %%rax\n"
      "movq %%rax, %%xmm8\n" HIDDEN_LABEL(ud2_insn) "ud2\n"
      "movq %%rbx, 0(%0)\n"
      "movq %%r12, 8(%0)\n"
      "movq %%r13, 16(%0)\n"
      "movq %%r14, 24(%0)\n"
      "movq %%r15, 32(%0)\n"
      "movq %%xmm8, 40(%0)\n"
      :
      : "r"(o)
      : "rax", "rbx", "r12", "r13", "r14", "r15", "xmm8", "memory");
  CHECK_EQ(rec.count, 1, "SIGILL: handler ran once");
  CHECK_EQ(rec.sig, SIGILL, "SIGILL: signal");
  CHECK_EQ(rec.code, ILL_ILLOPN, "SIGILL: si_code");
  CHECK_HEX(rec.addr, (long long)ud2_insn, "SIGILL: si_addr");
  CHECK_HEX(rec.rip, (long long)ud2_insn, "SIGILL: REG_RIP");
  CHECK_EQ(rec.trapno, 6, "SIGILL: REG_TRAPNO (#UD)");
  CHECK(regs_in_frame_ok, "SIGILL: rbx/r12-r15 in the ucontext");
  CHECK(xmm_in_frame_ok, "SIGILL: xmm8 in uc_mcontext.fpregs");
  CHECK_HEX(o[0], V_RBX, "SIGILL: rbx preserved");
  CHECK_HEX(o[1], V_R12, "SIGILL: r12 preserved");
  CHECK_HEX(o[2], NEW_R13, "SIGILL: r13 taken from the modified ucontext");
  CHECK_HEX(o[3], V_R14, "SIGILL: r14 preserved");
  CHECK_HEX(o[4], V_R15, "SIGILL: r15 preserved");
  CHECK_HEX(o[5], V_XMM8, "SIGILL: xmm8 restored after the handler clobbered it");
}

static void test_trap(void) {
  reset(CONTINUE);
  __asm__ volatile(HIDDEN_LABEL(int3_insn) "int3\n" HIDDEN_LABEL(int3_after) ::: "memory");
  CHECK_EQ(rec.count, 1, "SIGTRAP: handler ran once");
  CHECK_EQ(rec.sig, SIGTRAP, "SIGTRAP: signal");
  CHECK_EQ(rec.code, SI_KERNEL, "SIGTRAP: si_code (Linux: SI_KERNEL for int3)");
  CHECK_HEX(rec.rip, (long long)int3_after, "SIGTRAP: REG_RIP after int3");
  CHECK_EQ(rec.trapno, 3, "SIGTRAP: REG_TRAPNO (#BP)");
}

int main(void) {
  check_init("segv");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGSEGV, SIGFPE, SIGILL, SIGTRAP};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  test_segv();
  test_fpe();
  test_ill();
  test_trap();
  return check_finish();
}
