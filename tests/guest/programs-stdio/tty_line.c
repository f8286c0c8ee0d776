// The terminal path of the console (tests/cli/stdio_test.py, pty cases):
// prints whether fd 0 is a terminal and its settings, then by mode:
//   tty_line          reads one canonical line, prints it bracketed
//   tty_line raw      switches off ICANON and ECHO (VMIN 1, as line
//                     editors do), reads one key, prints it bracketed
//   tty_line ignint   ignores SIGINT
//   tty_line devtty   stops after the first line
//   tty_line winch    prints "WINCH rows=R cols=C" (TIOCGWINSZ) on each
//                     SIGWINCH: the host terminal was resized
// and waits for a signal (the test sends ^C, or the host escape). The first
// line also says what open("/dev/tty") gives: "tty" (a terminal), "notty"
// (opened, but isatty is false: never right) or the errno (ENXIO without a
// controlling terminal, as on Linux).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t g_winch;
static void on_winch(int sig) {
  (void)sig;
  g_winch = 1;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "line";
  struct termios t;
  struct winsize w;
  int tty = isatty(0);
  int got = tcgetattr(0, &t) == 0;
  int ws = ioctl(1, TIOCGWINSZ, &w) == 0;
  int dt = open("/dev/tty", O_RDWR | O_CLOEXEC);
  char devtty[32];
  if (dt >= 0) snprintf(devtty, sizeof devtty, "%s", isatty(dt) ? "tty" : "notty");
  else snprintf(devtty, sizeof devtty, "%s", errno == ENXIO ? "ENXIO" : strerror(errno));
  if (dt >= 0) close(dt);
  printf("isatty=%d tcgetattr=%d icanon=%d winsize=%d rows=%d devtty=%s\n", tty, got,
         got && (t.c_lflag & ICANON) ? 1 : 0, ws, ws ? w.ws_row : -1, devtty);
  if (!strcmp(mode, "devtty")) return 0;
  if (!strcmp(mode, "order")) {
    /* stdout and stderr by turns, unbuffered: on one terminal the lines
     * must come out in the order written. */
    fflush(stdout);
    for (int i = 0; i < 200; ++i) {
      char b[32];
      int n = snprintf(b, sizeof b, "%d:%d\n", 1 + (i & 1), i);
      if (write(1 + (i & 1), b, (size_t)n) != n) printf("FAIL write %d\n", i);
    }
  }
  if (!strcmp(mode, "ignint")) signal(SIGINT, SIG_IGN);
  if (!strcmp(mode, "winch")) {
    /* SIGWINCH blocked but while waiting: one that comes between READY and
     * the wait is not lost. */
    sigset_t winch, old;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    sigprocmask(SIG_BLOCK, &winch, &old);
    signal(SIGWINCH, on_winch);
    printf("READY\n");
    fflush(stdout);
    for (;;) {
      while (!g_winch) sigsuspend(&old);
      g_winch = 0;
      struct winsize now;
      if (ioctl(1, TIOCGWINSZ, &now) == 0) printf("WINCH rows=%d cols=%d\n", now.ws_row, now.ws_col);
      else printf("FAIL TIOCGWINSZ\n");
      fflush(stdout);
    }
  }
  if (!strcmp(mode, "raw")) {
    struct termios r = t;
    r.c_lflag &= ~(ICANON | ECHO);
    r.c_cc[VMIN] = 1;
    r.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSANOW, &r) != 0) printf("FAIL tcsetattr\n");
    struct termios back;
    if (tcgetattr(0, &back) != 0 || (back.c_lflag & ICANON)) printf("FAIL settings not stored\n");
  }
  printf("READY\n");
  fflush(stdout);
  if (strcmp(mode, "ignint")) {
    char line[256];
    ssize_t n = read(0, line, sizeof line - 1);
    if (n < 0) n = 0;
    line[n] = 0;
    printf("%s:[%s]\n", strcmp(mode, "raw") ? "LINE" : "RAW", line);
    fflush(stdout);
    if (!strcmp(mode, "raw")) tcsetattr(0, TCSANOW, &t);
  }
  for (;;) pause();
}
