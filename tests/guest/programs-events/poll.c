/* poll, ppoll, select, pselect: readiness, POLLNVAL, timeouts (and select's
 * remaining time), EINTR when a signal arrives, the temporary signal masks
 * of ppoll/pselect, and bad arguments (poll(2), select(2)). */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int g_handled;
static void on_usr1(int sig) {
  (void)sig;
  g_handled++;
}

static pid_t g_main_tid;
static void* kick_main(void* arg) {
  sleep_ms((int)(long)arg);
  syscall(SYS_tgkill, getpid(), g_main_tid, SIGUSR1);
  return NULL;
}
static pthread_t kick_later(int ms) {
  pthread_t t;
  pthread_create(&t, NULL, kick_main, (void*)(long)ms);
  return t;
}

static void test_poll_readiness(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  struct pollfd f[4] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}, {p[0], POLLOUT, 0}};
  int n = poll(f, 4, 0);
  CHECK(n == 1 && f[0].revents == 0 && f[1].revents == POLLOUT && f[2].revents == 0 && f[3].revents == 0,
        "only the write end is ready: n=%d %#x %#x %#x %#x", n, f[0].revents, f[1].revents, f[2].revents,
        f[3].revents);
  CHECK(write(p[1], "x", 1) == 1, "write");
  n = poll(f, 2, 0);
  CHECK(n == 2 && f[0].revents == POLLIN, "readable: n=%d %#x", n, f[0].revents);
  /* The same descriptor twice counts twice. */
  struct pollfd twice[2] = {{p[0], POLLIN, 0}, {p[0], POLLIN | POLLRDNORM, 0}};
  n = poll(twice, 2, 0);
  CHECK(n == 2 && twice[1].revents == (POLLIN | POLLRDNORM), "twice: n=%d %#x", n, twice[1].revents);
  /* A closed descriptor: POLLNVAL, counted, even with events 0. */
  int dead = dup(p[0]);
  close(dead);
  struct pollfd nv[2] = {{dead, 0, 0}, {p[0], POLLIN, 0}};
  n = poll(nv, 2, 1000);
  CHECK(n == 2 && nv[0].revents == POLLNVAL, "POLLNVAL: n=%d %#x", n, nv[0].revents);
  /* Writer gone: POLLHUP whether asked for or not. */
  close(p[1]);
  char c;
  CHECK(read(p[0], &c, 1) == 1, "drain");
  struct pollfd h = {p[0], 0, 0};
  CHECK(poll(&h, 1, 0) == 1 && h.revents == POLLHUP, "POLLHUP (%#x)", h.revents);
  close(p[0]);
  /* Regular files are always ready. */
  mkdir("/tmp", 0777);
  char path[] = "/tmp/poll-XXXXXX";
  int reg = mkstemp(path);
  struct pollfd rf = {reg, POLLIN | POLLOUT | POLLPRI, 0};
  CHECK(poll(&rf, 1, 1000) == 1 && rf.revents == (POLLIN | POLLOUT), "regular file: %#x", rf.revents);
  close(reg);
  unlink(path);
}

static void test_poll_timeouts(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  struct pollfd f = {p[0], POLLIN, 0};
  int ms[] = {0, 30, 120};
  for (int i = 0; i < 3; ++i) CHECK_WAIT(ms[i], poll(&f, 1, ms[i]) == 0);
  CHECK_WAIT(80, poll(NULL, 0, 80) == 0); /* no descriptors: a sleep */
  struct timespec ts = {0, 70 * 1000000};
  CHECK_WAIT(70, ppoll(&f, 1, &ts, NULL) == 0);
  /* The kernel writes the time left back into the timespec (0 here). */
  struct timespec left = {0, 30 * 1000000};
  CHECK(syscall(SYS_ppoll, &f, 1, &left, NULL, 8) == 0 && left.tv_sec == 0 && left.tv_nsec == 0,
        "ppoll leaves %ld.%09ld", (long)left.tv_sec, left.tv_nsec);
  close(p[0]);
  close(p[1]);
}

static void test_poll_errors(void) {
  EXPECT_ERR(EFAULT, poll((struct pollfd*)g_bad, 1, 0));
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  struct pollfd f = {0, 0, 0};
  EXPECT_ERR(EINVAL, syscall(SYS_poll, &f, (unsigned long)rl.rlim_cur + 1, 0));
  struct timespec bad = {0, -1};
  EXPECT_ERR(EINVAL, syscall(SYS_ppoll, &f, 1, &bad, NULL, 8));
  bad.tv_sec = -1, bad.tv_nsec = 0;
  EXPECT_ERR(EINVAL, syscall(SYS_ppoll, &f, 1, &bad, NULL, 8));
  EXPECT_ERR(EFAULT, syscall(SYS_ppoll, &f, 1, g_bad, NULL, 8));
  sigset_t set;
  sigemptyset(&set);
  struct timespec zero = {0, 0};
  EXPECT_ERR(EINVAL, syscall(SYS_ppoll, &f, 1, &zero, &set, 4));
  EXPECT_ERR(EFAULT, syscall(SYS_ppoll, &f, 1, &zero, g_bad, 8));
}

static void test_poll_eintr(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  struct pollfd f = {p[0], POLLIN, 0};
  g_handled = 0;
  pthread_t t = kick_later(50);
  int64_t t0 = now_ms();
  EXPECT_ERR(EINTR, poll(&f, 1, 5000));
  CHECK(g_handled == 1 && now_ms() - t0 < 2000, "poll interrupted by the handler (%d)", g_handled);
  pthread_join(t, NULL);
  /* The same with no timeout at all. */
  t = kick_later(50);
  EXPECT_ERR(EINTR, poll(&f, 1, -1));
  pthread_join(t, NULL);
  CHECK(g_handled == 2, "second handler (%d)", g_handled);
  close(p[0]);
  close(p[1]);
}

/* The select system call (not the libc's, which may copy the timeval)
 * on one descriptor with a timeout of `usec`. */
static int select_timeout(int fd, long usec, struct timeval* tv, fd_set* rd) {
  FD_ZERO(rd);
  FD_SET(fd, rd);
  tv->tv_sec = 0, tv->tv_usec = usec;
  return (int)syscall(SYS_select, fd + 1, rd, NULL, NULL, tv);
}

/* pselect (the libc's) on one descriptor, no mask. */
static int pselect_timeout(int fd, int ms, fd_set* rd) {
  struct timespec ts = {0, ms * 1000000L};
  FD_ZERO(rd);
  FD_SET(fd, rd);
  return pselect(fd + 1, rd, NULL, NULL, &ts, NULL);
}

static void test_select(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  fd_set rd, wr, ex;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_ZERO(&ex);
  FD_SET(p[0], &rd);
  FD_SET(p[1], &wr);
  FD_SET(p[0], &ex);
  struct timeval tv = {1, 0};
  int n = select(p[1] + 1, &rd, &wr, &ex, &tv);
  CHECK(n == 1 && !FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr) && !FD_ISSET(p[0], &ex), "write end only: n=%d", n);
  CHECK(write(p[1], "x", 1) == 1, "write");
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_SET(p[0], &rd);
  FD_SET(p[1], &wr);
  n = select(p[1] + 1, &rd, &wr, NULL, NULL);
  CHECK(n == 2 && FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr), "both: n=%d", n);
  /* Timeout: the sets come back empty and the timeval says 0 left. */
  char c;
  CHECK(read(p[0], &c, 1) == 1, "drain");
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  CHECK_WAIT(60, select_timeout(p[0], 60000, &tv, &rd) == 0);
  CHECK(!FD_ISSET(p[0], &rd), "select timed out: the set comes back empty");
  CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "time left %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
  /* Interrupted: EINTR, and the timeval holds the time left. */
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  tv.tv_sec = 5, tv.tv_usec = 0;
  g_handled = 0;
  pthread_t t = kick_later(50);
  EXPECT_ERR(EINTR, syscall(SYS_select, p[0] + 1, &rd, NULL, NULL, &tv));
  pthread_join(t, NULL);
  CHECK(g_handled == 1, "handler ran");
  CHECK(tv.tv_sec * 1000000 + tv.tv_usec < 5000000 && tv.tv_sec * 1000000 + tv.tv_usec > 3000000,
        "time left after EINTR between 3 and 5 s: %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
  /* select as a sleep. */
  CHECK_WAIT(50, (tv.tv_sec = 0, tv.tv_usec = 50000, select(0, NULL, NULL, NULL, &tv)) == 0);
  /* Errors. */
  int dead = dup(p[0]);
  close(dead);
  FD_ZERO(&rd);
  FD_SET(dead, &rd);
  tv.tv_sec = 0, tv.tv_usec = 0;
  EXPECT_ERR(EBADF, select(dead + 1, &rd, NULL, NULL, &tv));
  EXPECT_ERR(EINVAL, syscall(SYS_select, -1, NULL, NULL, NULL, &tv));
  tv.tv_usec = -1;
  EXPECT_ERR(EINVAL, syscall(SYS_select, 1, NULL, NULL, NULL, &tv));
  tv.tv_usec = 0;
  EXPECT_ERR(EFAULT, syscall(SYS_select, p[0] + 1, g_bad, NULL, NULL, &tv));
  EXPECT_ERR(EFAULT, syscall(SYS_select, p[0] + 1, NULL, NULL, NULL, g_bad));
  /* Bits at and above nfds are ignored, even for closed descriptors. */
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  FD_SET(dead, &rd);
  CHECK(write(p[1], "y", 1) == 1, "write");
  n = select(p[0] + 1, &rd, NULL, NULL, &tv);
  CHECK(dead > p[0] && n == 1 && FD_ISSET(p[0], &rd), "bits above nfds ignored: n=%d", n);
  close(p[0]);
  close(p[1]);
}

/* ppoll/pselect with a temporary mask: a signal blocked outside the call
 * interrupts it when the call's mask lets it in; the old mask is back
 * afterwards. A signal the call's mask blocks does not interrupt. */
static void test_sigmask(void) {
  sigset_t block, old, empty, now;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigemptyset(&empty);
  sigprocmask(SIG_BLOCK, &block, &old);
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  struct pollfd f = {p[0], POLLIN, 0};

  g_handled = 0;
  kill(getpid(), SIGUSR1);
  CHECK(g_handled == 0, "blocked");
  struct timespec ts = {5, 0};
  int64_t t0 = now_ms();
  EXPECT_ERR(EINTR, ppoll(&f, 1, &ts, &empty));
  CHECK(g_handled == 1 && now_ms() - t0 < 2000, "pending signal let in by ppoll's mask (%d)", g_handled);
  sigprocmask(SIG_SETMASK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR1), "mask restored after ppoll");

  /* Sent during the call. */
  pthread_t t = kick_later(50);
  EXPECT_ERR(EINTR, ppoll(&f, 1, NULL, &empty));
  pthread_join(t, NULL);
  CHECK(g_handled == 2, "sent during ppoll (%d)", g_handled);

  /* A mask that blocks it: the call times out, the signal stays pending. */
  t = kick_later(20);
  ts.tv_sec = 0, ts.tv_nsec = 150 * 1000000;
  CHECK(ppoll(&f, 1, &ts, &block) == 0, "ppoll with SIGUSR1 blocked times out");
  pthread_join(t, NULL);
  sigset_t pend;
  sigpending(&pend);
  CHECK(g_handled == 2 && sigismember(&pend, SIGUSR1), "still pending (%d)", g_handled);
  /* Ready at once: returns the count; the pending signal is not delivered
   * under the call's mask (Linux restores the mask first). */
  CHECK(write(p[1], "r", 1) == 1, "write");
  CHECK(ppoll(&f, 1, &ts, &empty) == 1, "ready");
  CHECK(g_handled == 2, "not delivered when the call succeeded (%d)", g_handled);
  char c;
  CHECK(read(p[0], &c, 1) == 1, "drain");

  /* pselect: the same. SIGUSR1 is still pending. */
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  ts.tv_sec = 5, ts.tv_nsec = 0;
  EXPECT_ERR(EINTR, pselect(p[0] + 1, &rd, NULL, NULL, &ts, &empty));
  CHECK(g_handled == 3, "pselect let it in (%d)", g_handled);
  sigprocmask(SIG_SETMASK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR1), "mask restored after pselect");
  t = kick_later(50);
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  EXPECT_ERR(EINTR, pselect(p[0] + 1, &rd, NULL, NULL, NULL, &empty));
  pthread_join(t, NULL);
  CHECK(g_handled == 4, "sent during pselect (%d)", g_handled);
  /* pselect timeout with no mask. */
  CHECK_WAIT(40, pselect_timeout(p[0], 40, &rd) == 0);
  /* pselect6's sixth argument: {sigset pointer, size}. */
  struct {
    const sigset_t* ss;
    size_t len;
  } data = {&empty, 4};
  ts.tv_sec = 0, ts.tv_nsec = 0;
  EXPECT_ERR(EINVAL, syscall(SYS_pselect6, p[0] + 1, &rd, NULL, NULL, &ts, &data));
  EXPECT_ERR(EFAULT, syscall(SYS_pselect6, p[0] + 1, &rd, NULL, NULL, &ts, g_bad));
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(p[0]);
  close(p[1]);
}

/* Many descriptors at once (more than fit the kernel's inline table):
 * exactly the ready ones come back, and a write to one of them wakes a
 * sleeping poll and select. */
#define MANY 100
static int g_many[MANY][2];
static void* write_later(void* arg) {
  sleep_ms(50);
  if (write(g_many[(long)arg][1], "w", 1) != 1) printf("FAIL %s:%d: write\n", __FILE__, __LINE__);
  return NULL;
}

static void test_many(void) {
  int ok = 1;
  for (int i = 0; i < MANY; ++i) ok &= pipe(g_many[i]) == 0;
  CHECK(ok, "pipes");
  struct pollfd f[MANY];
  for (int i = 0; i < MANY; ++i) f[i] = (struct pollfd){g_many[i][0], POLLIN, 0};
  CHECK(poll(f, MANY, 0) == 0, "none ready");
  CHECK(write(g_many[37][1], "a", 1) == 1 && write(g_many[99][1], "b", 1) == 1, "write");
  int n = poll(f, MANY, 0);
  CHECK(n == 2 && f[37].revents == POLLIN && f[99].revents == POLLIN && f[0].revents == 0, "two ready: n=%d", n);
  char c;
  CHECK(read(g_many[37][0], &c, 1) == 1 && read(g_many[99][0], &c, 1) == 1, "drain");
  pthread_t t;
  pthread_create(&t, NULL, write_later, (void*)63L);
  n = poll(f, MANY, 5000);
  CHECK(n == 1 && f[63].revents == POLLIN, "woken by a write to one of %d: n=%d", MANY, n);
  pthread_join(t, NULL);
  CHECK(read(g_many[63][0], &c, 1) == 1, "drain");
  fd_set rd;
  FD_ZERO(&rd);
  int maxfd = 0;
  for (int i = 0; i < MANY; ++i) {
    FD_SET(g_many[i][0], &rd);
    if (g_many[i][0] > maxfd) maxfd = g_many[i][0];
  }
  pthread_create(&t, NULL, write_later, (void*)5L);
  n = select(maxfd + 1, &rd, NULL, NULL, NULL);
  int which = -1, count = 0;
  for (int i = 0; i < MANY; ++i)
    if (FD_ISSET(g_many[i][0], &rd)) which = i, ++count;
  CHECK(n == 1 && count == 1 && which == 5, "select woken: n=%d count=%d which=%d", n, count, which);
  pthread_join(t, NULL);
  for (int i = 0; i < MANY; ++i) close(g_many[i][0]), close(g_many[i][1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  g_main_tid = (pid_t)syscall(SYS_gettid);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_usr1; /* no SA_RESTART */
  sigaction(SIGUSR1, &sa, NULL);
  test_poll_readiness();
  test_poll_timeouts();
  test_poll_errors();
  test_poll_eintr();
  test_select();
  test_sigmask();
  test_many();
  return finish("poll");
}
