/* RLIMIT_SIGPENDING (issue 17, docs/limits.md, docs/signals.md): real-time
 * signals sent with sigqueue/tgkill queue until the limit, then EAGAIN;
 * kill() and standard signals are not refused; every POSIX timer holds an
 * instance of its own, so timer_create is EAGAIN at the limit too and the
 * timers leave less room for queued signals. Linux counts per user, so the
 * checks run in a child under a uid nothing else uses (on the host too). */
#include "check.h"

#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#define NOBODY 54322
#define LIMIT 20

static int rt(int k) { return SIGRTMIN + 4 + k; }

/* sigqueue of signal sig with value v until refused (at most 200). */
static int queue_until_refused(int sig, int* err) {
  int n = 0;
  for (; n < 200; ++n) {
    union sigval v = {.sival_int = n};
    if (sigqueue(getpid(), sig, v)) {
      *err = errno;
      break;
    }
  }
  return n;
}

/* Takes every pending instance of sig; checks their values count up. */
static int drain(int sig) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  struct timespec zero = {0, 0};
  siginfo_t si;
  int n = 0;
  while (n < 300 && sigtimedwait(&s, &si, &zero) == sig) {
    if (si.si_code == SI_QUEUE) CHECK(si.si_value.sival_int == n, "instance %d carries %d", n, si.si_value.sival_int);
    ++n;
  }
  return n;
}

static void child(void) {
  struct rlimit rl = {LIMIT, LIMIT};
  CHECK(setrlimit(RLIMIT_SIGPENDING, &rl) == 0, "setrlimit: %s", strerror(errno));
  CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0 && setresuid(NOBODY, NOBODY, NOBODY) == 0, "setresuid");
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);

  /* Queued real-time signals up to the limit. */
  int err = 0;
  int n = queue_until_refused(rt(0), &err);
  CHECK(n == LIMIT && err == EAGAIN, "sigqueue: %d queued, then errno %d (%s)", n, err, strerror(err));
  /* Full: another real-time signal by sigqueue or tgkill is refused... */
  union sigval v = {.sival_int = 0};
  EXPECT_ERR(EAGAIN, sigqueue(getpid(), rt(1), v));
  EXPECT_ERR(EAGAIN, syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), rt(1)));
  /* ...kill() is not (Linux lets SI_USER past the limit), nor a standard
   * signal (it does not queue). */
  CHECK(kill(getpid(), rt(2)) == 0, "kill over the limit: %s", strerror(errno));
  CHECK(sigqueue(getpid(), SIGUSR1, v) == 0, "standard sigqueue over the limit: %s", strerror(errno));
  CHECK(sigqueue(getpid(), SIGUSR1, v) == 0, "twice: %s", strerror(errno));
  CHECK(drain(rt(0)) == LIMIT, "the %d queued instances, in order", LIMIT);
  CHECK(drain(rt(1)) == 0, "nothing of the refused signal");
  CHECK(drain(rt(2)) == 1, "the killed one");
  CHECK(drain(SIGUSR1) == 1, "SIGUSR1 once");
  /* Room again. */
  CHECK(sigqueue(getpid(), rt(1), v) == 0, "room after draining: %s", strerror(errno));
  CHECK(drain(rt(1)) == 1, "and it arrives");

  /* Timers: each is charged, whatever its notification. */
  timer_t t[LIMIT + 1];
  int made = 0;
  err = 0;
  for (; made <= LIMIT; ++made) {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = made % 2 ? SIGEV_NONE : SIGEV_SIGNAL;
    ev.sigev_signo = rt(3);
    if (timer_create(CLOCK_MONOTONIC, &ev, &t[made])) {
      err = errno;
      break;
    }
  }
  CHECK(made == LIMIT && err == EAGAIN, "timer_create: %d made, then errno %d (%s)", made, err, strerror(err));
  EXPECT_ERR(EAGAIN, sigqueue(getpid(), rt(0), v));
  for (int i = 0; i < 5 && i < made; ++i) timer_delete(t[i]);
  n = queue_until_refused(rt(0), &err);
  CHECK(n == (made >= 5 ? 5 : 0) && err == EAGAIN, "5 timers deleted: %d queued (errno %d)", n, err);
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_NONE;
  timer_t extra;
  EXPECT_ERR(EAGAIN, timer_create(CLOCK_MONOTONIC, &ev, &extra));
  CHECK(drain(rt(0)) == n, "drained");
  for (int i = 5; i < made; ++i) timer_delete(t[i]);
  CHECK(timer_create(CLOCK_MONOTONIC, &ev, &extra) == 0, "a timer again: %s", strerror(errno));
  timer_delete(extra);
  /* A lowered limit below what is pending refuses the next one. */
  for (int i = 0; i < 3; ++i) sigqueue(getpid(), rt(0), (union sigval){.sival_int = i});
  struct rlimit two = {2, LIMIT};
  setrlimit(RLIMIT_SIGPENDING, &two);
  EXPECT_ERR(EAGAIN, sigqueue(getpid(), rt(0), v));
  CHECK(drain(rt(0)) == 3, "the three queued before");
}

int main(void) {
  pid_t c = fork();
  if (c == 0) {
    child();
    printf("abi_sigpending: the child made %d checks, %d failed\n", g_checks, g_failures);
    fflush(stdout);
    _exit(g_failures ? 1 : 0);
  }
  int ws = 0;
  CHECK(waitpid(c, &ws, 0) == c && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child: status %#x", ws);
  return finish("abi_sigpending");
}
