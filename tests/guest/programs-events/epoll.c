/* epoll: edge- and level-triggered reports on a pipe, EPOLLONESHOT re-arming,
 * EPOLLEXCLUSIVE, timeouts, interests dropped at the last close, nesting,
 * and the errors of epoll_create/ctl/wait (epoll(7), epoll_ctl(2)). */
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int add(int ep, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev = {.events = events, .data.u64 = data};
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int wait0(int ep, struct epoll_event* ev, int max) { return epoll_wait(ep, ev, max, 0); }

static void test_edge_triggered(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  int ep = epoll_create1(0);
  CHECK(ep >= 0, "epoll_create1");
  CHECK(add(ep, p[0], EPOLLIN | EPOLLET, 7) == 0, "add ET");
  struct epoll_event ev[4];
  CHECK(wait0(ep, ev, 4) == 0, "nothing yet");
  CHECK(write(p[1], "0123456789", 10) == 10, "write");
  int n = wait0(ep, ev, 4);
  CHECK(n == 1 && ev[0].events == EPOLLIN && ev[0].data.u64 == 7, "one event: n=%d events=%#x", n,
        n > 0 ? ev[0].events : 0);
  CHECK(wait0(ep, ev, 4) == 0, "reported once per write");
  char buf[16];
  CHECK(read(p[0], buf, 4) == 4, "partial read");
  CHECK(wait0(ep, ev, 4) == 0, "no new event after a partial read without new data");
  CHECK(write(p[1], "x", 1) == 1, "write again");
  n = wait0(ep, ev, 4);
  CHECK(n == 1 && ev[0].data.u64 == 7, "new data: a new event (n=%d)", n);
  CHECK(wait0(ep, ev, 4) == 0, "and only one");
  /* ET on the write end: one report of room, then one per change. */
  CHECK(add(ep, p[1], EPOLLOUT | EPOLLET, 8) == 0, "add write end");
  n = wait0(ep, ev, 4);
  CHECK(n == 1 && ev[0].events == EPOLLOUT && ev[0].data.u64 == 8, "writable at once (n=%d)", n);
  CHECK(wait0(ep, ev, 4) == 0, "once");
  close(p[0]);
  n = wait0(ep, ev, 4);
  CHECK(n == 1 && (ev[0].events & EPOLLERR) && ev[0].data.u64 == 8, "readers gone: EPOLLERR (n=%d %#x)", n,
        n > 0 ? ev[0].events : 0);
  close(p[1]);
  close(ep);
}

static void test_level_triggered(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  int ep = epoll_create(1);
  CHECK(ep >= 0, "epoll_create");
  CHECK(add(ep, p[0], EPOLLIN, 1) == 0, "add LT");
  CHECK(write(p[1], "abc", 3) == 3, "write");
  struct epoll_event ev[2];
  for (int i = 0; i < 3; ++i) {
    int n = wait0(ep, ev, 2);
    CHECK(n == 1 && ev[0].events == EPOLLIN, "reported again while readable (round %d, n=%d)", i, n);
  }
  char buf[8];
  CHECK(read(p[0], buf, 2) == 2, "read 2");
  CHECK(wait0(ep, ev, 2) == 1, "still readable");
  CHECK(read(p[0], buf, 8) == 1, "read the rest");
  CHECK(wait0(ep, ev, 2) == 0, "empty: no report");
  close(p[1]);
  int n = wait0(ep, ev, 2);
  CHECK(n == 1 && ev[0].events == EPOLLHUP, "writer gone: EPOLLHUP (%#x)", n > 0 ? ev[0].events : 0);
  close(p[0]);
  close(ep);
}

static void test_oneshot(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0 && (fcntl(ep, F_GETFD) & FD_CLOEXEC), "EPOLL_CLOEXEC");
  CHECK(add(ep, p[0], EPOLLIN | EPOLLONESHOT, 3) == 0, "add oneshot");
  CHECK(write(p[1], "a", 1) == 1, "write");
  struct epoll_event ev[2];
  CHECK(wait0(ep, ev, 2) == 1, "first report");
  CHECK(wait0(ep, ev, 2) == 0, "disabled after one report");
  CHECK(write(p[1], "b", 1) == 1, "write more");
  CHECK(wait0(ep, ev, 2) == 0, "still disabled with new data");
  struct epoll_event mod = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 4};
  CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &mod) == 0, "re-arm");
  int n = wait0(ep, ev, 2);
  CHECK(n == 1 && ev[0].data.u64 == 4, "re-armed: reported with the new data (n=%d)", n);
  CHECK(wait0(ep, ev, 2) == 0, "disabled again");
  close(p[0]);
  close(p[1]);
  close(ep);
}

/* EPOLLEXCLUSIVE: three threads, each with its own epoll watching one
 * eventfd exclusively, all asleep; one write should wake one of them. */
static int g_excl_fd;
static volatile int g_excl_woken;
static void* excl_waiter(void* arg) {
  (void)arg;
  int ep = epoll_create1(0);
  add(ep, g_excl_fd, EPOLLIN | EPOLLEXCLUSIVE, 0);
  struct epoll_event ev;
  if (epoll_wait(ep, &ev, 1, 1500) == 1) __atomic_add_fetch(&g_excl_woken, 1, __ATOMIC_SEQ_CST);
  close(ep);
  return NULL;
}

static void test_exclusive(void) {
  g_excl_fd = eventfd(0, EFD_NONBLOCK);
  CHECK(g_excl_fd >= 0, "eventfd");
  pthread_t t[3];
  for (int i = 0; i < 3; ++i) pthread_create(&t[i], NULL, excl_waiter, NULL);
  sleep_ms(300); /* let all three fall asleep */
  uint64_t one = 1;
  CHECK(write(g_excl_fd, &one, 8) == 8, "write");
  for (int i = 0; i < 3; ++i) pthread_join(t[i], NULL);
  CHECK(g_excl_woken >= 1 && g_excl_woken < 3, "exclusive wake-up woke %d of 3", g_excl_woken);
  /* The rules: not with ONESHOT, not on an epoll, never in MOD. */
  int ep = epoll_create1(0), inner = epoll_create1(0);
  EXPECT_ERR(EINVAL, add(ep, g_excl_fd, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
  EXPECT_ERR(EINVAL, add(ep, inner, EPOLLIN | EPOLLEXCLUSIVE, 0));
  CHECK(add(ep, g_excl_fd, EPOLLIN | EPOLLEXCLUSIVE, 0) == 0, "add exclusive");
  struct epoll_event mod = {.events = EPOLLIN};
  EXPECT_ERR(EINVAL, epoll_ctl(ep, EPOLL_CTL_MOD, g_excl_fd, &mod));
  mod.events = EPOLLIN | EPOLLEXCLUSIVE;
  EXPECT_ERR(EINVAL, epoll_ctl(ep, EPOLL_CTL_MOD, g_excl_fd, &mod));
  close(inner);
  close(ep);
  close(g_excl_fd);
}

static void test_timeouts(void) {
  int ep = epoll_create1(0);
  struct epoll_event ev;
  int64_t t0 = now_us();
  CHECK(epoll_wait(ep, &ev, 1, 0) == 0, "zero timeout");
  CHECK(now_us() - t0 < 50000, "zero timeout returns at once (%ld us)", (long)(now_us() - t0));
  int timeouts[] = {20, 100, 250};
  for (int i = 0; i < 3; ++i) CHECK_WAIT(timeouts[i], epoll_wait(ep, &ev, 1, timeouts[i]) == 0);
  struct timespec ts = {0, 60 * 1000000};
  CHECK_WAIT(60, syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8) == 0);
  ts.tv_nsec = 1000000000;
  EXPECT_ERR(EINVAL, syscall(SYS_epoll_pwait2, ep, &ev, 1, &ts, NULL, 8));
  close(ep);
}

static void test_close_removes(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  int ep = epoll_create1(0);
  CHECK(write(p[1], "z", 1) == 1, "write");
  CHECK(add(ep, p[0], EPOLLIN, 9) == 0, "add");
  int d = dup(p[0]);
  struct epoll_event ev[2];
  CHECK(wait0(ep, ev, 2) == 1, "ready");
  close(p[0]);
  int n = wait0(ep, ev, 2);
  CHECK(n == 1 && ev[0].data.u64 == 9, "file still open through a dup: still reported (n=%d)", n);
  EXPECT_ERR(EBADF, epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
  close(d);
  CHECK(wait0(ep, ev, 2) == 0, "last descriptor closed: interest gone");
  /* The same number reused for a new file is a new interest. */
  int q[2];
  CHECK(pipe(q) == 0, "pipe 2");
  CHECK(write(q[1], "y", 1) == 1, "write 2");
  CHECK(add(ep, q[0], EPOLLIN, 10) == 0, "add the new file (the old interest is gone)");
  n = wait0(ep, ev, 2);
  CHECK(n == 1 && ev[0].data.u64 == 10, "new interest reported (n=%d)", n);
  CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, q[0], NULL) == 0, "del");
  CHECK(wait0(ep, ev, 2) == 0, "deleted");
  close(q[0]);
  close(q[1]);
  close(p[1]);
  close(ep);
}

static void test_nesting(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  int inner = epoll_create1(0), outer = epoll_create1(0);
  CHECK(add(inner, p[0], EPOLLIN, 1) == 0, "inner add");
  CHECK(add(outer, inner, EPOLLIN, 2) == 0, "epoll in an epoll");
  struct epoll_event ev[2];
  CHECK(wait0(outer, ev, 2) == 0, "nothing");
  CHECK(write(p[1], "n", 1) == 1, "write");
  int n = wait0(outer, ev, 2);
  CHECK(n == 1 && ev[0].data.u64 == 2 && (ev[0].events & EPOLLIN), "outer sees inner readable (n=%d)", n);
  EXPECT_ERR(ELOOP, add(inner, outer, EPOLLIN, 3));
  EXPECT_ERR(EINVAL, add(inner, inner, EPOLLIN, 3));
  n = wait0(inner, ev, 2);
  CHECK(n == 1 && ev[0].data.u64 == 1, "inner reports the pipe (n=%d)", n);
  close(outer);
  close(inner);
  close(p[0]);
  close(p[1]);
}

/* A thread blocked in epoll_wait is woken by a write from another. */
static int g_wake_fd;
static void* late_writer(void* arg) {
  (void)arg;
  sleep_ms(50);
  uint64_t v = 5;
  if (write(g_wake_fd, &v, 8) != 8) printf("FAIL late write\n");
  return NULL;
}

static void test_blocking_wakeup(void) {
  g_wake_fd = eventfd(0, 0);
  int ep = epoll_create1(0);
  CHECK(add(ep, g_wake_fd, EPOLLIN, 42) == 0, "add eventfd");
  pthread_t t;
  pthread_create(&t, NULL, late_writer, NULL);
  struct epoll_event ev;
  int64_t t0 = now_ms();
  int n = epoll_wait(ep, &ev, 1, 5000);
  CHECK(n == 1 && ev.data.u64 == 42 && now_ms() - t0 < 2000, "woken by the write (n=%d)", n);
  pthread_join(t, NULL);
  close(ep);
  close(g_wake_fd);
}

static void test_errors(void) {
  EXPECT_ERR(EINVAL, syscall(SYS_epoll_create, 0)); /* the kernel's check (some libcs never call it) */
  EXPECT_ERR(EINVAL, syscall(SYS_epoll_create, -1));
  EXPECT_ERR(EINVAL, epoll_create1(1));
  int ep = epoll_create1(0);
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  struct epoll_event ev = {.events = EPOLLIN};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "add");
  EXPECT_ERR(EEXIST, epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
  EXPECT_ERR(ENOENT, epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev));
  EXPECT_ERR(ENOENT, epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
  EXPECT_ERR(EINVAL, epoll_ctl(ep, 99, p[1], &ev));
  EXPECT_ERR(EBADF, epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev));
  EXPECT_ERR(EBADF, epoll_ctl(999, EPOLL_CTL_ADD, p[0], &ev));
  EXPECT_ERR(EINVAL, epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev)); /* not an epoll */
  EXPECT_ERR(EINVAL, epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));     /* itself */
  EXPECT_ERR(EFAULT, epoll_ctl(ep, EPOLL_CTL_ADD, p[1], g_bad));
  char path[] = "/tmp/epoll-regular-XXXXXX";
  mkdir("/tmp", 0777);
  int reg = mkstemp(path);
  CHECK(reg >= 0, "regular file");
  EXPECT_ERR(EPERM, epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev));
  close(reg);
  unlink(path);
  struct epoll_event out[2];
  EXPECT_ERR(EINVAL, epoll_wait(ep, out, 0, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_epoll_wait, ep, out, -1, 0));
  EXPECT_ERR(EBADF, epoll_wait(999, out, 1, 0));
  EXPECT_ERR(EINVAL, epoll_wait(p[0], out, 1, 0));
  CHECK(write(p[1], "e", 1) == 1, "write");
  EXPECT_ERR(EFAULT, epoll_wait(ep, g_bad, 1, 0));
  sigset_t set;
  sigemptyset(&set);
  EXPECT_ERR(EINVAL, syscall(SYS_epoll_pwait, ep, out, 1, 0, &set, 4));
  EXPECT_ERR(EFAULT, syscall(SYS_epoll_pwait, ep, out, 1, 0, g_bad, 8));
  /* A read of an epoll descriptor is EINVAL. */
  char c;
  EXPECT_ERR(EINVAL, read(ep, &c, 1));
  close(p[0]);
  close(p[1]);
  close(ep);
}

/* epoll_pwait with a mask that lets SIGUSR1 in: interrupted (EINTR), and
 * the old mask (SIGUSR1 blocked) is back afterwards. */
static volatile int g_handled;
static void on_usr1(int sig) {
  (void)sig;
  g_handled++;
}

static void test_pwait_mask(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  sigset_t block, old, empty;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  g_handled = 0;
  kill(getpid(), SIGUSR1); /* pending, blocked */
  CHECK(g_handled == 0, "blocked");
  int ep = epoll_create1(0);
  struct epoll_event ev;
  sigemptyset(&empty);
  EXPECT_ERR(EINTR, epoll_pwait(ep, &ev, 1, 5000, &empty));
  CHECK(g_handled == 1, "handler ran during epoll_pwait (%d)", g_handled);
  sigset_t now;
  sigprocmask(SIG_SETMASK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR1), "mask restored after epoll_pwait");
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(ep);
}

/* Interests added, reported and dropped by close while another thread
 * keeps harvesting the same epoll: nothing left behind at the end. */
static int g_stress_ep;
static volatile int g_stress_stop;
static long g_stress_events;
static volatile int g_stress_started;
static void* harvester(void* arg) {
  (void)arg;
  struct epoll_event ev[8];
  __atomic_store_n(&g_stress_started, 1, __ATOMIC_SEQ_CST);
  while (!__atomic_load_n(&g_stress_stop, __ATOMIC_SEQ_CST)) {
    int n = epoll_wait(g_stress_ep, ev, 8, 1);
    if (n > 0) g_stress_events += n;
  }
  return NULL;
}

static void test_close_while_waiting(void) {
  g_stress_ep = epoll_create1(0);
  pthread_t t;
  pthread_create(&t, NULL, harvester, NULL);
  while (!__atomic_load_n(&g_stress_started, __ATOMIC_SEQ_CST)) sched_yield();
  int ok = 0;
  for (int i = 0; i < 400; ++i) {
    int p[2];
    if (pipe(p) != 0) break;
    if (add(g_stress_ep, p[0], (i & 1) ? EPOLLIN | EPOLLET : EPOLLIN, (uint64_t)i) == 0 &&
        add(g_stress_ep, p[1], EPOLLOUT | EPOLLONESHOT, (uint64_t)i) == 0 && write(p[1], "s", 1) == 1)
      ++ok;
    close(p[0]);
    close(p[1]);
  }
  __atomic_store_n(&g_stress_stop, 1, __ATOMIC_SEQ_CST);
  pthread_join(t, NULL);
  struct epoll_event ev[8];
  CHECK(ok == 400, "%d rounds (%ld events harvested meanwhile)", ok, g_stress_events);
  CHECK(wait0(g_stress_ep, ev, 8) == 0, "every interest went with its file");
  close(g_stress_ep);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  test_edge_triggered();
  test_level_triggered();
  test_oneshot();
  test_exclusive();
  test_timeouts();
  test_close_removes();
  test_nesting();
  test_blocking_wakeup();
  test_errors();
  test_pwait_mask();
  test_close_while_waiting();
  return finish("epoll");
}
