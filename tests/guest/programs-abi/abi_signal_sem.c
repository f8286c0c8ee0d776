/* Signal semantics (issue 18): kill(-1, sig) signals every process but the
 * caller and pid 1 (ESRCH when there is none); kill(tid) of a non-main
 * thread names its process, tgkill/tkill from and to non-main threads; a
 * periodic POSIX timer keeps one queued signal and counts overruns
 * (si_overrun, timer_getoverrun); rt_sigqueueinfo/rt_tgsigqueueinfo si_code
 * rules (EPERM for si_code >= 0 or SI_TKILL to another process);
 * sigpending/sigtimedwait corner cases; SIGCHLD ignored or SA_NOCLDWAIT:
 * children are reaped by the kernel (wait gives ECHILD).
 *
 * kill(-1) must not reach the host's other processes: on the host it runs
 * in a new user+pid namespace (where the test's child is pid 1), and is
 * skipped if the host refuses one; in Capsule the program is pid 1. */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define MS 1000000ll

static volatile sig_atomic_t g_usr1, g_usr2;
static void on_usr1(int s) { (void)s; ++g_usr1; }
static void on_usr2(int s) { (void)s; ++g_usr2; }

static void handle(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigaction(sig, &sa, NULL);
}
static void block(int sig, int how) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  sigprocmask(how, &s, NULL);
}
static void msleep(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * MS};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

/* A child that waits (bounded) to be killed, SIGUSR1 at its default action
 * before this returns; exits 7 if nothing came. */
static pid_t sleeper(void) {
  int fd[2];
  if (pipe(fd) != 0) return -1;
  pid_t p = fork();
  if (p == 0) {
    handle(SIGUSR1, SIG_DFL);
    close(fd[1]);
    for (int i = 0; i < 300; ++i) msleep(20);
    _exit(7);
  }
  close(fd[1]);
  char c;
  CHECK(read(fd[0], &c, 1) == 0, "the sleeper is ready");
  close(fd[0]);
  return p;
}

/* Runs as pid 1 of its namespace (or of the VM). Exit status 0 if all passed. */
static int kill_all_checks(void) {
  CHECK(getpid() == 1, "running as pid 1: %d", getpid());
  /* Nobody else: ESRCH, and the caller is not signalled. */
  handle(SIGUSR1, on_usr1);
  g_usr1 = 0;
  EXPECT_ERR(ESRCH, kill(-1, SIGUSR1));
  EXPECT_ERR(ESRCH, kill(-1, 0));
  CHECK(g_usr1 == 0, "kill(-1) signalled the caller");
  /* pid 1 kills every other process, not itself. */
  pid_t a = sleeper(), b = sleeper();
  CHECK(kill(-1, 0) == 0, "kill(-1, 0) finds the children");
  CHECK(kill(-1, SIGUSR1) == 0, "kill(-1, SIGUSR1) = 0");
  int st;
  CHECK(waitpid(a, &st, 0) == a && WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1, "child a killed: %#x", st);
  CHECK(waitpid(b, &st, 0) == b && WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1, "child b killed: %#x", st);
  CHECK(g_usr1 == 0, "pid 1 did not signal itself");
  /* Another process's kill(-1) skips pid 1 and itself. */
  a = sleeper();
  int pfd[2];
  CHECK(pipe(pfd) == 0, "pipe");
  b = fork();
  if (b == 0) {
    handle(SIGUSR1, on_usr1);
    int r = kill(-1, SIGUSR1);
    char c = (r == 0 && g_usr1 == 0) ? 'y' : 'n';
    if (write(pfd[1], &c, 1) != 1) _exit(3);
    _exit(0);
  }
  char c = 0;
  CHECK(read(pfd[0], &c, 1) == 1 && c == 'y', "kill(-1) from a child: %c", c);
  CHECK(waitpid(b, &st, 0) == b && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child b exited: %#x", st);
  CHECK(waitpid(a, &st, 0) == a && WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1, "child a killed by b: %#x", st);
  for (int i = 0; i < 100 && !g_usr1; ++i) msleep(1);
  CHECK(g_usr1 == 0, "pid 1 was not signalled by kill(-1)");
  close(pfd[0]), close(pfd[1]);
  handle(SIGUSR1, SIG_DFL);
  return g_failures ? 1 : 0;
}

static void test_kill_all(int capsule) {
  if (capsule) {
    kill_all_checks();
    return;
  }
  /* Host: a child in new user and pid namespaces is pid 1 there. */
  if (unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) {
    printf("note: kill(-1) checks skipped on this host (unshare: %s)\n", strerror(errno));
    return;
  }
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    int r = kill_all_checks();
    fflush(stdout);
    _exit(r);
  }
  int st = -1;
  CHECK(p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0, "namespace child: %#x", st);
}

/* A non-main thread: kill(its tid) names the process; tgkill/tkill work. */
static pthread_t g_main;
static pid_t g_main_tid;
static void* tid_thread(void* arg) {
  int* ok = arg;
  pid_t me = (pid_t)syscall(SYS_gettid);
  ok[0] = me != getpid();
  ok[1] = kill(me, 0) == 0;
  ok[2] = syscall(SYS_tgkill, getpid(), me, 0) == 0;
  ok[3] = syscall(SYS_tkill, me, 0) == 0;
  ok[4] = syscall(SYS_tgkill, getpid(), g_main_tid, SIGUSR2) == 0;
  ok[5] = syscall(SYS_tgkill, getpid(), me, SIGUSR1) == 0;  /* blocked here: not delivered */
  sigset_t p;
  sigpending(&p);
  ok[6] = sigismember(&p, SIGUSR1);
  sigset_t w;
  sigemptyset(&w);
  sigaddset(&w, SIGUSR1);
  ok[7] = sigwaitinfo(&w, NULL) == SIGUSR1;
  return NULL;
}
static void test_thread_ids(void) {
  handle(SIGUSR2, on_usr2);
  g_usr2 = 0;
  g_main = pthread_self();
  g_main_tid = (pid_t)syscall(SYS_gettid);
  block(SIGUSR1, SIG_BLOCK);  /* the thread inherits it */
  int ok[8] = {0};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, tid_thread, ok) == 0, "pthread_create");
  pthread_join(t, NULL);
  CHECK(ok[0], "the thread's tid is not the pid");
  CHECK(ok[1], "kill(gettid(), 0) from a non-main thread");
  CHECK(ok[2], "tgkill(pid, own tid, 0)");
  CHECK(ok[3], "tkill(own tid, 0)");
  CHECK(ok[4], "tgkill to the main thread from another");
  CHECK(ok[5] && ok[6] && ok[7], "tgkill to itself: pending %d, sigwaitinfo %d", ok[6], ok[7]);
  for (int i = 0; i < 100 && !g_usr2; ++i) msleep(1);
  CHECK(g_usr2 == 1, "main got SIGUSR2 from the thread: %d", (int)g_usr2);
  block(SIGUSR1, SIG_UNBLOCK);
  /* tgkill with a tgid the tid does not belong to: ESRCH. */
  EXPECT_ERR(ESRCH, syscall(SYS_tgkill, getpid() + 54321, g_main_tid, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_tgkill, 0, g_main_tid, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_tgkill, getpid(), g_main_tid, 65));

  /* kill(tid) of another process's non-main thread; tgkill into another process. */
  int pfd[2];
  CHECK(pipe(pfd) == 0, "pipe");
  pid_t child = fork();
  if (child == 0) {
    pthread_t ct;
    static int dummy[8];
    (void)dummy;
    block(SIGUSR1, SIG_BLOCK);
    /* A thread that reports its tid and sleeps. */
    struct { int fd; } arg = {pfd[1]};
    void* reporter(void* a);
    pthread_create(&ct, NULL, reporter, &arg);
    for (int i = 0; i < 300; ++i) msleep(20);
    _exit(7);
  }
  pid_t ctid = 0;
  CHECK(read(pfd[0], &ctid, sizeof ctid) == sizeof ctid && ctid != child, "the child's thread tid %d", ctid);
  CHECK(syscall(SYS_tgkill, child, ctid, 0) == 0, "tgkill(child, its thread, 0)");
  EXPECT_ERR(ESRCH, syscall(SYS_tgkill, getpid(), ctid, 0));
  CHECK(kill(ctid, 0) == 0, "kill(non-main tid of another process, 0)");
  CHECK(kill(ctid, SIGTERM) == 0, "kill(non-main tid, SIGTERM) kills the process");
  int st = -1;
  CHECK(waitpid(child, &st, 0) == child && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "child status %#x", st);
  close(pfd[0]), close(pfd[1]);
  handle(SIGUSR2, SIG_DFL);
}
void* reporter(void* a) {
  int fd = *(int*)a;
  pid_t me = (pid_t)syscall(SYS_gettid);
  if (write(fd, &me, sizeof me) != sizeof me) _exit(4);
  for (int i = 0; i < 300; ++i) msleep(20);
  return NULL;
}

/* A periodic timer whose signal is blocked: one signal queued, the missed
 * expiries counted as overruns. */
static void test_timer_overrun(void) {
  int sig = SIGRTMIN + 1;
  block(sig, SIG_BLOCK);
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = sig;
  ev.sigev_value.sival_int = 77;
  timer_t tm;
  CHECK(timer_create(CLOCK_MONOTONIC, &ev, &tm) == 0, "timer_create");
  struct itimerspec its = {{0, 2 * MS}, {0, 2 * MS}};
  CHECK(timer_settime(tm, 0, &its, NULL) == 0, "timer_settime");
  msleep(100);  /* >= 50 periods */
  sigset_t w;
  sigemptyset(&w);
  sigaddset(&w, sig);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  struct timespec zero = {0, 0};
  CHECK(sigtimedwait(&w, &si, &zero) == sig, "the timer's signal is pending");
  CHECK(si.si_code == SI_TIMER && si.si_value.sival_int == 77, "si_code %d value %d", si.si_code,
        si.si_value.sival_int);
  CHECK(si.si_overrun >= 1, "si_overrun %d after ~50 periods", si.si_overrun);
  int ov = timer_getoverrun(tm);
  CHECK(ov == si.si_overrun, "timer_getoverrun %d = si_overrun %d", ov, si.si_overrun);
  /* Only one was queued for all those expiries (a real-time signal!). */
  its.it_value.tv_nsec = 0;
  its.it_interval.tv_nsec = 0;
  CHECK(timer_settime(tm, 0, &its, NULL) == 0, "disarm");
  int more = 0;
  for (int i = 0; i < 100; ++i) {
    if (sigtimedwait(&w, &si, &zero) != sig) break;
    ++more;
  }
  CHECK(more <= 1, "%d more signals were queued by one timer", more);
  EXPECT_ERR(EAGAIN, sigtimedwait(&w, &si, &zero));
  CHECK(timer_delete(tm) == 0, "timer_delete");
  block(sig, SIG_UNBLOCK);
}

static long sigqueue_raw(pid_t pid, int sig, int code) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = sig;
  si.si_code = code;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_int = 5;
  return syscall(SYS_rt_sigqueueinfo, pid, sig, &si);
}
static long tgsigqueue_raw(pid_t tgid, pid_t tid, int sig, int code) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_signo = sig;
  si.si_code = code;
  return syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &si);
}

static void test_sigqueue(void) {
  block(SIGUSR1, SIG_BLOCK);
  sigset_t w;
  sigemptyset(&w);
  sigaddset(&w, SIGUSR1);
  struct timespec zero = {0, 0};
  siginfo_t si;
  /* To itself, any si_code is accepted and delivered as given. */
  CHECK(sigqueue_raw(getpid(), SIGUSR1, SI_QUEUE) == 0, "rt_sigqueueinfo SI_QUEUE to self");
  CHECK(sigtimedwait(&w, &si, &zero) == SIGUSR1 && si.si_code == SI_QUEUE && si.si_value.sival_int == 5,
        "self SI_QUEUE: code %d", si.si_code);
  CHECK(sigqueue_raw(getpid(), SIGUSR1, 0) == 0, "rt_sigqueueinfo si_code 0 to self");
  CHECK(sigtimedwait(&w, &si, &zero) == SIGUSR1 && si.si_code == 0, "self code 0: %d", si.si_code);
  CHECK(tgsigqueue_raw(getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1, SI_TKILL) == 0, "rt_tgsigqueueinfo to self");
  /* (raw: glibc's sigtimedwait turns SI_TKILL from itself into SI_USER) */
  CHECK(syscall(SYS_rt_sigtimedwait, &w, &si, &zero, 8) == SIGUSR1 && si.si_code == SI_TKILL, "self SI_TKILL: %d",
        si.si_code);
  CHECK(sigqueue_raw(getpid(), 0, SI_QUEUE) == 0, "signal 0 checks only");
  EXPECT_ERR(EINVAL, sigqueue_raw(getpid(), 65, SI_QUEUE));
  EXPECT_ERR(EFAULT, syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, BAD_PTR));
  EXPECT_ERR(ESRCH, sigqueue_raw(getpid() + 54321, SIGUSR1, SI_QUEUE));

  /* To another process: si_code >= 0 or SI_TKILL is EPERM; SI_QUEUE works. */
  int pfd[2];
  CHECK(pipe(pfd) == 0, "pipe");
  pid_t c = fork();
  if (c == 0) {
    siginfo_t ci;
    struct timespec five = {5, 0};
    int r = sigtimedwait(&w, &ci, &five);
    int code = r == SIGUSR1 ? ci.si_code : 99, val = ci.si_value.sival_int, pid = ci.si_pid;
    int out[3] = {code, val, pid};
    if (write(pfd[1], out, sizeof out) != sizeof out) _exit(3);
    _exit(0);
  }
  EXPECT_ERR(EPERM, sigqueue_raw(c, SIGUSR1, 0));
  EXPECT_ERR(EPERM, sigqueue_raw(c, SIGUSR1, SI_KERNEL));
  EXPECT_ERR(EPERM, sigqueue_raw(c, SIGUSR1, SI_TKILL));
  EXPECT_ERR(EPERM, tgsigqueue_raw(c, c, SIGUSR1, 0));
  CHECK(sigqueue_raw(c, SIGUSR1, SI_QUEUE) == 0, "rt_sigqueueinfo SI_QUEUE to a child");
  int out[3] = {0};
  CHECK(read(pfd[0], out, sizeof out) == sizeof out, "child's report");
  CHECK(out[0] == SI_QUEUE && out[1] == 5 && out[2] == getpid(), "child got code %d value %d pid %d", out[0], out[1],
        out[2]);
  int st;
  waitpid(c, &st, 0);
  close(pfd[0]), close(pfd[1]);
  block(SIGUSR1, SIG_UNBLOCK);
}

static void* interrupter(void* arg) {
  msleep(50);
  pthread_kill(*(pthread_t*)arg, SIGUSR2);
  return NULL;
}
static void test_pending_wait(void) {
  sigset_t w, p;
  sigemptyset(&w);
  sigaddset(&w, SIGUSR1);
  siginfo_t si;
  struct timespec zero = {0, 0};
  /* Nothing pending: EAGAIN at once; a bad timeout: EINVAL; bad size: EINVAL. */
  EXPECT_ERR(EAGAIN, sigtimedwait(&w, &si, &zero));
  struct timespec bad = {0, 1000000000};
  EXPECT_ERR(EINVAL, syscall(SYS_rt_sigtimedwait, &w, &si, &bad, 8));
  EXPECT_ERR(EINVAL, syscall(SYS_rt_sigtimedwait, &w, &si, &zero, 4));
  EXPECT_ERR(EFAULT, syscall(SYS_rt_sigtimedwait, BAD_PTR, &si, &zero, 8));
  EXPECT_ERR(EINVAL, syscall(SYS_rt_sigpending, &p, 16));
  EXPECT_ERR(EFAULT, syscall(SYS_rt_sigpending, BAD_PTR, 8));
  /* A handled signal outside the set interrupts the wait: EINTR. */
  handle(SIGUSR2, on_usr2);
  g_usr2 = 0;
  pthread_t self = pthread_self(), t;
  pthread_create(&t, NULL, interrupter, &self);
  struct timespec five = {5, 0};
  EXPECT_ERR(EINTR, syscall(SYS_rt_sigtimedwait, &w, &si, &five, 8));  /* raw: musl retries on EINTR */
  pthread_join(t, NULL);
  CHECK(g_usr2 == 1, "the handler ran");
  handle(SIGUSR2, SIG_DFL);

  /* A blocked, ignored signal: Linux still queues it (sigpending shows it)... */
  block(SIGUSR1, SIG_BLOCK);
  handle(SIGUSR1, SIG_IGN);
  kill(getpid(), SIGUSR1);
  sigpending(&p);
  CHECK(sigismember(&p, SIGUSR1), "a blocked ignored signal is pending");
  /* ...and sigtimedwait takes it. */
  CHECK(sigtimedwait(&w, &si, &zero) == SIGUSR1, "sigtimedwait takes a blocked ignored signal");
  /* Setting SIG_IGN discards a pending signal. */
  handle(SIGUSR1, on_usr1);
  kill(getpid(), SIGUSR1);
  sigpending(&p);
  CHECK(sigismember(&p, SIGUSR1), "pending while blocked");
  handle(SIGUSR1, SIG_IGN);
  sigpending(&p);
  CHECK(!sigismember(&p, SIGUSR1), "SIG_IGN discards the pending signal");
  /* SIG_DFL whose default is to ignore (SIGCHLD, SIGURG, SIGWINCH) discards too. */
  block(SIGURG, SIG_BLOCK);
  kill(getpid(), SIGURG);
  sigpending(&p);
  CHECK(sigismember(&p, SIGURG), "blocked SIGURG at SIG_DFL is pending");
  handle(SIGURG, SIG_IGN);
  handle(SIGURG, SIG_DFL);
  sigpending(&p);
  CHECK(!sigismember(&p, SIGURG), "SIGURG discarded");
  block(SIGURG, SIG_UNBLOCK);
  handle(SIGUSR1, SIG_DFL);
  block(SIGUSR1, SIG_UNBLOCK);
}

/* SIGCHLD ignored (or SA_NOCLDWAIT): children leave no zombie; wait blocks
 * until they are all gone, then ECHILD. */
static void test_autoreap(void) {
  for (int mode = 0; mode < 2; ++mode) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mode == 0 ? SIG_IGN : SIG_DFL;
    sa.sa_flags = mode == 1 ? SA_NOCLDWAIT : 0;
    sigaction(SIGCHLD, &sa, &old);
    pid_t a = fork();
    if (a == 0) _exit(3);
    pid_t b = fork();
    if (b == 0) {
      msleep(30);
      _exit(4);
    }
    int st;
    errno = 0;
    pid_t r = wait(&st);
    CHECK(r == -1 && errno == ECHILD, "mode %d: wait = %d errno %d (ECHILD: reaped by the kernel)", mode, r, errno);
    EXPECT_ERR(ECHILD, waitpid(a, &st, WNOHANG));
    EXPECT_ERR(ECHILD, waitpid(b, &st, 0));
    CHECK(kill(b, 0) == -1 && errno == ESRCH, "no zombie is left");
    sigaction(SIGCHLD, &old, NULL);
  }
  /* Back at SIG_DFL, a child is a zombie until waited for. */
  pid_t c = fork();
  if (c == 0) _exit(5);
  int st = 0;
  CHECK(waitpid(c, &st, 0) == c && WEXITSTATUS(st) == 5, "normal wait: %#x", st);
}

int main(void) {
  int capsule = getpid() == 1;
  test_thread_ids();
  test_timer_overrun();
  test_sigqueue();
  test_pending_wait();
  test_autoreap();
  test_kill_all(capsule);
  return finish("abi_signal_sem");
}
