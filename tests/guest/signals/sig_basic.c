// Masks, pending sets, sigsuspend, sigtimedwait, kill/tgkill/tkill,
// sigqueue, rt_sigaction errors, SA_RESETHAND, SA_NODEFER.
#include "sigtest.h"

#include <time.h>

static volatile int g_usr1, g_usr2, g_depth, g_max_depth;
static volatile int g_code, g_pid, g_value;

static void on_usr1(int sig, siginfo_t* si, void* ctx) {
  g_usr1++;
  g_code = si->si_code;
  g_pid = si->si_pid;
  g_value = si->si_value.sival_int;
  // SIGUSR1 itself is blocked inside its handler (no SA_NODEFER).
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  if (sig == SIGUSR1) CHECK(sigismember(&cur, SIGUSR1));
}
static void on_usr2_nodefer(int sig, siginfo_t* si, void* ctx) {
  g_usr2++;
  g_depth++;
  if (g_depth > g_max_depth) g_max_depth = g_depth;
  if (g_depth == 1) raise(SIGUSR2);  // nested at once with SA_NODEFER
  g_depth--;
}

int main(void) {
  // rt_sigaction errors.
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_IGN;
  CHECK(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL);
  CHECK(sigaction(SIGSTOP, &sa, NULL) == -1 && errno == EINVAL);
  CHECK(sigaction(65, &sa, NULL) == -1 && errno == EINVAL);
  CHECK(sigaction(0, &sa, NULL) == -1 && errno == EINVAL);
  CHECK(syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4) == -1 && errno == EINVAL);
  CHECK(syscall(SYS_rt_sigaction, SIGUSR1, (void*)8, NULL, 8) == -1 && errno == EFAULT);
  CHECK(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, NULL, 16) == -1 && errno == EINVAL);
  CHECK(syscall(SYS_rt_sigprocmask, 7, &(sigset_t){0}, NULL, 8) == -1 && errno == EINVAL);
  struct sigaction got;
  CHECK(sigaction(SIGKILL, NULL, &got) == 0);

  // kill to the process: si_code SI_USER, si_pid = getpid().
  CHECK(install(SIGUSR1, on_usr1, 0) == 0);
  CHECK(kill(getpid(), SIGUSR1) == 0);
  CHECK(g_usr1 == 1);
  CHECK(g_code == SI_USER);
  CHECK(g_pid == getpid());
  CHECK(kill(0, SIGUSR1) == 0 && g_usr1 == 2);
  CHECK(kill(getpid(), 0) == 0);
  CHECK(kill(4242, SIGUSR1) == -1 && errno == ESRCH);
  CHECK(kill(getpid(), 99) == -1 && errno == EINVAL);
  // tgkill/tkill to the own thread: SI_TKILL.
  CHECK(syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1) == 0);
  CHECK(g_usr1 == 3 && g_code == SI_TKILL);
  CHECK(syscall(SYS_tkill, (pid_t)syscall(SYS_gettid), SIGUSR1) == 0 && g_usr1 == 4);
  CHECK(syscall(SYS_tgkill, getpid(), 9999, SIGUSR1) == -1 && errno == ESRCH);
  CHECK(syscall(SYS_tgkill, 9999, (pid_t)syscall(SYS_gettid), SIGUSR1) == -1 && errno == ESRCH);
  // sigqueue carries a value.
  CHECK(sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 31337}) == 0);
  CHECK(g_usr1 == 5 && g_code == SI_QUEUE && g_value == 31337);

  // Masks and pending.
  sigset_t set, old, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGKILL);  // silently not blocked
  CHECK(sigprocmask(SIG_BLOCK, &set, &old) == 0);
  CHECK(!sigismember(&old, SIGUSR1));
  sigprocmask(SIG_BLOCK, NULL, &old);
  CHECK(sigismember(&old, SIGUSR1) && !sigismember(&old, SIGKILL));
  raise(SIGUSR1);
  raise(SIGUSR1);  // standard signals do not queue
  CHECK(g_usr1 == 5);
  CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1));
  CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0);
  CHECK(g_usr1 == 6);  // delivered once, on the way out of sigprocmask
  CHECK(sigpending(&pend) == 0 && !sigismember(&pend, SIGUSR1));

  // Ignoring discards a pending signal.
  sigprocmask(SIG_BLOCK, &set, NULL);
  raise(SIGUSR1);
  signal(SIGUSR1, SIG_IGN);
  sigpending(&pend);
  CHECK(!sigismember(&pend, SIGUSR1));
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(SIGUSR1);  // ignored: nothing happens
  CHECK(install(SIGUSR1, on_usr1, 0) == 0);

  // sigsuspend: returns -1/EINTR after the handler ran, mask restored.
  sigprocmask(SIG_BLOCK, &set, NULL);
  raise(SIGUSR1);
  int before = g_usr1;
  sigset_t waitmask;
  sigemptyset(&waitmask);
  CHECK(sigsuspend(&waitmask) == -1 && errno == EINTR);
  CHECK(g_usr1 == before + 1);
  sigprocmask(SIG_BLOCK, NULL, &old);
  CHECK(sigismember(&old, SIGUSR1));

  // sigtimedwait: a pending blocked signal is taken without its handler.
  kill(getpid(), SIGUSR1);
  siginfo_t si;
  struct timespec ts = {1, 0};
  CHECK(sigtimedwait(&set, &si, &ts) == SIGUSR1);
  CHECK(si.si_signo == SIGUSR1 && si.si_code == SI_USER);
  CHECK(g_usr1 == before + 1);
  // Timeout: EAGAIN after about the time asked for.
  struct timespec t0, t1;
  int have_clock = clock_gettime(CLOCK_MONOTONIC, &t0) == 0;
  ts.tv_sec = 0;
  ts.tv_nsec = 200 * 1000 * 1000;
  CHECK(sigtimedwait(&set, &si, &ts) == -1 && errno == EAGAIN);
  if (have_clock && clock_gettime(CLOCK_MONOTONIC, &t1) == 0) {
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(ms >= 150 && ms < 5000);
  } else {
    printf("sig_basic: no clock_gettime: timeout length not checked\n");
  }
  ts.tv_nsec = 0;
  CHECK(sigtimedwait(&set, &si, &ts) == -1 && errno == EAGAIN);  // poll
  ts.tv_nsec = 2000000000L;
  CHECK(sigtimedwait(&set, &si, &ts) == -1 && errno == EINVAL);
  sigprocmask(SIG_UNBLOCK, &set, NULL);

  // SA_NODEFER: the handler nests; SA_RESETHAND: one shot.
  CHECK(install(SIGUSR2, on_usr2_nodefer, SA_NODEFER) == 0);
  raise(SIGUSR2);
  CHECK(g_usr2 == 2 && g_max_depth == 2);
  CHECK(install(SIGUSR2, on_usr1, SA_RESETHAND) == 0);
  raise(SIGUSR2);
  CHECK(sigaction(SIGUSR2, NULL, &got) == 0 && got.sa_handler == SIG_DFL);

  // SIGCHLD, SIGURG, SIGWINCH, SIGCONT default to ignore.
  raise(SIGCHLD);
  raise(SIGURG);
  raise(SIGWINCH);
  raise(SIGCONT);
  return finish("sig_basic");
}
