// alarm, setitimer/getitimer, POSIX timers, pause; a signal reaching a
// thread that is busy in a loop (no system calls).
#include "sigtest.h"

#include <sys/time.h>
#include <time.h>

static volatile int g_alrm, g_tm, g_tm_code, g_tm_value, g_vt;
static void on_alrm(int sig, siginfo_t* si, void* ctx) { g_alrm++; }
static void on_rt(int sig, siginfo_t* si, void* ctx) {
  g_tm++;
  g_tm_code = si->si_code;
  g_tm_value = si->si_value.sival_int;
}
static void on_vt(int sig, siginfo_t* si, void* ctx) { g_vt++; }

// -1 when the kernel has no clock_gettime yet: durations are then not checked.
static long now_ms(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) return -1;
  return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
#define CHECK_DURATION(dt, lo, hi)                                  \
  do {                                                              \
    if (now_ms() < 0) printf("sig_timers: no clock: duration not checked\n"); \
    else CHECK((dt) >= (lo) && (dt) < (hi));                        \
  } while (0)

int main(void) {
  CHECK(install(SIGALRM, on_alrm, 0) == 0);
  // alarm: remaining seconds of the previous one.
  CHECK(alarm(5) == 0);
  unsigned r = alarm(1);
  CHECK(r >= 4 && r <= 5);
  long t0 = now_ms();
  while (!g_alrm) {}  // busy: the signal must arrive without a syscall
  long dt = now_ms() - t0;
  CHECK(g_alrm == 1);
  CHECK_DURATION(dt, 900, 10000);
  CHECK(alarm(0) == 0);

  // pause returns -1/EINTR after the handler.
  alarm(1);
  CHECK(pause() == -1 && errno == EINTR);
  CHECK(g_alrm == 2);

  // setitimer periodic: three expiries, then disarm; getitimer.
  struct itimerval it = {{0, 100000}, {0, 100000}}, got;
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
  CHECK(getitimer(ITIMER_REAL, &got) == 0);
  CHECK(got.it_interval.tv_usec == 100000 && got.it_value.tv_sec == 0 && got.it_value.tv_usec <= 100000);
  t0 = now_ms();
  while (g_alrm < 5) pause();
  dt = now_ms() - t0;
  CHECK_DURATION(dt, 250, 10000);
  memset(&it, 0, sizeof(it));
  CHECK(setitimer(ITIMER_REAL, &it, &got) == 0);
  CHECK(got.it_interval.tv_usec == 100000);
  CHECK(getitimer(ITIMER_REAL, &got) == 0 && got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0);
  it.it_value.tv_usec = 2000000;
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == -1 && errno == EINVAL);
  CHECK(setitimer(7, &it, NULL) == -1 && errno == EINVAL);

  // ITIMER_VIRTUAL: process CPU time.
  CHECK(install(SIGVTALRM, on_vt, 0) == 0);
  struct itimerval vt = {{0, 0}, {0, 50000}};
  CHECK(setitimer(ITIMER_VIRTUAL, &vt, NULL) == 0);
  t0 = now_ms();
  for (volatile long spin = 0; !g_vt && spin < 4000000000L; spin++) {}
  CHECK(g_vt == 1);

  // POSIX timer, SIGEV_SIGNAL with a value.
  CHECK(install(SIGRTMIN, on_rt, 0) == 0);
  struct sigevent ev;
  memset(&ev, 0, sizeof(ev));
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGRTMIN;
  ev.sigev_value.sival_int = 777;
  timer_t tid;
  CHECK(timer_create(CLOCK_MONOTONIC, &ev, &tid) == 0);
  struct itimerspec its = {{0, 50000000}, {0, 50000000}}, cur;
  CHECK(timer_settime(tid, 0, &its, NULL) == 0);
  CHECK(timer_gettime(tid, &cur) == 0);
  CHECK(cur.it_interval.tv_nsec == 50000000 && cur.it_value.tv_nsec <= 50000000);
  while (g_tm < 3) pause();
  CHECK(g_tm_code == SI_TIMER && g_tm_value == 777);
  CHECK(timer_getoverrun(tid) >= 0);
  memset(&its, 0, sizeof(its));
  CHECK(timer_settime(tid, 0, &its, NULL) == 0);
  CHECK(timer_delete(tid) == 0);
  CHECK(timer_delete(tid) != 0);  // EINVAL (musl returns -EINVAL itself)

  // CLOCK_REALTIME absolute expiry.
  CHECK(timer_create(CLOCK_REALTIME, &ev, &tid) == 0);
  struct timespec now = {0, 0};
  if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
    printf("sig_timers: no clock_gettime: TIMER_ABSTIME not checked\n");
    timer_delete(tid);
  } else {
  its.it_value.tv_sec = now.tv_sec;
  its.it_value.tv_nsec = now.tv_nsec + 100000000;
  if (its.it_value.tv_nsec >= 1000000000) {
    its.it_value.tv_sec++;
    its.it_value.tv_nsec -= 1000000000;
  }
  int before = g_tm;
  CHECK(timer_settime(tid, TIMER_ABSTIME, &its, NULL) == 0);
  while (g_tm == before) pause();
  CHECK(timer_delete(tid) == 0);
  }

  // SIGEV_NONE: nothing is sent, gettime counts down.
  ev.sigev_notify = SIGEV_NONE;
  CHECK(timer_create(CLOCK_MONOTONIC, &ev, &tid) == 0);
  struct itimerspec five = {{0, 0}, {5, 0}};
  CHECK(timer_settime(tid, 0, &five, NULL) == 0);
  CHECK(timer_gettime(tid, &cur) == 0 && cur.it_value.tv_sec <= 5 && (cur.it_value.tv_sec || cur.it_value.tv_nsec));
  CHECK(timer_delete(tid) == 0);
  CHECK(timer_create(99, NULL, &tid) == -1 && errno == EINVAL);
  return finish("sig_timers");
}
