/* eventfd, timerfd and signalfd through the Linux ABI: counters and
 * semaphore mode, EAGAIN and overflow; periodic, absolute and one-shot
 * timers with gettime; signals read as signalfd_siginfo, also through
 * poll and epoll (eventfd(2), timerfd_create(2), signalfd(2)). */
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

static short revents(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* --- eventfd --- */

static int g_efd;
static void* add_later(void* arg) {
  sleep_ms(50);
  uint64_t v = (uint64_t)(long)arg;
  if (write(g_efd, &v, 8) != 8) printf("FAIL %s:%d: late write\n", __FILE__, __LINE__);
  return NULL;
}

static void test_eventfd(void) {
  int fd = eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK(fd >= 0, "eventfd");
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "EFD_CLOEXEC");
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "EFD_NONBLOCK");
  uint64_t v = 0;
  CHECK(revents(fd, POLLIN | POLLOUT) == (POLLIN | POLLOUT), "readable and writable");
  CHECK(read(fd, &v, 8) == 8 && v == 5, "initial value %llu", (unsigned long long)v);
  EXPECT_ERR(EAGAIN, read(fd, &v, 8));
  CHECK(revents(fd, POLLIN | POLLOUT) == POLLOUT, "0: not readable");
  v = 3;
  CHECK(write(fd, &v, 8) == 8, "add 3");
  v = 4;
  CHECK(write(fd, &v, 8) == 8, "add 4");
  CHECK(read(fd, &v, 8) == 8 && v == 7, "sum %llu", (unsigned long long)v);
  /* Overflow: the counter tops out at 0xfffffffffffffffe. */
  v = 0xfffffffffffffffeull;
  CHECK(write(fd, &v, 8) == 8, "to the maximum");
  CHECK(revents(fd, POLLIN | POLLOUT) == POLLIN, "full: not writable");
  v = 1;
  EXPECT_ERR(EAGAIN, write(fd, &v, 8));
  v = 0xffffffffffffffffull;
  EXPECT_ERR(EINVAL, write(fd, &v, 8));
  CHECK(read(fd, &v, 8) == 8 && v == 0xfffffffffffffffeull, "max read back");
  v = 0;
  CHECK(write(fd, &v, 8) == 8, "adding 0 is allowed");
  /* Buffers and pointers. */
  uint32_t small;
  EXPECT_ERR(EINVAL, read(fd, &small, 4));
  EXPECT_ERR(EINVAL, write(fd, &small, 4));
  v = 1;
  CHECK(write(fd, &v, 8) == 8, "add 1");
  EXPECT_ERR(EFAULT, read(fd, g_bad, 8));
  EXPECT_ERR(EFAULT, write(fd, g_bad, 8));
  /* The value left the counter before the copy failed (as on Linux). */
  EXPECT_ERR(EAGAIN, read(fd, &v, 8));
  v = 1;
  CHECK(write(fd, &v, 8) == 8, "add 1");
  char big[16];
  CHECK(read(fd, big, 16) == 8, "a bigger buffer reads 8 bytes");
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek is a no-op on an eventfd");
  close(fd);
  EXPECT_ERR(EINVAL, eventfd(0, 0x40));

  /* Semaphore mode: one at a time. */
  fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
  for (int i = 0; i < 3; ++i) CHECK(read(fd, &v, 8) == 8 && v == 1, "semaphore read %d: %llu", i, (unsigned long long)v);
  EXPECT_ERR(EAGAIN, read(fd, &v, 8));
  close(fd);

  /* Blocking read woken by another thread's write. */
  g_efd = eventfd(0, 0);
  pthread_t t;
  pthread_create(&t, NULL, add_later, (void*)9L);
  int64_t t0 = now_ms();
  CHECK(read(g_efd, &v, 8) == 8 && v == 9, "blocking read got %llu", (unsigned long long)v);
  CHECK(now_ms() - t0 >= 40, "it waited");
  pthread_join(t, NULL);
  /* The raw eventfd(2) call (no flags argument). */
  int raw = (int)syscall(SYS_eventfd, 2);
  CHECK(raw >= 0 && read(raw, &v, 8) == 8 && v == 2, "eventfd(2) syscall");
  close(raw);
  close(g_efd);
}

/* --- timerfd --- */

/* A one-shot timer `ms` from now on `clock` (relative, or absolute with
 * TFD_TIMER_ABSTIME), read blocking: true if it expired once. */
static int timer_wait(int clock, int flags, int ms) {
  int fd = timerfd_create(clock, 0);
  struct itimerspec its = {{0, 0}, {0, ms * 1000000L}};
  if (flags & TFD_TIMER_ABSTIME) {
    clock_gettime(clock, &its.it_value);
    its.it_value.tv_nsec += ms * 1000000L;
    if (its.it_value.tv_nsec >= 1000000000) its.it_value.tv_sec++, its.it_value.tv_nsec -= 1000000000;
  }
  uint64_t n = 0;
  int ok = fd >= 0 && timerfd_settime(fd, flags, &its, NULL) == 0 && read(fd, &n, 8) == 8 && n == 1;
  close(fd);
  return ok;
}

static void test_timerfd(void) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  CHECK(fd >= 0, "timerfd_create");
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "TFD_CLOEXEC");
  uint64_t n = 0;
  EXPECT_ERR(EAGAIN, read(fd, &n, 8));
  struct itimerspec cur;
  CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "disarmed");

  /* Periodic: every 20 ms; count the expirations over a sleep. */
  struct itimerspec its = {{0, 20 * 1000000}, {0, 20 * 1000000}};
  int64_t t0 = now_us();
  CHECK(timerfd_settime(fd, 0, &its, NULL) == 0, "settime periodic");
  sleep_ms(110);
  int64_t t1 = now_us();
  CHECK(read(fd, &n, 8) == 8, "read count");
  int64_t t2 = now_us();
  /* Expirations at 20, 40, ... ms after t0: between those surely past at t1
   * and those possibly past at t2. */
  long lo = (long)((t1 - t0) / 20000) - 1, hi = (long)((t2 - t0) / 20000) + 1;
  CHECK((long)n >= lo && (long)n <= hi && n >= 4, "%llu expirations in [%ld, %ld]", (unsigned long long)n, lo, hi);
  CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 20 * 1000000 &&
            cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 20 * 1000000,
        "gettime of a periodic timer: %ld.%09ld / %ld.%09ld", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec,
        (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
  /* settime returns the old setting; value 0 disarms. */
  struct itimerspec off = {{0, 0}, {0, 0}}, old;
  CHECK(timerfd_settime(fd, 0, &off, &old) == 0 && old.it_interval.tv_nsec == 20 * 1000000, "old setting");
  CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "disarmed again");
  EXPECT_ERR(EAGAIN, read(fd, &n, 8));
  close(fd);

  /* One-shot, blocking read. */
  fd = timerfd_create(CLOCK_BOOTTIME, 0);
  CHECK(fd >= 0, "CLOCK_BOOTTIME");
  struct itimerspec once = {{0, 0}, {0, 50 * 1000000}};
  CHECK(timerfd_settime(fd, 0, &once, NULL) == 0, "one-shot");
  CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
            cur.it_value.tv_nsec <= 50 * 1000000,
        "time left %ld.%09ld", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
  CHECK(read(fd, &n, 8) == 8 && n == 1, "blocking read: %llu", (unsigned long long)n);
  CHECK(revents(fd, POLLIN) == 0, "read resets it");
  close(fd);
  /* Blocking reads of one-shot timers, relative and absolute, timed. */
  CHECK_WAIT(50, timer_wait(CLOCK_BOOTTIME, 0, 50));
  CHECK_WAIT(60, timer_wait(CLOCK_MONOTONIC, TFD_TIMER_ABSTIME, 60));
  CHECK_WAIT(70, timer_wait(CLOCK_REALTIME, TFD_TIMER_ABSTIME, 70));
  /* Realtime, absolute, an hour ahead: must not fire. */
  fd = timerfd_create(CLOCK_REALTIME, 0);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct itimerspec abs = {{0, 0}, now};
  abs.it_value.tv_sec = now.tv_sec + 3600;
  CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &abs, NULL) == 0, "an hour ahead");
  CHECK(revents(fd, POLLIN) == 0, "not expired");
  CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec >= 3590 && cur.it_value.tv_sec <= 3600,
        "an hour left: %ld s", (long)cur.it_value.tv_sec);
  close(fd);
  /* Realtime, absolute, in the past: expires at once. */
  fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
  clock_gettime(CLOCK_REALTIME, &now);
  struct itimerspec past = {{0, 0}, {now.tv_sec - 10, 0}};
  CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &past, NULL) == 0, "realtime past");
  struct pollfd pf = {fd, POLLIN, 0};
  CHECK(poll(&pf, 1, 1000) == 1, "readable");
  CHECK(read(fd, &n, 8) == 8 && n == 1, "expired at once: %llu", (unsigned long long)n);

  /* Errors. */
  EXPECT_ERR(EINVAL, timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
  EXPECT_ERR(EINVAL, timerfd_create(CLOCK_MONOTONIC, 0x40));
  struct itimerspec bad = {{0, 0}, {0, 1000000000}};
  EXPECT_ERR(EINVAL, timerfd_settime(fd, 0, &bad, NULL));
  bad.it_value.tv_nsec = -1;
  EXPECT_ERR(EINVAL, timerfd_settime(fd, 0, &bad, NULL));
  EXPECT_ERR(EINVAL, timerfd_settime(fd, 0x10, &once, NULL));
  EXPECT_ERR(EFAULT, timerfd_settime(fd, 0, (struct itimerspec*)g_bad, NULL));
  EXPECT_ERR(EFAULT, timerfd_settime(fd, 0, &once, (struct itimerspec*)g_bad));
  EXPECT_ERR(EFAULT, timerfd_gettime(fd, (struct itimerspec*)g_bad));
  EXPECT_ERR(EBADF, timerfd_settime(999, 0, &once, NULL));
  EXPECT_ERR(EBADF, timerfd_gettime(999, &cur));
  int efd = eventfd(0, 0);
  EXPECT_ERR(EINVAL, timerfd_settime(efd, 0, &once, NULL));
  EXPECT_ERR(EINVAL, timerfd_gettime(efd, &cur));
  close(efd);
  uint32_t small;
  EXPECT_ERR(EINVAL, read(fd, &small, 4));
  EXPECT_ERR(EINVAL, write(fd, &n, 8));
  close(fd);
}

/* --- signalfd --- */

static pid_t g_main_tid;
static void* send_later(void* arg) {
  sleep_ms(50);
  syscall(SYS_tgkill, getpid(), g_main_tid, (int)(long)arg);
  return NULL;
}

static void test_signalfd(void) {
  sigset_t mask, old;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigprocmask(SIG_BLOCK, &mask, &old);
  int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  CHECK(fd >= 0, "signalfd");
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "SFD_CLOEXEC");
  struct signalfd_siginfo si;
  EXPECT_ERR(EAGAIN, read(fd, &si, sizeof(si)));
  CHECK(revents(fd, POLLIN) == 0, "nothing pending");

  kill(getpid(), SIGUSR1);
  CHECK(revents(fd, POLLIN) == POLLIN, "readable with SIGUSR1 pending");
  memset(&si, 0, sizeof(si));
  CHECK(read(fd, &si, sizeof(si)) == sizeof(si), "read 128 bytes");
  CHECK(si.ssi_signo == SIGUSR1 && si.ssi_code == SI_USER && si.ssi_pid == (uint32_t)getpid(),
        "kill: signo %u code %d pid %u", si.ssi_signo, si.ssi_code, si.ssi_pid);
  EXPECT_ERR(EAGAIN, read(fd, &si, sizeof(si)));
  sigset_t pend;
  sigpending(&pend);
  CHECK(!sigismember(&pend, SIGUSR1), "consumed");

  syscall(SYS_tgkill, getpid(), g_main_tid, SIGUSR1);
  CHECK(read(fd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGUSR1 && si.ssi_code == SI_TKILL,
        "tgkill: signo %u code %d", si.ssi_signo, si.ssi_code);

  union sigval val = {.sival_int = 1234};
  sigqueue(getpid(), SIGUSR1, val);
  CHECK(read(fd, &si, sizeof(si)) == sizeof(si) && si.ssi_code == SI_QUEUE && si.ssi_int == 1234,
        "sigqueue: code %d int %d", si.ssi_code, si.ssi_int);

  /* Two signals in one read; a signal outside the mask is not taken. */
  sigaddset(&mask, SIGUSR2);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  CHECK(signalfd(fd, &mask, 0) == fd, "change the mask");
  kill(getpid(), SIGUSR1);
  kill(getpid(), SIGUSR2);
  struct signalfd_siginfo two[3];
  CHECK(read(fd, two, sizeof(two)) == 2 * sizeof(si), "two at once");
  CHECK(two[0].ssi_signo + two[1].ssi_signo == SIGUSR1 + SIGUSR2, "both signals");
  int other = SIGRTMIN + 1;
  sigset_t rt;
  sigemptyset(&rt);
  sigaddset(&rt, other);
  sigprocmask(SIG_BLOCK, &rt, NULL);
  kill(getpid(), other);
  EXPECT_ERR(EAGAIN, read(fd, &si, sizeof(si)));
  int rtfd = signalfd(-1, &rt, SFD_NONBLOCK);
  CHECK(read(rtfd, &si, sizeof(si)) == sizeof(si) && (int)si.ssi_signo == other, "rt signal on its own fd");
  close(rtfd);

  /* Blocking read, woken by a signal sent later. */
  int bfd = signalfd(-1, &mask, 0);
  pthread_t t;
  pthread_create(&t, NULL, send_later, (void*)(long)SIGUSR2);
  int64_t t0 = now_ms();
  CHECK(read(bfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGUSR2, "blocking read: %u", si.ssi_signo);
  CHECK(now_ms() - t0 >= 40, "it waited");
  pthread_join(t, NULL);

  /* Through epoll: a sleeping epoll_wait wakes when the signal arrives. */
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 77};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll add signalfd");
  pthread_create(&t, NULL, send_later, (void*)(long)SIGUSR1);
  int n = epoll_wait(ep, &ev, 1, 5000);
  CHECK(n == 1 && ev.data.u32 == 77, "epoll woke for the signal (n=%d)", n);
  pthread_join(t, NULL);
  CHECK(read(fd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGUSR1, "and it reads");
  /* Through poll. */
  pthread_create(&t, NULL, send_later, (void*)(long)SIGUSR1);
  struct pollfd pf = {fd, POLLIN, 0};
  CHECK(poll(&pf, 1, 5000) == 1 && pf.revents == POLLIN, "poll woke for the signal");
  pthread_join(t, NULL);
  CHECK(read(fd, &si, sizeof(si)) == sizeof(si), "read");
  close(ep);
  close(bfd);

  /* Errors. */
  char small[64];
  kill(getpid(), SIGUSR1);
  EXPECT_ERR(EINVAL, read(fd, small, sizeof(small)));
  EXPECT_ERR(EFAULT, read(fd, g_bad, sizeof(si)));
  EXPECT_ERR(EINVAL, write(fd, &si, sizeof(si))); /* opened for writing, but no write */
  EXPECT_ERR(EINVAL, syscall(SYS_signalfd4, -1, &mask, 4, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_signalfd4, -1, &mask, 8, 0x40));
  EXPECT_ERR(EFAULT, syscall(SYS_signalfd4, -1, g_bad, 8, 0));
  EXPECT_ERR(EBADF, syscall(SYS_signalfd4, 999, &mask, 8, 0));
  int efd = eventfd(0, 0);
  EXPECT_ERR(EINVAL, syscall(SYS_signalfd4, efd, &mask, 8, 0));
  close(efd);
  int raw = (int)syscall(SYS_signalfd, -1, &mask, 8);
  CHECK(raw >= 0, "signalfd(2) syscall");
  close(raw);
  close(fd);
  /* Nothing left pending. */
  sigset_t flush;
  sigemptyset(&flush);
  sigaddset(&flush, SIGUSR1);
  sigaddset(&flush, SIGUSR2);
  struct timespec zero = {0, 0};
  while (sigtimedwait(&flush, NULL, &zero) > 0) {
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  g_main_tid = (pid_t)syscall(SYS_gettid);
  test_eventfd();
  test_timerfd();
  test_signalfd();
  return finish("eventfds");
}
