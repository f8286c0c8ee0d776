/* Stopping and continuing processes (docs/process.md "Stop and
 * continue", docs/signals.md): SIGSTOP/SIGTSTP stop a child (every
 * thread), wait4 WUNTRACED and waitid WSTOPPED report it once (WNOWAIT
 * leaves it), SIGCONT continues it (WCONTINUED), SIGCHLD says
 * CLD_STOPPED/CLD_CONTINUED (none with SA_NOCLDSTOP), a stopped child
 * makes no progress, SIGKILL ends a stopped child, a SIGTSTP handler runs
 * instead of a stop, SIGTSTP to an orphaned group is discarded, and a
 * group orphaned with a stopped member gets SIGHUP and SIGCONT.
 * /proc/<pid>/stat shows T. Passes on the host's Linux too. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../include/guest_check.h"

#define NTHREADS 4
static volatile unsigned long* g_count; /* shared with the children: one counter per thread */

static void spin(volatile unsigned long* c) {
  for (;;) __atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

static unsigned long count(int i) { return __atomic_load_n(&g_count[i], __ATOMIC_RELAXED); }

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Counter i moves within 20 s (bounded, not a timing assumption). */
static int progresses(int i) {
  unsigned long c0 = count(i);
  for (int k = 0; k < 2000; ++k) {
    if (count(i) != c0) return 1;
    sleep_ms(10);
  }
  return 0;
}

/* /proc/<pid>/stat's state letter. */
static char proc_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return '?';
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return '?';
  buf[n] = 0;
  char* p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

/* The next SIGCHLD (blocked) within 20 s: its si_code, si_pid, si_status. */
static int next_chld(siginfo_t* si) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGCHLD);
  struct timespec to = {20, 0};
  return sigtimedwait(&s, si, &to);
}

/* No SIGCHLD for 300 ms. */
static int no_chld(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGCHLD);
  struct timespec to = {0, 300000000};
  siginfo_t si;
  if (sigtimedwait(&s, &si, &to) < 0 && errno == EAGAIN) return 1;
  printf("  a SIGCHLD: code %d pid %d status %d\n", si.si_code, (int)si.si_pid, si.si_status);
  return 0;
}

static void drain_chld(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGCHLD);
  struct timespec to = {0, 0};
  siginfo_t si;
  while (sigtimedwait(&s, &si, &to) > 0) {
  }
}

/* A child in its own process group (not orphaned: its parent is in
 * another group of the same session) spinning on counter 0. */
static pid_t spinner(void) {
  g_count[0] = 0;
  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    spin(&g_count[0]);
  }
  setpgid(c, c);
  return c;
}

static int wait_status(pid_t c, int options) {
  int ws = -1;
  pid_t r = waitpid(c, &ws, options);
  return r == c ? ws : (r == 0 ? -2 : -1);
}

static void stop_and_continue(void) {
  printf("- stop and continue\n");
  pid_t c = spinner();
  CHECK(progresses(0), "the child runs");
  CHECK(kill(c, SIGSTOP) == 0, "SIGSTOP");
  int ws = wait_status(c, WUNTRACED);
  CHECK(WIFSTOPPED(ws) && WSTOPSIG(ws) == SIGSTOP, "WUNTRACED reports the stop (status %#x)", ws);
  siginfo_t si;
  CHECK(next_chld(&si) == SIGCHLD && si.si_code == CLD_STOPPED && si.si_pid == c && si.si_status == SIGSTOP,
        "SIGCHLD CLD_STOPPED (code %d pid %d status %d)", si.si_code, (int)si.si_pid, si.si_status);
  CHECK(proc_state(c) == 'T', "/proc stat state T (%c)", proc_state(c));
  unsigned long c0 = count(0);
  sleep_ms(300);
  CHECK(count(0) == c0, "a stopped child makes no progress (%lu -> %lu)", c0, count(0));
  CHECK(wait_status(c, WUNTRACED | WNOHANG) == -2, "the stop is reported once");
  CHECK(kill(c, SIGCONT) == 0, "SIGCONT");
  ws = wait_status(c, WCONTINUED);
  CHECK(ws >= 0 && WIFCONTINUED(ws), "WCONTINUED reports it (status %#x)", ws);
  CHECK(next_chld(&si) == SIGCHLD && si.si_code == CLD_CONTINUED && si.si_pid == c && si.si_status == SIGCONT,
        "SIGCHLD CLD_CONTINUED (code %d status %d)", si.si_code, si.si_status);
  CHECK(wait_status(c, WCONTINUED | WNOHANG) == -2, "the continuation is reported once");
  CHECK(progresses(0), "it runs again");
  CHECK(proc_state(c) != 'T', "no longer T (%c)", proc_state(c));

  /* waitid: WSTOPPED with WNOWAIT leaves the report; without, it is taken. */
  CHECK(kill(c, SIGSTOP) == 0, "SIGSTOP again");
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, c, &si, WSTOPPED | WNOWAIT) == 0 && si.si_code == CLD_STOPPED && si.si_pid == c &&
            si.si_status == SIGSTOP && si.si_signo == SIGCHLD,
        "waitid WSTOPPED|WNOWAIT (code %d status %d)", si.si_code, si.si_status);
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, c, &si, WSTOPPED | WNOWAIT | WNOHANG) == 0 && si.si_code == CLD_STOPPED && si.si_pid == c,
        "reported again (code %d pid %d)", si.si_code, (int)si.si_pid);
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, c, &si, WSTOPPED) == 0 && si.si_code == CLD_STOPPED && si.si_pid == c, "and taken");
  memset(&si, 0xff, sizeof si);
  CHECK(waitid(P_PID, c, &si, WSTOPPED | WNOHANG) == 0 && si.si_pid == 0, "gone (pid %d)", (int)si.si_pid);
  CHECK(wait_status(c, WUNTRACED | WNOHANG) == -2, "gone for wait4 too");
  /* Only exits asked for: a stopped child is not reported. */
  CHECK(wait_status(c, WNOHANG) == -2, "WNOHANG without WUNTRACED: nothing");
  /* waitid: a SIGCONT that continues it, and WEXITED alone does not see that. */
  CHECK(kill(c, SIGCONT) == 0, "SIGCONT");
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, c, &si, WCONTINUED) == 0 && si.si_code == CLD_CONTINUED && si.si_status == SIGCONT,
        "waitid WCONTINUED (code %d status %d)", si.si_code, si.si_status);

  /* SIGKILL ends a stopped child. */
  CHECK(kill(c, SIGSTOP) == 0, "SIGSTOP");
  ws = wait_status(c, WUNTRACED);
  CHECK(WIFSTOPPED(ws), "stopped (%#x)", ws);
  CHECK(kill(c, SIGKILL) == 0, "SIGKILL");
  ws = wait_status(c, 0);
  CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL, "a stopped child is killed (status %#x)", ws);
  drain_chld();
}

static void nocldstop(void) {
  printf("- SA_NOCLDSTOP\n");
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, &old);
  pid_t c = spinner();
  CHECK(kill(c, SIGSTOP) == 0, "SIGSTOP");
  int ws = wait_status(c, WUNTRACED);
  CHECK(WIFSTOPPED(ws), "stopped (%#x)", ws);
  CHECK(no_chld(), "SA_NOCLDSTOP: no SIGCHLD for a stop");
  CHECK(kill(c, SIGCONT) == 0, "SIGCONT");
  ws = wait_status(c, WCONTINUED);
  CHECK(ws >= 0 && WIFCONTINUED(ws), "continued (%#x)", ws);
  CHECK(no_chld(), "SA_NOCLDSTOP: none for a continuation");
  kill(c, SIGKILL);
  ws = wait_status(c, 0);
  siginfo_t si;
  CHECK(next_chld(&si) == SIGCHLD && si.si_code == CLD_KILLED, "its end still is (code %d)", si.si_code);
  sigaction(SIGCHLD, &old, NULL);
}

static int g_pipe[2];
static void on_tstp(int sig) {
  (void)sig;
  (void)!write(g_pipe[1], "h", 1);
}

static int read_byte(int fd, char* out) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 20000) != 1) return 0;
  return read(fd, out, 1) == 1;
}

static void tstp(void) {
  printf("- SIGTSTP\n");
  int go[2];
  CHECK(pipe(g_pipe) == 0 && pipe(go) == 0, "pipes");
  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    signal(SIGTSTP, on_tstp);
    (void)!write(g_pipe[1], "r", 1);
    char ch;
    (void)!read(go[0], &ch, 1); /* the handler ran */
    signal(SIGTSTP, SIG_DFL);
    (void)!write(g_pipe[1], "d", 1);
    for (;;) pause();
  }
  setpgid(c, c);
  char ch = 0;
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'r', "ready");
  CHECK(kill(c, SIGTSTP) == 0, "SIGTSTP");
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'h', "the SIGTSTP handler runs (%c)", ch);
  CHECK(wait_status(c, WUNTRACED | WNOHANG) == -2, "and the child is not stopped");
  CHECK(write(go[1], "g", 1) == 1, "go");
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'd', "default action again (%c)", ch);
  CHECK(kill(c, SIGTSTP) == 0, "SIGTSTP");
  int ws = wait_status(c, WUNTRACED);
  CHECK(WIFSTOPPED(ws) && WSTOPSIG(ws) == SIGTSTP, "SIGTSTP at its default action stops (%#x)", ws);
  kill(c, SIGKILL);
  ws = wait_status(c, 0);
  CHECK(WIFSIGNALED(ws), "killed (%#x)", ws);
  close(g_pipe[0]);
  close(g_pipe[1]);
  close(go[0]);
  close(go[1]);
  drain_chld();
}

static void on_cont_note(int sig) {
  (void)sig;
  (void)!write(g_pipe[1], "c", 1);
}

static void read_go(int fd) {
  char ch;
  while (read(fd, &ch, 1) < 0 && errno == EINTR) {
  }
}

/* SIGCONT continues a stopped process even while blocked (its handler
 * runs once unblocked); a stop signal discards a pending SIGCONT, and
 * SIGCONT a pending stop signal (Linux's prepare_signal). */
static void discards(void) {
  printf("- SIGCONT blocked, pending signals discarded\n");
  int go[2];
  CHECK(pipe(g_pipe) == 0 && pipe(go) == 0, "pipes");
  g_count[0] = 0;
  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    signal(SIGCONT, on_cont_note);
    signal(SIGTSTP, on_tstp);
    sigset_t b, old;
    sigemptyset(&b);
    sigaddset(&b, SIGCONT);
    sigprocmask(SIG_BLOCK, &b, &old);
    (void)!write(g_pipe[1], "r", 1);
    read_go(go[0]); /* stopped and continued meanwhile */
    sigset_t pend;
    sigpending(&pend);
    (void)!write(g_pipe[1], sigismember(&pend, SIGCONT) ? "p" : "n", 1); /* the SIGCONT is pending */
    sigprocmask(SIG_SETMASK, &old, NULL);                                /* its handler runs: 'c' */
    sigprocmask(SIG_BLOCK, &b, NULL);                                    /* blocked again */
    (void)!write(g_pipe[1], "B", 1);
    read_go(go[0]); /* a SIGCONT (pending), then SIGTSTP (its handler: 'h') */
    sigpending(&pend);
    (void)!write(g_pipe[1], sigismember(&pend, SIGCONT) ? "p" : "n", 1);
    signal(SIGTSTP, SIG_DFL);
    sigaddset(&b, SIGTSTP);
    sigprocmask(SIG_BLOCK, &b, NULL);
    (void)!write(g_pipe[1], "b", 1);
    read_go(go[0]); /* a SIGTSTP (blocked: pending), then SIGCONT */
    sigpending(&pend);
    (void)!write(g_pipe[1], sigismember(&pend, SIGTSTP) ? "p" : "n", 1);
    sigprocmask(SIG_SETMASK, &old, NULL); /* nothing left to stop it */
    read_go(go[0]);
    _exit(0);
  }
  setpgid(c, c);
  char ch = 0;
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'r', "ready");
  CHECK(kill(c, SIGSTOP) == 0, "SIGSTOP");
  int ws = wait_status(c, WUNTRACED);
  CHECK(WIFSTOPPED(ws), "stopped (%#x)", ws);
  CHECK(kill(c, SIGCONT) == 0, "SIGCONT (blocked)");
  ws = wait_status(c, WCONTINUED);
  CHECK(ws >= 0 && WIFCONTINUED(ws), "a blocked SIGCONT continues it (%#x)", ws);
  CHECK(write(go[1], "g", 1) == 1, "go");
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'p', "and stays pending (%c)", ch);
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'c', "its handler runs once unblocked (%c)", ch);
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'B', "SIGCONT blocked again (%c)", ch);
  /* SIGCONT (blocked, pending), then SIGTSTP: the SIGCONT is discarded. */
  CHECK(kill(c, SIGCONT) == 0 && kill(c, SIGTSTP) == 0, "SIGCONT then SIGTSTP");
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'h', "the SIGTSTP handler (%c)", ch);
  CHECK(write(go[1], "g", 1) == 1, "go");
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'n', "a stop signal discards a pending SIGCONT (%c)", ch);
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'b', "SIGTSTP blocked (%c)", ch);
  CHECK(kill(c, SIGTSTP) == 0 && kill(c, SIGCONT) == 0, "SIGTSTP then SIGCONT");
  CHECK(write(go[1], "g", 1) == 1, "go");
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'n', "SIGCONT discards a pending stop signal (%c)", ch);
  CHECK(wait_status(c, WUNTRACED | WNOHANG) == -2, "not stopped once unblocked");
  CHECK(write(go[1], "g", 1) == 1, "go");
  ws = wait_status(c, 0);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "it ends (%#x)", ws);
  close(g_pipe[0]);
  close(g_pipe[1]);
  close(go[0]);
  close(go[1]);
  drain_chld();
}

static void* thread_spin(void* arg) {
  spin(&g_count[(long)arg]);
  return NULL;
}

static void threads(void) {
  printf("- threads\n");
  for (int i = 0; i < NTHREADS; ++i) g_count[i] = 0;
  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    pthread_t t;
    for (long i = 1; i < NTHREADS; ++i) pthread_create(&t, NULL, thread_spin, (void*)i);
    spin(&g_count[0]);
  }
  setpgid(c, c);
  for (int i = 0; i < NTHREADS; ++i) CHECK(progresses(i), "thread %d runs", i);
  CHECK(kill(c, SIGSTOP) == 0, "SIGSTOP");
  int ws = wait_status(c, WUNTRACED);
  CHECK(WIFSTOPPED(ws), "stopped (%#x)", ws);
  unsigned long before[NTHREADS];
  for (int i = 0; i < NTHREADS; ++i) before[i] = count(i);
  sleep_ms(300);
  for (int i = 0; i < NTHREADS; ++i)
    CHECK(count(i) == before[i], "thread %d is stopped too (%lu -> %lu)", i, before[i], count(i));
  CHECK(kill(c, SIGCONT) == 0, "SIGCONT");
  for (int i = 0; i < NTHREADS; ++i) CHECK(progresses(i), "thread %d runs again", i);
  kill(c, SIGKILL);
  ws = wait_status(c, 0);
  CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL, "killed (%#x)", ws);
  drain_chld();
}

static void on_winch(int sig) {
  (void)sig;
  (void)!write(g_pipe[1], "w", 1);
}
static void on_hup(int sig) {
  (void)sig;
  (void)!write(g_pipe[1], "H", 1);
}
static void on_cont(int sig) {
  (void)sig;
  (void)!write(g_pipe[1], "C", 1);
}

static void orphans(void) {
  printf("- orphaned groups\n");
  CHECK(pipe(g_pipe) == 0, "pipe");
  /* A new session's leader: its group is orphaned (its parent is in
   * another session). SIGTSTP is discarded there; SIGSTOP still stops. */
  pid_t c = fork();
  if (c == 0) {
    setsid();
    signal(SIGWINCH, on_winch);
    (void)!write(g_pipe[1], "r", 1);
    for (;;) pause();
  }
  char ch = 0;
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'r', "ready");
  CHECK(kill(c, SIGTSTP) == 0 && kill(c, SIGWINCH) == 0, "SIGTSTP then SIGWINCH");
  CHECK(read_byte(g_pipe[0], &ch) && ch == 'w', "the later signal's handler ran (%c)", ch);
  CHECK(wait_status(c, WUNTRACED | WNOHANG) == -2, "SIGTSTP to an orphaned group does not stop it");
  CHECK(kill(c, SIGSTOP) == 0, "SIGSTOP");
  int ws = wait_status(c, WUNTRACED);
  CHECK(WIFSTOPPED(ws) && WSTOPSIG(ws) == SIGSTOP, "SIGSTOP does (%#x)", ws);
  kill(c, SIGKILL);
  ws = wait_status(c, 0);
  CHECK(WIFSIGNALED(ws), "killed (%#x)", ws);

  /* A (session leader) has a child B in another group of that session,
   * so B's group is not orphaned while A lives. B stops; A exits: B's
   * group becomes orphaned with a stopped member, and B gets SIGHUP and
   * SIGCONT. */
  pid_t a = fork();
  if (a == 0) {
    setsid();
    pid_t b = fork();
    if (b == 0) {
      setpgid(0, 0);
      signal(SIGHUP, on_hup);
      signal(SIGCONT, on_cont);
      raise(SIGSTOP);
      (void)!write(g_pipe[1], "E", 1);
      _exit(0);
    }
    setpgid(b, b);
    int s;
    if (waitpid(b, &s, WUNTRACED) != b || !WIFSTOPPED(s)) _exit(1);
    _exit(0);
  }
  siginfo_t si;
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, a, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == a, "A ended");
  /* A signalled B's group as it ended; a signal to the zombie A is
   * still accepted (and the kernel survives it). */
  CHECK(kill(a, SIGTERM) == 0, "kill of a zombie");
  ws = wait_status(a, 0);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "A saw B stop (%#x)", ws);
  int hup = 0, cont = 0, end = 0;
  for (int k = 0; k < 3; ++k) {
    if (!read_byte(g_pipe[0], &ch)) break;
    hup += ch == 'H';
    cont += ch == 'C';
    end += ch == 'E';
  }
  CHECK(hup == 1 && cont == 1 && end == 1, "orphaned with a stopped member: SIGHUP %d, SIGCONT %d, went on %d", hup,
        cont, end);
  close(g_pipe[0]);
  close(g_pipe[1]);
  /* In the VM B is our child now (pid 1 adopts orphans): reap it. */
  for (int k = 0; k < 200; ++k) {
    pid_t r = waitpid(-1, &ws, WNOHANG);
    if (r <= 0 && errno == ECHILD) break;
    if (r == 0) sleep_ms(10);
  }
  drain_chld();
}

static void bad_input(void) {
  printf("- bad input\n");
  siginfo_t si;
  int ws;
  EXPECT_ERR(EINVAL, waitid(P_ALL, 0, &si, 0));        /* none of WEXITED/WSTOPPED/WCONTINUED */
  EXPECT_ERR(EINVAL, waitid(P_ALL, 0, &si, 0x100000 | WEXITED));
  EXPECT_ERR(EINVAL, waitpid(-1, &ws, WNOWAIT));       /* not for wait4 */
  EXPECT_ERR(ECHILD, waitpid(-1, &ws, WUNTRACED | WCONTINUED | WNOHANG));
  EXPECT_ERR(ECHILD, waitid(P_ALL, 0, &si, WSTOPPED | WNOHANG));
  pid_t c = spinner();
  kill(c, SIGSTOP);
  EXPECT_ERR(EFAULT, waitpid(c, (int*)8, WUNTRACED)); /* the report is taken, then the copy fails */
  kill(c, SIGCONT);
  EXPECT_ERR(EFAULT, waitid(P_PID, c, (siginfo_t*)8, WCONTINUED));
  kill(c, SIGKILL);
  ws = wait_status(c, 0);
  CHECK(WIFSIGNALED(ws), "killed (%#x)", ws);
  drain_chld();
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  alarm(240); /* every wait is bounded: a hang ends the test */
  g_count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(g_count != MAP_FAILED, "shared page");
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGCHLD);
  sigprocmask(SIG_BLOCK, &s, NULL);
  stop_and_continue();
  nocldstop();
  tstp();
  discards();
  threads();
  orphans();
  bad_input();
  if (g_failures == 0) printf("PASS stop\n");
  return g_failures ? 1 : 0;
}
