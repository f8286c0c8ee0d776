/* Raw clone/clone3: the child resumes with every register of the parent
 * (RAX = 0, RSP = the new stack, vector registers copied), PARENT_SETTID /
 * CHILD_SETTID / CHILD_CLEARTID, flag validation (EINVAL/ENOSYS), clone3's
 * size rules (EINVAL/E2BIG/EFAULT), a kernel-half TLS (EPERM), a stack
 * pointer the kernel does not check, robust-list calls. */
#define _GNU_SOURCE
#include "futex_defs.h"
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "futex_defs.h"

/* long clone_probe(flags, stack, ptid, ctid, tls): the child checks that
 * r12-r15, rbx, rbp, rdi, rsi, rdx, r10, r8, r9 and xmm7 arrived unchanged
 * and RSP == stack, stores 1 (all good) or 2 in probe_result, and exits. */
volatile int probe_result;
__asm__(
    ".text\n"
    ".globl clone_probe\n"
    "clone_probe:\n"
    "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
    "  mov %rcx, %r10\n"
    "  movabs $0x1414141414141414, %r14\n"
    "  movabs $0x1515151515151515, %r15\n"
    "  movabs $0x0b0b0b0b0b0b0b0b, %rbx\n"
    "  movabs $0x0e0e0e0e0e0e0e0e, %rbp\n"
    "  movabs $0x0909090909090909, %r9\n"
    "  mov %rdi, %r12\n"
    "  mov %rsi, %r13\n"
    "  movq %r14, %xmm7\n"
    "  mov $56, %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jz 2f\n"
    "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
    "  ret\n"
    "2:\n"
    "  cmp %rsp, %r13; jne 8f\n"         /* RSP = the stack argument */
    "  cmp %rdi, %r12; jne 8f\n"         /* RDI (flags) kept */
    "  cmp %rsi, %r13; jne 8f\n"         /* RSI (stack) kept */
    "  cmp %r10, %rcx; jne 3f\n"          /* (rcx is the ABI's scratch: not compared) */
    "3:\n"
    "  movabs $0x1414141414141414, %rax; cmp %rax, %r14; jne 8f\n"
    "  movabs $0x1515151515151515, %rax; cmp %rax, %r15; jne 8f\n"
    "  movabs $0x0b0b0b0b0b0b0b0b, %rax; cmp %rax, %rbx; jne 8f\n"
    "  movabs $0x0e0e0e0e0e0e0e0e, %rax; cmp %rax, %rbp; jne 8f\n"
    "  movabs $0x0909090909090909, %rax; cmp %rax, %r9; jne 8f\n"
    "  movq %xmm7, %rax; cmp %rax, %r14; jne 8f\n"
    "  movl $1, probe_result(%rip)\n"
    "  jmp 9f\n"
    "8: movl $2, probe_result(%rip)\n"
    "9: mov $60, %eax\n"
    "  xor %edi, %edi\n"
    "  syscall\n"
    "  hlt\n");
long clone_probe(unsigned long flags, void* stack, int* ptid, int* ctid, unsigned long tls);

/* A child that touches neither stack nor TLS: stores 1 and exits. */
volatile int bare_ran;
__asm__(
    ".text\n"
    ".globl clone_bare\n"
    "clone_bare:\n"
    "  mov %rcx, %r10\n"
    "  mov $56, %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jz 2f\n"
    "  ret\n"
    "2: movl $1, bare_ran(%rip)\n"
    "  mov $60, %eax\n"
    "  xor %edi, %edi\n"
    "  syscall\n"
    "  hlt\n");
long clone_bare(unsigned long flags, void* stack, int* ptid, int* ctid, unsigned long tls);

/* The asm wrappers return -errno like the raw syscall: make it -1/errno. */
static long raw(long r) {
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return r;
}

static char stack_mem[2][65536] __attribute__((aligned(16)));

static void wait_cleared(volatile int* ctid) {
  int v;
  while ((v = *ctid) != 0) syscall(SYS_futex, ctid, FUTEX_WAIT, v, 0, 0, 0);
}

#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)

struct clone_args_v2 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

int main(void) {
  /* The register probe with PARENT_SETTID + CHILD_SETTID + CHILD_CLEARTID. */
  volatile int ptid = -1, ctid = -1;
  unsigned long fl = THREAD_FLAGS | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
  long tid = clone_probe(fl, stack_mem[0] + sizeof stack_mem[0], (int*)&ptid, (int*)&ctid, 0);
  CHECK(tid > 0);
  CHECK(tid != getpid());
  CHECK_EQ(ptid, tid);
  wait_cleared(&ctid);
  CHECK_EQ(probe_result, 1);

  /* Flag validation, as Linux. */
  CHECK_ERR(raw(clone_bare(CLONE_THREAD | CLONE_VM, stack_mem[1] + 4096, 0, 0, 0)), EINVAL);  /* THREAD w/o SIGHAND */
  CHECK_ERR(raw(clone_bare(CLONE_SIGHAND, stack_mem[1] + 4096, 0, 0, 0)), EINVAL);            /* SIGHAND w/o VM */
  CHECK_ERR(raw(clone_bare(CLONE_NEWNS | CLONE_FS, 0, 0, 0, 0)), EINVAL);
  /* A kernel-half TLS is refused (EPERM, as ARCH_SET_FS) and no thread starts. */
  bare_ran = 0;
  CHECK_ERR(raw(clone_bare(THREAD_FLAGS | CLONE_SETTLS, stack_mem[1] + 4096, 0, 0, 0xffff800000000000ull)), EPERM);
  /* The stack pointer is the program's business: an unmapped one is
   * accepted (this child never touches it). */
  volatile int ctid2 = -1;
  long t2 = clone_bare(THREAD_FLAGS | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID, (void*)0x10000000000ull, 0,
                       (int*)&ctid2, 0);
  CHECK(t2 > 0);
  wait_cleared(&ctid2);
  CHECK_EQ(bare_ran, 1);
  /* A bad PARENT_SETTID pointer is ignored (Linux does not fail the call). */
  bare_ran = 0;
  volatile int ctid3 = -1;
  long t3 = clone_bare(THREAD_FLAGS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID,
                       stack_mem[1] + 4096, (int*)0x1000, (int*)&ctid3, 0);
  CHECK(t3 > 0);
  wait_cleared(&ctid3);
  CHECK_EQ(bare_ran, 1);

  /* clone3 sizes and fields. */
  struct clone_args_v2 ca;
  memset(&ca, 0, sizeof ca);
  CHECK_ERR(syscall(SYS_clone3, &ca, 63), EINVAL);
  CHECK_ERR(syscall(SYS_clone3, (void*)0x1000, 88), EFAULT);
  char big[128];
  memset(big, 0, sizeof big);
  ca.flags = THREAD_FLAGS;
  ca.stack = (uintptr_t)stack_mem[1];
  ca.stack_size = 0;  /* stack without size */
  CHECK_ERR(syscall(SYS_clone3, &ca, 88), EINVAL);
  ca.stack_size = sizeof stack_mem[1];
  ca.exit_signal = SIGCHLD;  /* no exit signal for a thread */
  CHECK_ERR(syscall(SYS_clone3, &ca, 88), EINVAL);
  ca.exit_signal = 0;
  memcpy(big, &ca, sizeof ca);
  big[100] = 1;  /* an unknown nonzero field */
  CHECK_ERR(syscall(SYS_clone3, big, sizeof big), E2BIG);
  /* Processes (fork, vfork) come later: ENOSYS today. Not run natively. */
  if (getenv("CAPSULE_NO_FORK_CHECK") == 0 && access("/proc/self", F_OK) != 0) {
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    CHECK_ERR(syscall(SYS_clone3, &ca, 64), ENOSYS);
    CHECK_ERR(raw(clone_bare(SIGCHLD, 0, 0, 0, 0)), ENOSYS);
  }

  /* Robust lists: wrong size EINVAL; get returns what was set. */
  struct {
    void* next;
    long off;
    void* pending;
  } head = {&head, 0, 0};
  CHECK_ERR(syscall(SYS_set_robust_list, &head, 23), EINVAL);
  void* got;
  size_t len;
  CHECK_EQ(syscall(SYS_get_robust_list, 0, &got, &len), 0);
  CHECK_EQ(len, 24);
  CHECK_EQ(syscall(SYS_set_robust_list, &head, 24), 0);
  CHECK_EQ(syscall(SYS_get_robust_list, 0, &got, &len), 0);
  CHECK(got == (void*)&head);
  CHECK_ERR(syscall(SYS_get_robust_list, 0, (void*)0x1000, &len), EFAULT);
  CHECK_ERR(syscall(SYS_get_robust_list, 999999, &got, &len), ESRCH);

  /* Scheduling odds and ends. */
  /* Raw calls: musl's wrappers for these are ENOSYS stubs by design. */
  CHECK_EQ(syscall(SYS_sched_getscheduler, 0), SCHED_OTHER);
  struct sched_param sp = {0};
  CHECK_EQ(syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &sp), 0);
  CHECK_EQ(syscall(SYS_sched_getscheduler, 0), SCHED_BATCH);
  CHECK_EQ(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp), 0);
  sp.sched_priority = 10;
  errno = 0;  /* Capsule: EPERM (no real-time classes); Linux as root: allowed */
  long rt = syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, &sp);
  CHECK(rt == 0 || errno == EPERM);
  if (rt == 0) {
    sp.sched_priority = 0;
    CHECK_EQ(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp), 0);
  }
  CHECK_EQ(syscall(SYS_sched_getparam, 0, &sp), 0);
  CHECK_EQ(sp.sched_priority, 0);
  sp.sched_priority = 5;
  CHECK_ERR(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp), EINVAL);
  CHECK_ERR(syscall(SYS_sched_setscheduler, 0, 77, &sp), EINVAL);
  CHECK_EQ(syscall(SYS_sched_get_priority_max, SCHED_FIFO), 99);
  CHECK_EQ(syscall(SYS_sched_get_priority_min, SCHED_FIFO), 1);
  CHECK_EQ(syscall(SYS_sched_get_priority_max, SCHED_OTHER), 0);
  CHECK_ERR(syscall(SYS_sched_get_priority_max, 42), EINVAL);
  CHECK_ERR(syscall(SYS_sched_getparam, 999999, &sp), ESRCH);
  uint64_t mask = 0;
  CHECK_ERR(syscall(SYS_sched_getaffinity, 0, 4, &mask), EINVAL);  /* not a multiple of 8 */
  long n = syscall(SYS_sched_getaffinity, 0, sizeof mask, &mask);
  CHECK_EQ(n, 8);
  CHECK(mask != 0);
  uint64_t none = 0;
  CHECK_ERR(syscall(SYS_sched_setaffinity, 0, sizeof none, &none), EINVAL);
  CHECK_ERR(syscall(SYS_sched_setaffinity, 0, sizeof mask, (void*)0x1000), EFAULT);
  CHECK_ERR(syscall(SYS_sched_getaffinity, 0, sizeof mask, (void*)0x1000), EFAULT);
  CHECK_ERR(syscall(SYS_sched_setaffinity, 999999, sizeof mask, &mask), ESRCH);
  unsigned cpu = 99, node = 99;
  CHECK_EQ(syscall(SYS_getcpu, &cpu, &node, 0), 0);
  CHECK((mask >> cpu) & 1);
  CHECK_EQ(node, 0);
  CHECK_ERR(syscall(SYS_getcpu, (void*)0x1000, 0, 0), EFAULT);

  printf("threads: clone ok (%d checks)\n", g_checks);
  return 0;
}
