/* console: write/writev on fds 1 and 2, ioctl TCGETS/TIOCGWINSZ (a
 * termios or ENOTTY, consistently), EBADF for closed fds.
 *   console              the checks above
 *   console --stdin-eof  also: read(0) at EOF returns 0 (run with empty stdin)
 *   console --cat        copy stdin to stdout until EOF, then the checks */
#include "check.h"
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <termios.h>

static void test_write(void) {
  static const char line[] = "console: write to stdout\n";
  CHECK_EQ(write(1, line, sizeof line - 1), sizeof line - 1, "write(1) returns the full length");
  static const char eline[] = "console: write to stderr\n";
  CHECK_EQ(write(2, eline, sizeof eline - 1), sizeof eline - 1, "write(2) returns the full length");
  CHECK_EQ(write(1, line, 0), 0, "write of 0 bytes");
  char a[] = "console: ", b[] = "", c[] = "writev ", d[] = "of four parts\n";
  struct iovec iov[4] = {{a, strlen(a)}, {b, 0}, {c, strlen(c)}, {d, strlen(d)}};
  CHECK_EQ(writev(1, iov, 4), strlen(a) + strlen(c) + strlen(d), "writev(1) returns the sum of lengths");
  CHECK_EQ(writev(2, iov, 4), strlen(a) + strlen(c) + strlen(d), "writev(2) returns the sum of lengths");
  /* 4 KiB in one call: 64 lines of 64 bytes. */
  static char big[4096];
  for (int i = 0; i < 64; i++) {
    snprintf(big + i * 64, 65, "console: filler line %02d ......................................\n", i);
    big[i * 64 + 63] = '\n';
  }
  CHECK_EQ(write(1, big, sizeof big), sizeof big, "write(1) of 4 KiB at once");
  CHECK_ERR(write(1000, line, 4), EBADF, "write to a closed fd");
  CHECK_ERR(syscall(SYS_writev, 1, iov, -1), EINVAL, "writev with a negative count");
  char buf[4];
  CHECK_ERR(read(1000, buf, 4), EBADF, "read from a closed fd");
}

static void test_ioctl(void) {
  for (int fd = 0; fd <= 2; fd++) {
    struct termios t;
    struct winsize ws;
    char what[96];
    errno = 0;
    int r = ioctl(fd, TCGETS, &t);
    int e = errno;
    snprintf(what, sizeof what, "ioctl(%d, TCGETS): 0 or ENOTTY", fd);
    CHECK(r == 0 || (r == -1 && e == ENOTTY), what);
    snprintf(what, sizeof what, "isatty(%d) agrees with TCGETS", fd);
    CHECK_EQ(isatty(fd), r == 0, what);
    errno = 0;
    int r2 = ioctl(fd, TIOCGWINSZ, &ws);
    int e2 = errno;
    snprintf(what, sizeof what, "ioctl(%d, TIOCGWINSZ) agrees with TCGETS", fd);
    CHECK(r == 0 ? r2 == 0 : (r2 == -1 && e2 == ENOTTY), what);
    if (fd == 1) printf("console: fd 1 TCGETS %s, TIOCGWINSZ %s (%dx%d)\n", r == 0 ? "ok" : "ENOTTY",
                        r2 == 0 ? "ok" : "ENOTTY", r2 == 0 ? ws.ws_col : 0, r2 == 0 ? ws.ws_row : 0);
  }
  struct termios t;
  CHECK_ERR(ioctl(1000, TCGETS, &t), EBADF, "ioctl on a closed fd");
  CHECK_ERR(ioctl(1, 0x5401ff, &t), ENOTTY, "unknown ioctl on fd 1");
}

int main(int argc, char **argv) {
  check_init("console");
  int stdin_eof = argc > 1 && strcmp(argv[1], "--stdin-eof") == 0;
  if (argc > 1 && strcmp(argv[1], "--cat") == 0) {
    char buf[512];
    long total = 0, n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
      if (write(1, buf, n) != n) FAILF("cat: short write");
      total += n;
    }
    CHECK_EQ(n, 0, "cat: read ends with 0 at EOF");
    printf("console: cat copied %ld bytes\n", total);
  }
  fflush(stdout);
  test_write();
  test_ioctl();
  if (stdin_eof) {
    char buf[16];
    CHECK_EQ(read(0, buf, sizeof buf), 0, "read(0) at EOF returns 0");
    CHECK_EQ(read(0, buf, sizeof buf), 0, "read(0) at EOF again returns 0");
  }
  return check_finish();
}
