// The program side of tests/cli/stdio_test.py (runs in the VM and, as the
// reference, on the host):
//   streams out-err     "out\n" on fd 1, "err\n" on fd 2
//   streams cat         copies stdin to stdout byte for byte until EOF,
//                       then "bytes N isatty I" on stderr
//   streams exit N      exits with status N
//   streams segv        dies of SIGSEGV
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "out-err")) {
    write_all(1, "out\n", 4);
    write_all(2, "err\n", 4);
    return 0;
  }
  if (!strcmp(argv[1], "cat")) {
    static char buf[65536];
    long long total = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
      if (write_all(1, buf, (size_t)n)) return 1;
      total += n;
    }
    if (n < 0) return 1;
    fprintf(stderr, "bytes %lld isatty %d\n", total, isatty(0));
    return 0;
  }
  if (!strcmp(argv[1], "exit") && argc > 2) return atoi(argv[2]);
  if (!strcmp(argv[1], "segv")) {
    volatile int* p = (volatile int*)8;
    return *p;
  }
  return 2;
}
