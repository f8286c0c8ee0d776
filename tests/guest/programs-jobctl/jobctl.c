/* Job control on the controlling terminal (docs/process.md "Job
 * control"): tcgetpgrp/tcsetpgrp and their errors, and what a background
 * process group gets: SIGTTIN for a read (EIO if ignored or blocked),
 * SIGTTOU for a write with TOSTOP and for tcsetpgrp (which go on if it is
 * ignored); at SIGTTIN's default action a background read stops the
 * reader, except in an orphaned group (EIO); another session has no
 * controlling terminal. Needs a terminal
 * on fd 0-2 (jobctl_test.py runs it on a pty, in the VM and on the host). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "../include/guest_check.h"

static volatile sig_atomic_t g_got;
static void on_sig(int sig) { g_got = sig; }

static void set_action(int sig, void (*h)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;  /* no SA_RESTART: the interrupted call says EINTR */
  sigaction(sig, &sa, NULL);
}

static void background_child(pid_t fg) {
  CHECK(setpgid(0, 0) == 0, "own group");
  CHECK(tcgetpgrp(0) == fg, "the foreground is still the parent's group (%d)", (int)tcgetpgrp(0));
  char c;
  set_action(SIGTTIN, SIG_IGN);
  EXPECT_ERR(EIO, read(0, &c, 1));
  set_action(SIGTTIN, SIG_DFL);
  sigset_t s, old;
  sigemptyset(&s);
  sigaddset(&s, SIGTTIN);
  sigprocmask(SIG_BLOCK, &s, &old);
  EXPECT_ERR(EIO, read(0, &c, 1));
  sigprocmask(SIG_SETMASK, &old, NULL);
  set_action(SIGTTIN, on_sig);
  g_got = 0;
  EXPECT_ERR(EINTR, read(0, &c, 1));
  CHECK(g_got == SIGTTIN, "SIGTTIN for a background read (%d)", (int)g_got);

  /* TOSTOP is set (by the parent): a write is SIGTTOU's. */
  set_action(SIGTTOU, on_sig);
  g_got = 0;
  EXPECT_ERR(EINTR, write(1, "x", 1));
  CHECK(g_got == SIGTTOU, "SIGTTOU for a background write with TOSTOP (%d)", (int)g_got);
  set_action(SIGTTOU, SIG_IGN);
  CHECK(write(1, "w\n", 2) == 2, "with SIGTTOU ignored the write goes on");

  set_action(SIGTTOU, on_sig);
  g_got = 0;
  EXPECT_ERR(EINTR, tcsetpgrp(0, getpgrp()));
  CHECK(g_got == SIGTTOU, "SIGTTOU for a background tcsetpgrp (%d)", (int)g_got);
  set_action(SIGTTOU, SIG_IGN);
  CHECK(tcsetpgrp(0, getpgrp()) == 0 && tcgetpgrp(0) == getpgrp(), "ignored: it takes the terminal");
  /* In the foreground now: no signal, it gives the terminal back. */
  set_action(SIGTTOU, on_sig);
  g_got = 0;
  CHECK(tcsetpgrp(0, fg) == 0 && g_got == 0 && tcgetpgrp(0) == fg, "given back");
  _exit(g_failures ? 1 : 0);
}

static int g_hup_fd;
static void on_hup(int sig) {
  (void)sig;
  (void)!write(g_hup_fd, "H", 1);
}

static int read_byte(int fd, char* out) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 30000) != 1) return 0;
  return read(fd, out, 1) == 1;
}

/* The controlling process's end: a child L makes a session and takes the
 * terminal (TIOCSCTTY 1, from the session that has it: root may), puts
 * its child G's group in the foreground and exits. G gets SIGHUP and the
 * session has no controlling terminal any more; our session, which lost
 * the terminal to L's, takes it back with TIOCSCTTY. */
static void controlling_process_exit(pid_t me) {
  int ev[2], go[2], lr[2];
  CHECK(pipe(ev) == 0 && pipe(go) == 0 && pipe(lr) == 0, "pipes");
  g_hup_fd = ev[1];
  pid_t l = fork();
  if (l == 0) {
    if (setsid() < 0 || ioctl(0, TIOCSCTTY, 1) != 0) _exit(2);
    pid_t g = fork();
    if (g == 0) {
      char ch;
      setpgid(0, 0);
      set_action(SIGHUP, on_hup);
      (void)!write(lr[1], "r", 1);
      (void)!read(go[0], &ch, 1); /* L has ended and we were told */
      errno = 0;
      int r = tcgetpgrp(0);
      (void)!write(ev[1], r == -1 && errno == ENOTTY ? "N" : "Y", 1);
      _exit(0);
    }
    setpgid(g, g);
    char ch;
    if (!read_byte(lr[0], &ch) || ch != 'r') _exit(3);
    if (tcsetpgrp(0, g) != 0) _exit(4);
    _exit(0);
  }
  int ws;
  CHECK(waitpid(l, &ws, 0) == l && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "the controlling process (status %#x)",
        ws);
  char ch = 0;
  CHECK(read_byte(ev[0], &ch) && ch == 'H', "its end sends SIGHUP to the foreground group (%c)", ch);
  CHECK(write(go[1], "g", 1) == 1, "go");
  CHECK(read_byte(ev[0], &ch) && ch == 'N', "the session has no controlling terminal any more (%c)", ch);
  errno = 0;
  CHECK(tcgetpgrp(0) == -1 && errno == ENOTTY, "ours was taken");
  CHECK(ioctl(0, TIOCSCTTY, 0) == 0, "a session leader takes the free terminal");
  CHECK(tcgetpgrp(0) == me, "ours again (%d)", (int)tcgetpgrp(0));
  /* G is ours now in the VM (pid 1 adopts orphans): reap what is there. */
  while (waitpid(-1, &ws, WNOHANG) > 0) {
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!isatty(0)) {
    printf("FAIL: fd 0 is not a terminal\n");
    return 1;
  }
  pid_t me = getpgrp();
  CHECK(tcgetpgrp(0) == me, "foreground group %d, ours %d", (int)tcgetpgrp(0), (int)me);
  EXPECT_ERR(EINVAL, tcsetpgrp(0, -1));
  EXPECT_ERR(ESRCH, tcsetpgrp(0, 0x3ffffff0));
  CHECK(tcsetpgrp(0, me) == 0, "own group");

  struct termios t, saved;
  CHECK(tcgetattr(0, &saved) == 0, "tcgetattr");
  t = saved;
  t.c_lflag |= TOSTOP;
  CHECK(tcsetattr(0, TCSANOW, &t) == 0, "TOSTOP");
  pid_t c = fork();
  if (c == 0) background_child(me);
  int ws;
  CHECK(waitpid(c, &ws, 0) == c && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "background child (status %#x)", ws);
  CHECK(tcgetpgrp(0) == me, "ours again");
  CHECK(tcsetattr(0, TCSANOW, &saved) == 0, "TOSTOP off");

  /* SIGTTIN at its default action stops the background group; continued
   * while still in the background, the restarted read stops it again. */
  c = fork();
  if (c == 0) {
    char ch;
    setpgid(0, 0);
    (void)!read(0, &ch, 1);
    _exit(3);
  }
  setpgid(c, c);
  CHECK(waitpid(c, &ws, WUNTRACED) == c && WIFSTOPPED(ws) && WSTOPSIG(ws) == SIGTTIN,
        "a background read stops the reader (status %#x)", ws);
  CHECK(kill(c, SIGCONT) == 0, "SIGCONT");
  int conts = 0;
  for (int k = 0; k < 3; ++k) {  /* it may stop again before we look */
    if (waitpid(c, &ws, WUNTRACED | WCONTINUED) != c) break;
    if (WIFCONTINUED(ws)) ++conts;
    else break;
  }
  CHECK(conts <= 1 && WIFSTOPPED(ws) && WSTOPSIG(ws) == SIGTTIN, "the read stops it again (status %#x)", ws);
  CHECK(kill(c, SIGKILL) == 0 && waitpid(c, &ws, 0) == c && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
        "a stopped reader is killed (status %#x)", ws);

  /* Our own group is orphaned (its leader's parent is in another session:
   * the pty's launcher on the host; pid 1 has none in the VM). With
   * another group in the foreground a read from it is EIO, even at
   * SIGTTIN's default action: nobody would continue it. */
  int hold[2];
  CHECK(pipe(hold) == 0, "pipe");
  pid_t x = fork();
  if (x == 0) {
    char ch;
    setpgid(0, 0);
    (void)!read(hold[0], &ch, 1);
    _exit(0);
  }
  setpgid(x, x);
  CHECK(tcsetpgrp(0, x) == 0 && tcgetpgrp(0) == x, "another group in the foreground");
  c = fork();
  if (c == 0) {
    char ch;
    errno = 0;
    int r = (int)read(0, &ch, 1);
    _exit(r == -1 && errno == EIO ? 0 : 1);
  }
  CHECK(waitpid(c, &ws, WUNTRACED) == c && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
        "a background read from an orphaned group is EIO (status %#x)", ws);
  set_action(SIGTTOU, SIG_IGN);
  CHECK(tcsetpgrp(0, me) == 0 && tcgetpgrp(0) == me, "the terminal back (SIGTTOU ignored)");
  set_action(SIGTTOU, SIG_DFL);
  CHECK(write(hold[1], "x", 1) == 1 && waitpid(x, &ws, 0) == x, "the other group ends");

  /* Another session: no controlling terminal; its group is not ours to
   * give the terminal to. */
  int go[2], ready[2];
  CHECK(pipe(go) == 0 && pipe(ready) == 0, "pipes");
  pid_t s = fork();
  if (s == 0) {
    char ch;
    int ok = setsid() == getpid();
    errno = 0;
    int r = tcgetpgrp(0);
    ok = ok && r == -1 && errno == ENOTTY;
    if (write(ready[1], "r", 1) != 1) _exit(2);
    (void)read(go[0], &ch, 1);
    _exit(ok ? 0 : 1);
  }
  char ch;
  CHECK(read(ready[0], &ch, 1) == 1, "ready");
  EXPECT_ERR(EPERM, tcsetpgrp(0, s));
  CHECK(write(go[1], "g", 1) == 1, "go");
  CHECK(waitpid(s, &ws, 0) == s && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
        "after setsid: tcgetpgrp is ENOTTY (status %#x)", ws);
  controlling_process_exit(me);
  if (g_failures == 0) printf("PASS jobctl\n");
  return g_failures ? 1 : 0;
}
