// The terminal path of the console (tests/cli/stdio_test.py, pty cases):
// prints whether fd 0 is a terminal, reads one canonical line and prints it
// bracketed, then waits for a signal (the test sends ^C).
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

int main(void) {
  struct termios t;
  struct winsize w;
  int tty = isatty(0);
  int got = tcgetattr(0, &t) == 0;
  int ws = ioctl(1, TIOCGWINSZ, &w) == 0;
  printf("isatty=%d tcgetattr=%d icanon=%d winsize=%d rows=%d\n", tty, got, got && (t.c_lflag & ICANON) ? 1 : 0,
         ws, ws ? w.ws_row : -1);
  printf("READY\n");
  fflush(stdout);
  char line[256];
  ssize_t n = read(0, line, sizeof line - 1);
  if (n < 0) n = 0;
  line[n] = 0;
  printf("LINE:[%s]\n", line);
  fflush(stdout);
  for (;;) pause();
}
