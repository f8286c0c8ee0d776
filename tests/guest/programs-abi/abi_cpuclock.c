/* abi-test: CPUS 2 */
/* CPU-time clocks (issue 18): CLOCK_PROCESS_CPUTIME_ID is the sum over every
 * thread of the process, live and exited; clock_nanosleep on it returns once
 * that much CPU time was used; the clocks clock_getcpuclockid and
 * pthread_getcpuclockid give for other threads and processes are readable;
 * getrusage (SELF, THREAD, CHILDREN) and times() agree with the clocks;
 * clock_getres of the CPU clocks. Only lower bounds and consistency are
 * checked (a loaded host or TCG may make anything slower, never faster). */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

#define NS 1000000000ll
#define MS 1000000ll
#define SPIN (200 * MS)

static long long ts_ns(struct timespec t) { return t.tv_sec * NS + t.tv_nsec; }
static long long now_ns(clockid_t clock) {
  struct timespec t;
  if (syscall(SYS_clock_gettime, clock, &t) != 0) return -1;
  return ts_ns(t);
}
static long long tv_ns(struct timeval t) { return t.tv_sec * NS + t.tv_usec * 1000ll; }
static long long rusage_ns(int who) {
  struct rusage u;
  if (syscall(SYS_getrusage, who, &u) != 0) return -1;
  return tv_ns(u.ru_utime) + tv_ns(u.ru_stime);
}

/* Works until the calling thread has used `ns` more CPU time, `*stop` is set
 * or 20 s went by. */
static void burn(long long ns, volatile int* stop) {
  long long end = now_ns(CLOCK_THREAD_CPUTIME_ID) + ns, limit = now_ns(CLOCK_MONOTONIC) + 20 * NS;
  volatile unsigned x = 0;
  while (now_ns(CLOCK_THREAD_CPUTIME_ID) < end && now_ns(CLOCK_MONOTONIC) < limit && !(stop && *stop))
    for (int i = 0; i < 10000; ++i) x += i;
}

struct spinner {
  pthread_t thread;
  pid_t tid;
  long long spent;         /* its CLOCK_THREAD_CPUTIME_ID after the spin */
  long long own_rusage;    /* its RUSAGE_THREAD after the spin */
  volatile int done, release;
};

static void* spin_thread(void* arg) {
  struct spinner* s = arg;
  s->tid = (pid_t)syscall(SYS_gettid);
  burn(SPIN, NULL);
  s->spent = now_ns(CLOCK_THREAD_CPUTIME_ID);
  s->own_rusage = rusage_ns(RUSAGE_THREAD);
  __atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
  /* Stays alive (asleep) until released, so its time is read while live. */
  for (int i = 0; i < 20000 && !__atomic_load_n(&s->release, __ATOMIC_SEQ_CST); ++i) usleep(1000);
  return NULL;
}

static void wait_flag(volatile int* flag) {
  for (int i = 0; i < 30000 && !__atomic_load_n(flag, __ATOMIC_SEQ_CST); ++i) usleep(1000);
}

static void test_sum_of_threads(void) {
  struct spinner s[2];
  memset(s, 0, sizeof s);
  long long p0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), m0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  long long r0 = rusage_ns(RUSAGE_SELF);
  for (int i = 0; i < 2; ++i) CHECK(pthread_create(&s[i].thread, NULL, spin_thread, &s[i]) == 0, "pthread_create");
  for (int i = 0; i < 2; ++i) wait_flag(&s[i].done);
  CHECK(s[0].spent >= SPIN && s[1].spent >= SPIN, "each thread spun: %lld %lld ns", s[0].spent, s[1].spent);
  CHECK(s[0].own_rusage >= s[0].spent - 10 * MS, "RUSAGE_THREAD of a spinner %lld ns, its clock %lld ns",
        s[0].own_rusage, s[0].spent);

  /* Both threads live: the process clock includes both spins. */
  long long m1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  long long p1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  long long live_sum = s[0].spent + s[1].spent + (m1 - m0);
  CHECK(p1 - p0 >= live_sum - 2 * MS, "process CPU grew %lld ns; threads used %lld + %lld, main %lld",
        p1 - p0, s[0].spent, s[1].spent, m1 - m0);
  CHECK(p1 - p0 >= 2 * SPIN, "two threads spinning %lld ns each advance the process clock %lld ns", SPIN, p1 - p0);
  /* ...and so do getrusage(RUSAGE_SELF) and times(). */
  long long r1 = rusage_ns(RUSAGE_SELF);
  CHECK(r1 - r0 >= 2 * SPIN - 20 * MS, "RUSAGE_SELF grew %lld ns for %lld ns of spinning", r1 - r0, 2 * SPIN);
  CHECK(r1 >= p1 - 20 * MS, "RUSAGE_SELF %lld ns agrees with the process clock %lld ns", r1, p1);
  struct tms t;
  CHECK(syscall(SYS_times, &t) != -1, "times");
  long hz = sysconf(_SC_CLK_TCK);
  long long times_ns = (long long)(t.tms_utime + t.tms_stime) * (NS / hz);
  CHECK(times_ns >= p1 - 30 * MS, "times() %lld ns agrees with the process clock %lld ns", times_ns, p1);
  /* The main thread slept meanwhile: RUSAGE_THREAD and its clock stay small. */
  long long main_thread = rusage_ns(RUSAGE_THREAD);
  CHECK(main_thread < p1 - SPIN, "RUSAGE_THREAD of main %lld ns is its own, not the process's %lld ns",
        main_thread, p1);

  /* Other threads' clocks (pthread_getcpuclockid) are readable while they live. */
  clockid_t cid;
  CHECK(pthread_getcpuclockid(s[0].thread, &cid) == 0, "pthread_getcpuclockid");
  long long other = now_ns(cid);
  CHECK(other >= s[0].spent, "the other thread's clock %lld ns, it spun %lld ns", other, s[0].spent);
  struct timespec res = {-1, -1};
  CHECK(syscall(SYS_clock_getres, cid, &res) == 0 && res.tv_sec == 0 && res.tv_nsec == 1,
        "clock_getres of another thread's clock = %ld.%09ld", (long)res.tv_sec, res.tv_nsec);

  /* Exited threads stay counted. */
  for (int i = 0; i < 2; ++i) {
    __atomic_store_n(&s[i].release, 1, __ATOMIC_SEQ_CST);
    pthread_join(s[i].thread, NULL);
  }
  long long p2 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  CHECK(p2 >= p1, "process clock after the threads exited %lld ns >= %lld ns", p2, p1);
  CHECK(rusage_ns(RUSAGE_SELF) >= p1 - 20 * MS, "RUSAGE_SELF keeps the exited threads' time");
  /* A thread that is gone: its clock is invalid (as Linux: EINVAL). */
  struct timespec ts;
  clockid_t dead = (clockid_t)((~(unsigned)s[0].tid << 3) | 4 | 2);
  EXPECT_ERR(EINVAL, syscall(SYS_clock_gettime, dead, &ts));
}

/* clock_nanosleep on the process clock returns once the process (another
 * thread here) used that much CPU time. */
static volatile int g_stop;
static void* background_burner(void* arg) {
  (void)arg;
  burn(20 * NS, &g_stop);
  return NULL;
}
static void test_cpu_sleep(void) {
  pthread_t b;
  g_stop = 0;
  CHECK(pthread_create(&b, NULL, background_burner, NULL) == 0, "pthread_create");
  long long p0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  struct timespec rel = {0, 50 * MS};
  CHECK(syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, 0, &rel, NULL) == 0,
        "relative clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID) errno %d", errno);
  long long p1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  CHECK(p1 - p0 >= 50 * MS, "slept until the process used %lld ns (wanted 50 ms)", p1 - p0);
  long long target = p1 + 40 * MS;
  struct timespec abs = {target / NS, target % NS};
  CHECK(syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &abs, NULL) == 0,
        "absolute clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID)");
  CHECK(now_ns(CLOCK_PROCESS_CPUTIME_ID) >= target, "absolute CPU-time deadline reached");
  /* The libc wrapper does the same; a thread's own clock cannot be slept on
   * (the raw call says EOPNOTSUPP for
   * CLOCK_THREAD_CPUTIME_ID and EINVAL for a thread's clock by id; glibc and
   * musl say EINVAL). */
  rel.tv_nsec = 10 * MS;
  CHECK(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &rel, NULL) == 0, "libc clock_nanosleep on the process clock");
  CHECK(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &rel, NULL) == EINVAL, "libc: thread clock is EINVAL");
  EXPECT_ERR(EOPNOTSUPP, syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &rel, NULL));
  clockid_t mine;
  CHECK(pthread_getcpuclockid(pthread_self(), &mine) == 0, "pthread_getcpuclockid(self)");
  EXPECT_ERR(EINVAL, syscall(SYS_clock_nanosleep, mine, 0, &rel, NULL));  /* a thread's clock by id */
  __atomic_store_n(&g_stop, 1, __ATOMIC_SEQ_CST);
  pthread_join(b, NULL);
}

/* Another process's clock (clock_getcpuclockid) and RUSAGE_CHILDREN. */
static void test_child_process(void) {
  int go[2], ready[2];
  CHECK(pipe(go) == 0 && pipe(ready) == 0, "pipes");
  pid_t pid = fork();
  if (pid == 0) {
    burn(SPIN, NULL);
    char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(2);
    if (read(go[0], &c, 1) != 1) _exit(3);
    _exit(0);
  }
  CHECK(pid > 0, "fork");
  char c;
  CHECK(read(ready[0], &c, 1) == 1, "the child spun");
  clockid_t cid;
  CHECK(clock_getcpuclockid(pid, &cid) == 0, "clock_getcpuclockid(child)");
  long long child = now_ns(cid);
  CHECK(child >= SPIN, "the child's process clock %lld ns (it spun %lld)", child, SPIN);
  struct timespec res = {-1, -1};
  CHECK(syscall(SYS_clock_getres, cid, &res) == 0 && res.tv_nsec == 1, "clock_getres of the child's clock %ld",
        res.tv_nsec);
  struct tms t0;
  syscall(SYS_times, &t0);
  long long c0 = rusage_ns(RUSAGE_CHILDREN);
  CHECK(write(go[1], &c, 1) == 1, "release the child");
  int st = -1;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
  long long c1 = rusage_ns(RUSAGE_CHILDREN);
  CHECK(c1 - c0 >= SPIN - 20 * MS, "RUSAGE_CHILDREN grew %lld ns by a child that spun %lld", c1 - c0, SPIN);
  struct tms t1;
  syscall(SYS_times, &t1);
  long hz = sysconf(_SC_CLK_TCK);
  long long dt = (long long)(t1.tms_cutime + t1.tms_cstime - t0.tms_cutime - t0.tms_cstime) * (NS / hz);
  CHECK(dt >= SPIN - 30 * MS, "times() children grew %lld ns", dt);
  struct timespec ts;
  EXPECT_ERR(EINVAL, syscall(SYS_clock_gettime, cid, &ts));  /* reaped: gone */
  close(go[0]), close(go[1]), close(ready[0]), close(ready[1]);
}

static void test_getres(void) {
  const clockid_t ids[] = {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
  for (int i = 0; i < 2; ++i) {
    struct timespec r = {-1, -1};
    CHECK(syscall(SYS_clock_getres, ids[i], &r) == 0 && r.tv_sec == 0 && r.tv_nsec == 1,
          "clock_getres(%d) = %ld.%09ld (Linux: 1 ns)", ids[i], (long)r.tv_sec, r.tv_nsec);
  }
  clockid_t cid;
  CHECK(clock_getcpuclockid(0, &cid) == 0, "clock_getcpuclockid(0)");
  CHECK(now_ns(cid) > 0, "own process clock by id");
  CHECK(clock_getcpuclockid(getpid(), &cid) == 0, "clock_getcpuclockid(getpid())");
  struct timespec ts;
  EXPECT_ERR(EINVAL, syscall(SYS_clock_getres, (clockid_t)((~54321u << 3) | 2), &ts)); /* no such pid */
}

int main(void) {
  test_getres();
  test_sum_of_threads();
  test_cpu_sleep();
  test_child_process();
  return finish("abi_cpuclock");
}
