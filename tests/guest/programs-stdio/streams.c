// The program side of tests/cli/stdio_test.py (runs in the VM and, as the
// reference, on the host):
//   streams out-err     "out\n" on fd 1, "err\n" on fd 2
//   streams cat         copies stdin to stdout byte for byte until EOF,
//                       then "bytes N isatty I" on stderr
//   streams exit N      exits with status N
//   streams segv        dies of SIGSEGV
//   streams badptr      bad pointers and requests on fds 0-2 fail with the
//                       errno Linux gives (stdin a pipe holding "abc"),
//                       then "badptr ok" and the intact input on stdout
//   streams spam FD     writes "line\n" to FD (1 or 2) until a write fails:
//                       with SIGPIPE's default action it dies of it (141)
//   streams spam-ign FD the same with SIGPIPE ignored: prints
//                       "write: EPIPE" on the other stream and exits 1
//   streams signals     catches SIGHUP, SIGINT, SIGUSR1, SIGUSR2 and
//                       SIGTERM; prints "READY", then "GOT NAME code=C"
//                       for each signal (C its si_code: 0 from kill(2));
//                       SIGTERM ends it with status 42 (a clean shutdown)
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <termios.h>
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

static volatile sig_atomic_t g_got, g_code;

static void on_signal(int sig, siginfo_t* si, void* uc) {
  (void)uc;
  g_code = si->si_code;
  g_got = sig;
}

static int catch_signals(void) {
  static const struct { int sig; const char* name; } sigs[] = {
      {SIGHUP, "SIGHUP"}, {SIGINT, "SIGINT"}, {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}, {SIGTERM, "SIGTERM"}};
  sigset_t all, old;
  sigemptyset(&all);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; ++i) {
    sigaction(sigs[i].sig, &sa, NULL);
    sigaddset(&all, sigs[i].sig);
  }
  sigprocmask(SIG_BLOCK, &all, &old);  /* one at a time: sigsuspend opens the window */
  printf("READY\n");
  fflush(stdout);
  for (;;) {
    g_got = 0;
    while (!g_got) sigsuspend(&old);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; ++i)
      if (sigs[i].sig == g_got) printf("GOT %s code=%d\n", sigs[i].name, (int)g_code);
    fflush(stdout);
    if (g_got == SIGTERM) return 42;
  }
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "signals")) return catch_signals();
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
    volatile int* volatile p = (volatile int*)8;
    return *p;
  }
  if (!strcmp(argv[1], "badptr")) {
    int bad = 0;
    char* volatile wild = (char*)8;  // volatile: the compiler must not see through it
    struct termios t;
    int n;
#define CHECK(c)                                           \
  do {                                                     \
    if (!(c)) {                                            \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
      bad = 1;                                             \
    }                                                      \
  } while (0)
    usleep(300000);  // let "abc" arrive
    CHECK(read(0, wild, 3) == -1 && errno == EFAULT);
    CHECK(write(1, wild, 3) == -1 && errno == EFAULT);
    CHECK(write(2, wild, 3) == -1 && errno == EFAULT);
    CHECK(ioctl(0, TCGETS, &t) == -1 && errno == ENOTTY);
    CHECK(ioctl(1, TIOCGWINSZ, &t) == -1 && errno == ENOTTY);
    CHECK(ioctl(0, FIONREAD, wild) == -1 && errno == EFAULT);
    CHECK(ioctl(0, FIONREAD, &n) == 0 && n == 3);
    CHECK(!isatty(0) && !isatty(1) && !isatty(2));
    char buf[8] = {0};
    CHECK(read(0, buf, sizeof buf) == 3 && !memcmp(buf, "abc", 3));
    CHECK(read(0, buf, sizeof buf) == 0);
    if (!bad) printf("badptr ok %s\n", buf);
    return bad;
  }
  if ((!strcmp(argv[1], "spam") || !strcmp(argv[1], "spam-ign")) && argc > 2) {
    int fd = atoi(argv[2]);
    if (!strcmp(argv[1], "spam-ign")) signal(SIGPIPE, SIG_IGN);
    while (write(fd, "line\n", 5) == 5) {
    }
    int e = errno;
    dprintf(fd == 1 ? 2 : 1, "write: %s\n", e == EPIPE ? "EPIPE" : strerror(e));
    return 1;
  }
  return 2;
}
