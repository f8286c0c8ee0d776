/* Time syscalls: clock_gettime/getres/settime for every clock, dynamic CPU
 * clocks, clock_nanosleep, nanosleep, gettimeofday/settimeofday, time,
 * times, getrusage — results and Linux's error codes. Raw syscalls, so the
 * kernel is tested and not a vDSO. */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>

#define NS 1000000000ll

static long long ts_ns(struct timespec t) { return t.tv_sec * NS + t.tv_nsec; }
static long long now_ns(int clock) {
  struct timespec t;
  if (syscall(SYS_clock_gettime, clock, &t) != 0) return -1;
  return ts_ns(t);
}
/* Works until the thread has used `ns` of CPU time (or 10 s went by). */
static void burn(long long ns) {
  long long end = now_ns(CLOCK_THREAD_CPUTIME_ID) + ns, limit = now_ns(CLOCK_MONOTONIC) + 10 * NS;
  volatile unsigned x = 0;
  while (now_ns(CLOCK_THREAD_CPUTIME_ID) < end && now_ns(CLOCK_MONOTONIC) < limit)
    for (int i = 0; i < 10000; ++i) x += i;
}

static void test_clocks(void) {
  const int ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                     CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,
                     11 /*CLOCK_TAI*/};
  for (unsigned i = 0; i < sizeof ids / sizeof *ids; ++i) {
    struct timespec t = {-1, -1}, r = {-1, -1};
    CHECK(syscall(SYS_clock_gettime, ids[i], &t) == 0, "clock_gettime(%d)", ids[i]);
    CHECK(t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < NS, "clock %d: %ld.%09ld", ids[i], (long)t.tv_sec, t.tv_nsec);
    CHECK(syscall(SYS_clock_getres, ids[i], &r) == 0, "clock_getres(%d)", ids[i]);
    CHECK(r.tv_sec == 0 && r.tv_nsec > 0 && r.tv_nsec <= 10000000, "resolution of %d: %ld", ids[i], r.tv_nsec);
    CHECK(syscall(SYS_clock_getres, ids[i], NULL) == 0, "clock_getres(%d, NULL)", ids[i]);
    EXPECT_ERR(EFAULT, syscall(SYS_clock_gettime, ids[i], BAD_PTR));
  }
  struct timespec t;
  EXPECT_ERR(EINVAL, syscall(SYS_clock_gettime, 100, &t));
  EXPECT_ERR(EINVAL, syscall(SYS_clock_gettime, 10, &t));
  EXPECT_ERR(EINVAL, syscall(SYS_clock_getres, 100, &t));
  EXPECT_ERR(EFAULT, syscall(SYS_clock_getres, CLOCK_MONOTONIC, KERNEL_PTR));
  EXPECT_ERR(EFAULT, syscall(SYS_clock_gettime, CLOCK_REALTIME, KERNEL_PTR));

  long long m0 = now_ns(CLOCK_MONOTONIC), m1 = now_ns(CLOCK_MONOTONIC);
  CHECK(m1 >= m0, "monotonic goes forward");
  long long rt = now_ns(CLOCK_REALTIME);
  CHECK(rt > 1500000000ll * NS, "realtime is a plausible date: %lld", rt / NS);

  /* CPU clocks advance with work; the process's includes the thread's. */
  long long c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  burn(30000000);
  long long c1 = now_ns(CLOCK_THREAD_CPUTIME_ID), p1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  CHECK(c1 - c0 >= 30000000, "thread CPU time grew by only %lld ns in 10 s of work", c1 - c0);
  CHECK(p1 >= c1 - 10000000, "process CPU %lld >= thread CPU %lld", p1, c1);
  /* Dynamic CPU clocks, as clock_getcpuclockid/pthread_getcpuclockid make them. */
  clockid_t proc_clock = (clockid_t)((~(unsigned)getpid() << 3) | 2);
  clockid_t self_proc = (clockid_t)((~0u << 3) | 2);
  clockid_t thread_clock = (clockid_t)((~(unsigned)syscall(SYS_gettid) << 3) | 4 | 2);
  CHECK(now_ns(proc_clock) >= c1 - 10000000, "the process's dynamic clock");
  CHECK(now_ns(self_proc) >= 0, "the dynamic clock of pid 0 (self)");
  CHECK(now_ns(thread_clock) >= c1, "the thread's dynamic clock");
  EXPECT_ERR(EINVAL, syscall(SYS_clock_gettime, (clockid_t)((~0u << 3) | 3), &t));  /* kind 3 */
  EXPECT_ERR(EINVAL, syscall(SYS_clock_gettime, (clockid_t)((~54321u << 3) | 2), &t)); /* no such pid */
  struct timespec r;
  CHECK(syscall(SYS_clock_getres, thread_clock, &r) == 0, "getres of a thread clock");
}

static void test_sleep(void) {
  struct timespec req = {0, 20000000}, rem = {7, 7};
  long long t0 = now_ns(CLOCK_MONOTONIC);
  CHECK(syscall(SYS_nanosleep, &req, &rem) == 0, "nanosleep 20 ms");
  long long el = now_ns(CLOCK_MONOTONIC) - t0;
  CHECK(el >= 20000000, "nanosleep slept %lld ns", el);
  CHECK(el < 5 * NS, "nanosleep woke up in time: %lld ns", el);
  CHECK(rem.tv_sec == 7, "rem untouched when not interrupted");
  struct timespec bad = {0, NS};
  EXPECT_ERR(EINVAL, syscall(SYS_nanosleep, &bad, NULL));
  bad.tv_nsec = -1;
  EXPECT_ERR(EINVAL, syscall(SYS_nanosleep, &bad, NULL));
  bad.tv_sec = -1;
  bad.tv_nsec = 0;
  EXPECT_ERR(EINVAL, syscall(SYS_nanosleep, &bad, NULL));
  EXPECT_ERR(EFAULT, syscall(SYS_nanosleep, BAD_PTR, NULL));
  struct timespec zero = {0, 0};
  CHECK(syscall(SYS_nanosleep, &zero, NULL) == 0, "nanosleep 0");

  /* clock_nanosleep: relative and absolute on MONOTONIC, REALTIME, BOOTTIME. */
  const int clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
  for (int i = 0; i < 3; ++i) {
    t0 = now_ns(CLOCK_MONOTONIC);
    CHECK(syscall(SYS_clock_nanosleep, clocks[i], 0, &req, NULL) == 0, "clock_nanosleep(%d) relative", clocks[i]);
    CHECK(now_ns(CLOCK_MONOTONIC) - t0 >= 20000000, "relative sleep on %d", clocks[i]);
    long long target = now_ns(clocks[i]) + 15000000;
    struct timespec abs = {target / NS, target % NS};
    CHECK(syscall(SYS_clock_nanosleep, clocks[i], TIMER_ABSTIME, &abs, NULL) == 0, "clock_nanosleep(%d) absolute", clocks[i]);
    CHECK(now_ns(clocks[i]) >= target, "absolute sleep on %d reached its deadline", clocks[i]);
  }
  struct timespec past = {1, 0};
  t0 = now_ns(CLOCK_MONOTONIC);
  CHECK(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL) == 0, "a past deadline");
  CHECK(now_ns(CLOCK_MONOTONIC) - t0 < NS, "returns at once");
  EXPECT_ERR(EINVAL, syscall(SYS_clock_nanosleep, 100, 0, &req, NULL));
  EXPECT_ERR(EOPNOTSUPP, syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL));
  EXPECT_ERR(EOPNOTSUPP, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC_RAW, 0, &req, NULL));
  EXPECT_ERR(EFAULT, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, BAD_PTR, NULL));
  EXPECT_ERR(EFAULT, syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, 0, NULL, NULL));
  bad.tv_sec = 0;
  bad.tv_nsec = NS;
  EXPECT_ERR(EINVAL, syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, NULL));
  /* Sleeping on the process CPU clock until 5 ms more CPU time was used:
   * an absolute target in the past returns at once. */
  struct timespec cpu_past = {0, 1};
  CHECK(syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &cpu_past, NULL) == 0,
        "process CPU clock sleep to a past time");
}

static void test_gettime(void) {
  struct timeval tv;
  struct timezone tz = {99, 99};
  CHECK(syscall(SYS_gettimeofday, &tv, &tz) == 0, "gettimeofday");
  CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec %ld", (long)tv.tv_usec);
  long long rt = now_ns(CLOCK_REALTIME);
  CHECK(rt / 1000 - (tv.tv_sec * 1000000ll + tv.tv_usec) < 2000000, "gettimeofday agrees with CLOCK_REALTIME");
  CHECK(syscall(SYS_gettimeofday, NULL, NULL) == 0, "gettimeofday(NULL, NULL)");
  CHECK(syscall(SYS_gettimeofday, &tv, NULL) == 0, "gettimeofday(tv, NULL)");
  EXPECT_ERR(EFAULT, syscall(SYS_gettimeofday, BAD_PTR, NULL));
  EXPECT_ERR(EFAULT, syscall(SYS_gettimeofday, NULL, KERNEL_PTR));

  time_t tl = 0;
  long s = syscall(SYS_time, &tl);
  CHECK(s > 1500000000 && tl == s, "time = %ld, *tloc = %ld", s, (long)tl);
  CHECK(syscall(SYS_time, NULL) >= s, "time(NULL)");
  EXPECT_ERR(EFAULT, syscall(SYS_time, BAD_PTR));
}

static void test_settime(void) {
  long long rt = now_ns(CLOCK_REALTIME);
  /* Setting the wall clock moves REALTIME, never MONOTONIC. */
  long long m0 = now_ns(CLOCK_MONOTONIC);
  struct timeval set = {2000000000, 500000};
  CHECK(syscall(SYS_settimeofday, &set, NULL) == 0, "settimeofday (as root)");
  long now = syscall(SYS_time, NULL);
  CHECK(now >= 2000000000 && now < 2000000010, "time after settimeofday = %ld", now);
  CHECK(now_ns(CLOCK_MONOTONIC) >= m0, "monotonic unaffected");
  struct timespec back = {rt / NS + 1, 0};
  CHECK(syscall(SYS_clock_settime, CLOCK_REALTIME, &back) == 0, "clock_settime(REALTIME)");
  CHECK(syscall(SYS_time, NULL) - back.tv_sec < 5, "clock restored");
  EXPECT_ERR(EINVAL, syscall(SYS_clock_settime, CLOCK_MONOTONIC, &back));
  EXPECT_ERR(EINVAL, syscall(SYS_clock_settime, 100, &back));
  struct timespec badts = {0, NS};
  EXPECT_ERR(EINVAL, syscall(SYS_clock_settime, CLOCK_REALTIME, &badts));
  EXPECT_ERR(EFAULT, syscall(SYS_clock_settime, CLOCK_REALTIME, BAD_PTR));
  struct timeval badtv = {1, 1000000};
  EXPECT_ERR(EINVAL, syscall(SYS_settimeofday, &badtv, NULL));
  EXPECT_ERR(EFAULT, syscall(SYS_settimeofday, BAD_PTR, NULL));
  struct timezone badtz = {24 * 60, 0};
  EXPECT_ERR(EINVAL, syscall(SYS_settimeofday, NULL, &badtz));
  CHECK(syscall(SYS_settimeofday, NULL, NULL) == 0, "settimeofday(NULL, NULL)");
}

static void test_usage(void) {
  struct tms t;
  long ticks = syscall(SYS_times, &t);
  CHECK(ticks >= 0 || ticks < -4095, "times = %ld", ticks);
  CHECK(t.tms_utime + t.tms_stime >= 2, "times: about 30 ms of CPU: %ld + %ld", (long)t.tms_utime, (long)t.tms_stime);
  CHECK(t.tms_cutime == 0 && t.tms_cstime == 0, "no children");
  CHECK(syscall(SYS_times, NULL) >= ticks, "times(NULL)");
  EXPECT_ERR(EFAULT, syscall(SYS_times, BAD_PTR));

  struct rusage u;
  memset(&u, 0xff, sizeof u);
  CHECK(syscall(SYS_getrusage, RUSAGE_SELF, &u) == 0, "getrusage(SELF)");
  long long cpu = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000ll + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
  CHECK(cpu >= 20000, "getrusage CPU time %lld us", cpu);
  CHECK(u.ru_utime.tv_usec >= 0 && u.ru_utime.tv_usec < 1000000, "ru_utime.tv_usec");
  CHECK(u.ru_maxrss > 0 && u.ru_maxrss < 1 << 24, "ru_maxrss %ld KiB", u.ru_maxrss);
  memset(&u, 0xff, sizeof u);
  CHECK(syscall(SYS_getrusage, RUSAGE_THREAD, &u) == 0, "getrusage(THREAD)");
  CHECK(u.ru_utime.tv_sec >= 0 && u.ru_utime.tv_sec < 1000, "thread utime");
  memset(&u, 0xff, sizeof u);
  CHECK(syscall(SYS_getrusage, RUSAGE_CHILDREN, &u) == 0, "getrusage(CHILDREN)");
  CHECK(u.ru_utime.tv_sec == 0 && u.ru_utime.tv_usec == 0, "no children: zero");
  EXPECT_ERR(EINVAL, syscall(SYS_getrusage, 5, &u));
  EXPECT_ERR(EFAULT, syscall(SYS_getrusage, RUSAGE_SELF, BAD_PTR));
}

/* A thread that exited still counts in the process's CPU time (Linux adds
 * an exiting thread's time to its thread group's). */
static void* burner(void* arg) {
  burn(60000000ll);
  *(long long*)arg = now_ns(CLOCK_THREAD_CPUTIME_ID);
  return NULL;
}
static void test_exited_thread_cpu(void) {
  long long before = now_ns(CLOCK_PROCESS_CPUTIME_ID), thread_cpu = 0;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, burner, &thread_cpu) == 0, "pthread_create");
  CHECK(pthread_join(t, NULL) == 0, "pthread_join");
  long long after = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  CHECK(thread_cpu >= 60000000ll, "the thread burnt %lld ns", thread_cpu);
  CHECK(after - before >= thread_cpu, "process CPU time grew %lld ns; the exited thread used %lld", after - before,
        thread_cpu);
}

int main(void) {
  /* Setting the clock needs root; only done inside Capsule (never to a host). */
  struct utsname un;
  int in_capsule = uname(&un) == 0 && strstr(un.release, "capsule") != NULL;
  test_clocks();
  test_sleep();
  test_gettime();
  if (in_capsule && getuid() == 0) test_settime();
  test_usage();
  test_exited_thread_cpu();
  return finish("abi_time");
}
