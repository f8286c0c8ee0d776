// Signals reach a thread that makes nothing but the system calls that run
// with interrupts off (linux/syscall.h DEFINE_SYSCALL_IRQS_OFF: getpid,
// gettid, getuid, ...): each returns through the dispatcher's return-work
// test, so a signal sent by another thread (on another CPU), by a timer
// (an interrupt) or by the thread itself is delivered at one of those
// returns, with the call's result and RFLAGS intact. Bounded by a count of
// calls, not by time: a signal never delivered fails the check.
#include <pthread.h>
#include <stdint.h>
#include <sys/time.h>

#include "sigtest.h"

static volatile sig_atomic_t g_usr1, g_alarm, g_usr2;
static volatile int g_ready;
static pid_t g_loop_tid;

static void on_usr1(int sig, siginfo_t* si, void* uc) { g_usr1++; }
static void on_alarm(int sig, siginfo_t* si, void* uc) { g_alarm++; }
static void on_usr2(int sig, siginfo_t* si, void* uc) { g_usr2++; }

// Raw getpid with the direction and carry flags set: the kernel hands
// RFLAGS back as they were, and R11 = RFLAGS. Below the red zone for the
// PUSHFQ.
static long getpid_keeping_flags(uint64_t* flags_after, uint64_t* r11_after) {
  long r;
  uint64_t f, r11;
  __asm__ volatile(
      "std\n\t"
      "stc\n\t"
      "syscall\n\t"
      "leaq -128(%%rsp), %%rsp\n\t"
      "pushfq\n\t"
      "popq %1\n\t"
      "leaq 128(%%rsp), %%rsp\n\t"
      "cld\n\t"
      "movq %%r11, %2\n\t"
      : "=a"(r), "=&r"(f), "=&r"(r11)
      : "a"((long)SYS_getpid)
      : "rcx", "r11", "memory", "cc");
  *flags_after = f;
  *r11_after = r11;
  return r;
}

static void* sender(void* arg) {
  while (!g_ready) sched_yield();
  // One at a time (a second SIGUSR1 sent before the first is delivered
  // would merge with it): the next once the last was handled.
  for (int i = 0; i < 20; i++) {
    syscall(SYS_tgkill, getpid(), g_loop_tid, SIGUSR1);
    for (long spins = 0; g_usr1 <= i && spins < 10L * 1000 * 1000; spins++) sched_yield();
  }
  return NULL;
}

// Loops on the interrupts-off calls until `*flag` reaches `want` or
// `limit` calls went by; returns the calls made.
static long spin_fast_calls(volatile sig_atomic_t* flag, int want, long limit) {
  const long pid = syscall(SYS_getpid);
  long n = 0;
  while (*flag < want && n < limit) {
    if (syscall(SYS_getpid) != pid) return -1;
    if (syscall(SYS_gettid) != g_loop_tid) return -1;
    syscall(SYS_getuid);
    syscall(SYS_getppid);
    n++;
  }
  return n;
}

int main(void) {
  const long LIMIT = 50L * 1000 * 1000;  // calls; signals come within a few thousand
  g_loop_tid = syscall(SYS_gettid);
  CHECK(install(SIGUSR1, on_usr1, 0) == 0);
  CHECK(install(SIGALRM, on_alarm, 0) == 0);
  CHECK(install(SIGUSR2, on_usr2, 0) == 0);

  // 1. From another thread: 20 tgkills while this one only makes fast calls.
  pthread_t th;
  CHECK(pthread_create(&th, NULL, sender, NULL) == 0);
  g_ready = 1;
  long n = spin_fast_calls(&g_usr1, 20, LIMIT);
  CHECK(n >= 0 && n < LIMIT);
  CHECK(g_usr1 == 20);
  if (g_usr1 != 20) printf("sig_fastcalls: %d of 20 SIGUSR1 after %ld rounds of calls\n", (int)g_usr1, n);
  pthread_join(th, NULL);

  // 2. From a timer: its interrupt finds the thread in or between fast calls.
  struct itimerval it = {{0, 2000}, {0, 2000}};
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  n = spin_fast_calls(&g_alarm, 5, LIMIT);
  CHECK(n >= 0 && n < LIMIT);
  CHECK(g_alarm >= 5);
  struct itimerval off = {{0, 0}, {0, 0}};
  CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);

  // 3. Blocked, then unblocked: pending while the fast calls run, delivered
  // at the return of the rt_sigprocmask that unblocks it.
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR2);
  CHECK(sigprocmask(SIG_BLOCK, &s, NULL) == 0);
  CHECK(syscall(SYS_tgkill, getpid(), g_loop_tid, SIGUSR2) == 0);
  CHECK(spin_fast_calls(&g_usr2, 1, 1000) == 1000);
  CHECK(g_usr2 == 0);
  CHECK(sigprocmask(SIG_UNBLOCK, &s, NULL) == 0);
  CHECK(g_usr2 == 1);

  // 4. RFLAGS come back as they were: DF and CF set across the call.
  uint64_t flags, r11;
  long pid = getpid_keeping_flags(&flags, &r11);
  CHECK(pid == syscall(SYS_getpid));
  CHECK(flags & (1u << 10));  // DF
  CHECK(flags & 1u);          // CF
  CHECK(flags & (1u << 9));   // IF: interrupts on in the application
  CHECK((r11 & 0x401) == 0x401);  // R11: DF and CF as they were
  return finish("sig_fastcalls");
}
