/* signals: rt_sigaction, rt_sigprocmask, rt_sigpending, kill/tgkill/tkill,
 * delivery to a chosen thread, sigaltstack, rt_sigsuspend, rt_sigtimedwait,
 * SA_RESETHAND/SA_NODEFER, alarm, setitimer/getitimer, timer_create family.
 * `signals --die` raises an unhandled SIGTERM: the exit status must be 143. */
#include "check.h"
#include <pthread.h>
#include <sys/time.h>

struct rec {
  volatile int count;
  volatile int code, pid, uid, value, self_blocked, other_blocked, ss_flags;
  volatile long tid;
  volatile uintptr_t local_addr;
};
static struct rec recs[65];
static int g_other; /* a signal expected to be blocked inside the handler (sa_mask) */

static void handler(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  struct rec *r = &recs[sig];
  volatile int local = 0;
  sigset_t cur;
  stack_t ss;
  r->code = si->si_code;
  r->pid = si->si_pid;
  r->uid = si->si_uid;
  r->value = si->si_value.sival_int;
  r->tid = sys_gettid();
  r->local_addr = (uintptr_t)&local;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  r->self_blocked = sigismember(&cur, sig);
  r->other_blocked = g_other ? sigismember(&cur, g_other) : 0;
  sigaltstack(NULL, &ss);
  r->ss_flags = ss.ss_flags;
  /* count last: a thread polling it (wait_count) then reads the fields of
   * this run, not those of a handler still running on another thread */
  __atomic_store_n(&r->count, r->count + 1, __ATOMIC_RELEASE);
}

static void install(int sig, int flags, int masked) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  if (masked) sigaddset(&sa.sa_mask, masked);
  if (sigaction(sig, &sa, NULL) != 0) FAILF("sigaction(%d) errno %d", sig, errno);
}

static void block(int sig, int how) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  sigprocmask(how, &s, NULL);
}

static int wait_count(int sig, int target, long ms) {
  long long deadline = mono_ns() + MS(ms);
  while (__atomic_load_n(&recs[sig].count, __ATOMIC_ACQUIRE) < target && mono_ns() < deadline) sleep_ms(1);
  return __atomic_load_n(&recs[sig].count, __ATOMIC_ACQUIRE);
}

static void other_handler(int sig) { (void)sig; }

static void test_sigaction(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  CHECK_OK(sigaction(SIGUSR1, &sa, NULL), "sigaction install");
  struct sigaction sb;
  memset(&sb, 0, sizeof sb);
  sb.sa_handler = other_handler;
  sigemptyset(&sb.sa_mask);
  memset(&old, 0, sizeof old);
  CHECK_OK(sigaction(SIGUSR1, &sb, &old), "sigaction replace");
  CHECK(old.sa_sigaction == handler, "old action: handler returned");
  CHECK_EQ(old.sa_flags & (SA_SIGINFO | SA_RESTART), SA_SIGINFO | SA_RESTART, "old action: flags returned");
  CHECK(sigismember(&old.sa_mask, SIGUSR2) == 1, "old action: mask returned");
  memset(&old, 0, sizeof old);
  CHECK_OK(sigaction(SIGUSR1, NULL, &old), "sigaction query");
  CHECK(old.sa_handler == other_handler, "query returns the current handler");
  CHECK_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL, "sigaction(SIGKILL)");
  CHECK_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL, "sigaction(SIGSTOP)");
  CHECK_ERR(syscall(SYS_rt_sigaction, 65, NULL, NULL, 8), EINVAL, "rt_sigaction signal 65");
  CHECK_ERR(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4), EINVAL, "rt_sigaction sigsetsize 4");
  CHECK_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &old.sa_mask, 4), EINVAL, "rt_sigprocmask sigsetsize 4");
}

static void test_kill(void) {
  g_other = SIGUSR2;
  install(SIGUSR1, 0, SIGUSR2);
  memset(&recs[SIGUSR1], 0, sizeof recs[0]);
  CHECK_OK(kill(getpid(), SIGUSR1), "kill self");
  CHECK_EQ(recs[SIGUSR1].count, 1, "kill self: delivered before kill returned");
  CHECK_EQ(recs[SIGUSR1].code, SI_USER, "kill: si_code SI_USER");
  CHECK_EQ(recs[SIGUSR1].pid, getpid(), "kill: si_pid");
  CHECK_EQ(recs[SIGUSR1].uid, getuid(), "kill: si_uid");
  CHECK_EQ(recs[SIGUSR1].self_blocked, 1, "signal blocked in its own handler");
  CHECK_EQ(recs[SIGUSR1].other_blocked, 1, "sa_mask signal blocked in the handler");
  CHECK_OK(syscall(SYS_tgkill, getpid(), sys_gettid(), SIGUSR1), "tgkill self");
  CHECK_EQ(recs[SIGUSR1].count, 2, "tgkill self delivered");
  CHECK_EQ(recs[SIGUSR1].code, SI_TKILL, "tgkill: si_code SI_TKILL");
  CHECK_OK(syscall(SYS_tkill, sys_gettid(), SIGUSR1), "tkill self");
  CHECK_EQ(recs[SIGUSR1].count, 3, "tkill self delivered");
  CHECK_OK(raise(SIGUSR1), "raise");
  CHECK_EQ(recs[SIGUSR1].count, 4, "raise delivered");
  sigset_t cur;
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK_EQ(sigismember(&cur, SIGUSR2), 0, "handler's sa_mask removed after return");
  CHECK_OK(kill(getpid(), 0), "kill signal 0 (existence check)");
  CHECK_ERR(kill(getpid(), 1000), EINVAL, "kill bad signal");
  CHECK_ERR(syscall(SYS_tgkill, getpid(), 0x3ffffff0, SIGUSR1), ESRCH, "tgkill unknown tid");
  g_other = 0;
}

static void test_mask_pending(void) {
  install(SIGUSR1, 0, 0);
  memset(&recs[SIGUSR1], 0, sizeof recs[0]);
  sigset_t s, old, pend;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  CHECK_OK(sigprocmask(SIG_BLOCK, &s, &old), "block SIGUSR1");
  CHECK_EQ(sigismember(&old, SIGUSR1), 0, "old mask returned");
  raise(SIGUSR1);
  raise(SIGUSR1);
  CHECK_EQ(recs[SIGUSR1].count, 0, "blocked signal not delivered");
  sigemptyset(&pend);
  CHECK_OK(sigpending(&pend), "sigpending");
  CHECK_EQ(sigismember(&pend, SIGUSR1), 1, "blocked signal is pending");
  uint64_t raw = 0;
  CHECK_OK(syscall(SYS_rt_sigpending, &raw, 8), "raw rt_sigpending");
  CHECK_HEX(raw, 1ULL << (SIGUSR1 - 1), "rt_sigpending set");
  CHECK_OK(sigprocmask(SIG_UNBLOCK, &s, NULL), "unblock");
  CHECK_EQ(recs[SIGUSR1].count, 1, "standard signal delivered once on unblock (not queued)");
  sigpending(&pend);
  CHECK_EQ(sigismember(&pend, SIGUSR1), 0, "no longer pending");

  /* Real-time signals queue. */
  int rt = SIGRTMIN + 2;
  install(rt, 0, 0);
  memset(&recs[rt], 0, sizeof recs[0]);
  block(rt, SIG_BLOCK);
  for (int i = 0; i < 3; i++) syscall(SYS_tgkill, getpid(), sys_gettid(), rt);
  CHECK_EQ(recs[rt].count, 0, "blocked RT signal not delivered");
  block(rt, SIG_UNBLOCK);
  CHECK_EQ(recs[rt].count, 3, "RT signal queued 3 times, delivered 3 times");

  /* SIGKILL/SIGSTOP cannot be blocked. */
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  sigprocmask(SIG_SETMASK, &old, &s);
  CHECK_EQ(sigismember(&s, SIGKILL), 0, "SIGKILL not blockable");
  CHECK_EQ(sigismember(&s, SIGSTOP), 0, "SIGSTOP not blockable");
  CHECK_EQ(sigismember(&s, SIGUSR2), 1, "SIG_SETMASK blocked everything else");
}

static volatile long worker_tid;
static volatile int worker_stop;
static void *worker(void *arg) {
  (void)arg;
  worker_tid = sys_gettid();
  while (!worker_stop) sleep_ms(1);
  return NULL;
}

static void test_threads(void) {
  install(SIGUSR2, 0, 0);
  memset(&recs[SIGUSR2], 0, sizeof recs[0]);
  pthread_t th;
  worker_stop = 0;
  worker_tid = 0;
  pthread_create(&th, NULL, worker, NULL);
  while (!worker_tid) sleep_ms(1);
  CHECK_OK(syscall(SYS_tgkill, getpid(), worker_tid, SIGUSR2), "tgkill other thread");
  CHECK_EQ(wait_count(SIGUSR2, 1, 2000), 1, "tgkill other thread: delivered");
  CHECK_EQ(recs[SIGUSR2].tid, worker_tid, "tgkill: handler ran on the target thread");
  /* Process-directed, main thread blocks it: only the worker can take it. */
  block(SIGUSR2, SIG_BLOCK);
  kill(getpid(), SIGUSR2);
  CHECK_EQ(wait_count(SIGUSR2, 2, 2000), 2, "kill with main blocked: delivered");
  CHECK_EQ(recs[SIGUSR2].tid, worker_tid, "kill: delivered to the thread that does not block it");
  block(SIGUSR2, SIG_UNBLOCK);
  worker_stop = 1;
  pthread_join(th, NULL);
}

static void test_altstack(void) {
  size_t sz = 64 * 1024;
  char *alt = malloc(sz);
  stack_t ss, old;
  memset(&old, 0, sizeof old);
  ss.ss_sp = alt;
  ss.ss_size = sz;
  ss.ss_flags = 0;
  CHECK_OK(sigaltstack(&ss, &old), "sigaltstack set");
  CHECK_EQ(old.ss_flags, SS_DISABLE, "no alternate stack at start");
  install(SIGUSR1, SA_ONSTACK, 0);
  memset(&recs[SIGUSR1], 0, sizeof recs[0]);
  raise(SIGUSR1);
  CHECK_EQ(recs[SIGUSR1].count, 1, "SA_ONSTACK handler ran");
  uintptr_t a = recs[SIGUSR1].local_addr;
  CHECK(a >= (uintptr_t)alt && a < (uintptr_t)alt + sz, "SA_ONSTACK handler's local lies on the alternate stack");
  CHECK_EQ(recs[SIGUSR1].ss_flags, SS_ONSTACK, "sigaltstack reports SS_ONSTACK inside the handler");
  memset(&old, 0, sizeof old);
  sigaltstack(NULL, &old);
  CHECK_EQ(old.ss_flags, 0, "outside the handler: not on the stack, enabled");
  CHECK(old.ss_sp == alt && old.ss_size == sz, "sigaltstack query returns the stack");
  install(SIGUSR1, 0, 0);
  raise(SIGUSR1);
  a = recs[SIGUSR1].local_addr;
  CHECK(!(a >= (uintptr_t)alt && a < (uintptr_t)alt + sz), "handler without SA_ONSTACK uses the normal stack");
  ss.ss_size = 512;
  CHECK_ERR(sigaltstack(&ss, NULL), ENOMEM, "sigaltstack smaller than MINSIGSTKSZ");
  ss.ss_flags = SS_DISABLE;
  CHECK_OK(sigaltstack(&ss, NULL), "sigaltstack disable");
  sigaltstack(NULL, &old);
  CHECK_EQ(old.ss_flags, SS_DISABLE, "disabled");
  free(alt);
}

static void *send_later(void *arg) {
  sleep_ms(20);
  syscall(SYS_tgkill, getpid(), (long)arg, SIGUSR1);
  return NULL;
}

static void test_suspend_timedwait(void) {
  install(SIGUSR1, 0, 0);
  memset(&recs[SIGUSR1], 0, sizeof recs[0]);
  block(SIGUSR1, SIG_BLOCK);
  raise(SIGUSR1);
  sigset_t empty, cur;
  sigemptyset(&empty);
  CHECK_ERR(sigsuspend(&empty), EINTR, "sigsuspend with a pending signal");
  CHECK_EQ(recs[SIGUSR1].count, 1, "sigsuspend: handler ran");
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK_EQ(sigismember(&cur, SIGUSR1), 1, "sigsuspend restored the mask");
  pthread_t th;
  pthread_create(&th, NULL, send_later, (void *)sys_gettid());
  CHECK_ERR(sigsuspend(&empty), EINTR, "sigsuspend until another thread signals");
  CHECK_EQ(recs[SIGUSR1].count, 2, "sigsuspend: second handler run");
  pthread_join(th, NULL);

  /* sigtimedwait takes the signal instead of running the handler. */
  syscall(SYS_tgkill, getpid(), sys_gettid(), SIGUSR1);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  struct timespec ts = {1, 0};
  /* Raw: glibc's wrapper folds SI_TKILL into SI_USER. */
  CHECK_EQ(syscall(SYS_rt_sigtimedwait, &s, &si, &ts, 8), SIGUSR1, "rt_sigtimedwait returns the pending signal");
  CHECK_EQ(si.si_signo, SIGUSR1, "sigtimedwait si_signo");
  CHECK_EQ(si.si_code, SI_TKILL, "sigtimedwait si_code SI_TKILL");
  CHECK_EQ(recs[SIGUSR1].count, 2, "sigtimedwait: handler did not run");
  sigset_t pend;
  sigpending(&pend);
  CHECK_EQ(sigismember(&pend, SIGUSR1), 0, "sigtimedwait consumed the signal");
  ts.tv_sec = 0;
  ts.tv_nsec = 50 * 1000000L;
  long long t0 = mono_ns();
  CHECK_ERR(sigtimedwait(&s, &si, &ts), EAGAIN, "sigtimedwait timeout");
  CHECK_RANGE((mono_ns() - t0) / 1000000, 50, 2050, "sigtimedwait timeout: elapsed ms");
  block(SIGUSR1, SIG_UNBLOCK);
}

static void test_flags(void) {
  memset(&recs[SIGUSR1], 0, sizeof recs[0]);
  install(SIGUSR1, SA_RESETHAND, 0);
  raise(SIGUSR1);
  CHECK_EQ(recs[SIGUSR1].count, 1, "SA_RESETHAND handler ran");
  struct sigaction q;
  sigaction(SIGUSR1, NULL, &q);
  CHECK(q.sa_handler == SIG_DFL, "SA_RESETHAND reset the action to SIG_DFL");
  install(SIGUSR1, SA_NODEFER, 0);
  raise(SIGUSR1);
  CHECK_EQ(recs[SIGUSR1].self_blocked, 0, "SA_NODEFER: signal not blocked in its handler");
  /* SIG_IGN drops the signal. */
  signal(SIGUSR1, SIG_IGN);
  raise(SIGUSR1);
  CHECK_EQ(recs[SIGUSR1].count, 2, "SIG_IGN: handler not run");
}

static void test_alarm_itimer(void) {
  install(SIGALRM, 0, 0);
  memset(&recs[SIGALRM], 0, sizeof recs[0]);
  CHECK_EQ(alarm(5), 0, "alarm: no previous alarm");
  CHECK_RANGE(alarm(0), 4, 5, "alarm(0) returns the remaining seconds");
  long long t0 = mono_ns();
  alarm(1);
  CHECK_EQ(wait_count(SIGALRM, 1, 3000), 1, "alarm(1): SIGALRM arrived");
  CHECK_RANGE((mono_ns() - t0) / 1000000, 990, 3000, "alarm(1): after about 1 s (ms)");

  struct itimerval it, old;
  memset(&it, 0, sizeof it);
  it.it_value.tv_usec = 100000;
  t0 = mono_ns();
  CHECK_OK(setitimer(ITIMER_REAL, &it, NULL), "setitimer 100 ms one-shot");
  CHECK_OK(getitimer(ITIMER_REAL, &old), "getitimer");
  long us = old.it_value.tv_sec * 1000000L + old.it_value.tv_usec;
  CHECK_RANGE(us, 1, 100000, "getitimer: remaining us");
  CHECK_EQ(old.it_interval.tv_sec + old.it_interval.tv_usec, 0, "getitimer: one-shot interval 0");
  CHECK_EQ(wait_count(SIGALRM, 2, 3000), 2, "setitimer one-shot fired");
  CHECK_RANGE((mono_ns() - t0) / 1000000, 100, 2100, "setitimer one-shot: elapsed ms");
  getitimer(ITIMER_REAL, &old);
  CHECK_EQ(old.it_value.tv_sec + old.it_value.tv_usec, 0, "expired one-shot timer is disarmed");

  it.it_value.tv_usec = 20000;
  it.it_interval.tv_usec = 20000;
  CHECK_OK(setitimer(ITIMER_REAL, &it, NULL), "setitimer periodic 20 ms");
  CHECK_EQ(wait_count(SIGALRM, 5, 3000), 5, "periodic timer fired 3 times");
  memset(&it, 0, sizeof it);
  CHECK_OK(setitimer(ITIMER_REAL, &it, &old), "setitimer disarm");
  CHECK_EQ(old.it_interval.tv_usec, 20000, "disarm returns the old interval");
  int n = recs[SIGALRM].count;
  sleep_ms(60);
  CHECK_EQ(recs[SIGALRM].count, n, "disarmed timer stays quiet");
  CHECK_ERR(setitimer(99, &it, NULL), EINVAL, "setitimer bad which");
  it.it_value.tv_usec = 2000000;
  CHECK_ERR(setitimer(ITIMER_REAL, &it, NULL), EINVAL, "setitimer tv_usec out of range");
}

static volatile int thread_notified;
static void notify(union sigval v) { thread_notified = v.sival_int; }

static void test_posix_timers(void) {
  install(SIGUSR2, 0, 0);
  memset(&recs[SIGUSR2], 0, sizeof recs[0]);
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR2;
  sev.sigev_value.sival_int = 42;
  timer_t t;
  CHECK_OK(timer_create(CLOCK_MONOTONIC, &sev, &t), "timer_create SIGEV_SIGNAL");
  struct itimerspec its, cur;
  memset(&its, 0, sizeof its);
  its.it_value.tv_nsec = 30 * 1000000L;
  long long t0 = mono_ns();
  CHECK_OK(timer_settime(t, 0, &its, NULL), "timer_settime 30 ms");
  CHECK_OK(timer_gettime(t, &cur), "timer_gettime");
  CHECK_RANGE(cur.it_value.tv_sec * 1000000000LL + cur.it_value.tv_nsec, 1, 30 * 1000000LL, "timer_gettime remaining ns");
  CHECK_EQ(wait_count(SIGUSR2, 1, 3000), 1, "POSIX timer fired");
  CHECK_RANGE((mono_ns() - t0) / 1000000, 30, 2030, "POSIX timer: elapsed ms");
  CHECK_EQ(recs[SIGUSR2].code, SI_TIMER, "POSIX timer: si_code SI_TIMER");
  CHECK_EQ(recs[SIGUSR2].value, 42, "POSIX timer: si_value");
  CHECK_EQ(timer_getoverrun(t), 0, "timer_getoverrun");
  /* Absolute expiry. */
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  its.it_value = now;
  its.it_value.tv_nsec += 20 * 1000000L;
  if (its.it_value.tv_nsec >= 1000000000L) its.it_value.tv_sec++, its.it_value.tv_nsec -= 1000000000L;
  CHECK_OK(timer_settime(t, TIMER_ABSTIME, &its, NULL), "timer_settime TIMER_ABSTIME");
  CHECK_EQ(wait_count(SIGUSR2, 2, 3000), 2, "absolute POSIX timer fired");
  CHECK_OK(timer_delete(t), "timer_delete");
  CHECK_ERR(syscall(SYS_timer_delete, 12345), EINVAL, "timer_delete unknown id");

  /* SIGEV_THREAD: both libcs build it on SIGEV_THREAD_ID + a helper thread. */
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = notify;
  sev.sigev_value.sival_int = 7;
  if (timer_create(CLOCK_REALTIME, &sev, &t) != 0) {
    FAILF("timer_create SIGEV_THREAD errno %d", errno);
    return;
  }
  memset(&its, 0, sizeof its);
  its.it_value.tv_nsec = 20 * 1000000L;
  timer_settime(t, 0, &its, NULL);
  long long deadline = mono_ns() + MS(3000);
  while (!thread_notified && mono_ns() < deadline) sleep_ms(1);
  CHECK_EQ(thread_notified, 7, "SIGEV_THREAD timer ran its function");
  timer_delete(t);
}

int main(int argc, char **argv) {
  check_init("signals");
  if (argc > 1 && strcmp(argv[1], "--die") == 0) {
    printf("signals: raising SIGTERM with the default action\n");
    fflush(stdout);
    signal(SIGTERM, SIG_DFL);
    raise(SIGTERM);
    printf("FAIL signals --die: still alive after SIGTERM\n");
    return 2;
  }
  test_sigaction();
  test_kill();
  test_mask_pending();
  test_threads();
  test_altstack();
  test_suspend_timedwait();
  test_flags();
  test_alarm_itimer();
  test_posix_timers();
  return check_finish();
}
