/* Limits and process attributes: prlimit64/getrlimit/setrlimit, sysinfo,
 * prctl, getpriority/setpriority, sched policy queries, getrandom, rseq.
 * Checks that depend on Capsule's defaults (a fresh root process) run only
 * inside Capsule. */
#include "check.h"

#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#define INF ((uint64_t)-1)
struct rl {
  uint64_t cur, max;
};

static int in_capsule(void) {
  struct utsname u;
  return uname(&u) == 0 && strstr(u.release, "capsule") != NULL;
}

static void test_rlimits(int capsule) {
  struct rl r, o;
  for (int res = 0; res < 16; ++res) {
    CHECK(syscall(SYS_getrlimit, res, &r) == 0, "getrlimit(%d)", res);
    CHECK(r.cur <= r.max, "resource %d: soft %lu > hard %lu", res, (unsigned long)r.cur, (unsigned long)r.max);
    CHECK(syscall(SYS_prlimit64, 0, res, NULL, &o) == 0 && o.cur == r.cur && o.max == r.max, "prlimit64 agrees on %d", res);
  }
  EXPECT_ERR(EINVAL, syscall(SYS_getrlimit, 16, &r));
  EXPECT_ERR(EINVAL, syscall(SYS_getrlimit, 1000, &r));
  EXPECT_ERR(EFAULT, syscall(SYS_getrlimit, RLIMIT_NOFILE, BAD_PTR));
  EXPECT_ERR(EFAULT, syscall(SYS_setrlimit, RLIMIT_NOFILE, KERNEL_PTR));
  EXPECT_ERR(EFAULT, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, BAD_PTR, NULL));
  EXPECT_ERR(EFAULT, syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, BAD_PTR));
  EXPECT_ERR(ESRCH, syscall(SYS_prlimit64, 54321, RLIMIT_NOFILE, NULL, &o));
  EXPECT_ERR(EINVAL, syscall(SYS_prlimit64, 0, 99, NULL, &o));
  if (capsule) {
    syscall(SYS_getrlimit, RLIMIT_NOFILE, &r);
    CHECK(r.cur == 1024 && r.max == 4096, "NOFILE %lu/%lu", (unsigned long)r.cur, (unsigned long)r.max);
    syscall(SYS_getrlimit, RLIMIT_STACK, &r);
    CHECK(r.cur == 8 << 20 && r.max == INF, "STACK %lu/%lu", (unsigned long)r.cur, (unsigned long)r.max);
    syscall(SYS_getrlimit, RLIMIT_AS, &r);
    CHECK(r.cur == INF && r.max == INF, "AS unlimited");
    syscall(SYS_getrlimit, RLIMIT_DATA, &r);
    CHECK(r.cur == INF && r.max == INF, "DATA unlimited");
    syscall(SYS_getrlimit, RLIMIT_NPROC, &r);
    CHECK(r.cur > 0, "NPROC %lu", (unsigned long)r.cur);
  }
  /* Lower, read back, restore: prlimit64 returns the old value. */
  struct rl orig;
  syscall(SYS_getrlimit, RLIMIT_NOFILE, &orig);
  struct rl lower = {256, orig.max};
  CHECK(syscall(SYS_setrlimit, RLIMIT_NOFILE, &lower) == 0, "setrlimit NOFILE 256");
  CHECK(syscall(SYS_getrlimit, RLIMIT_NOFILE, &r) == 0 && r.cur == 256, "NOFILE now %lu", (unsigned long)r.cur);
  CHECK(syscall(SYS_prlimit64, syscall(SYS_getpid), RLIMIT_NOFILE, &orig, &o) == 0 && o.cur == 256, "prlimit64 swap");
  CHECK(syscall(SYS_getrlimit, RLIMIT_NOFILE, &r) == 0 && r.cur == orig.cur, "restored");
  struct rl inverted = {orig.max, orig.max - 1};
  EXPECT_ERR(EINVAL, syscall(SYS_setrlimit, RLIMIT_NOFILE, &inverted));
  EXPECT_ERR(EINVAL, syscall(SYS_prlimit64, 0, RLIMIT_CORE, &inverted, NULL));
  struct rl huge = {1024, (1u << 20) + 1};
  EXPECT_ERR(EPERM, syscall(SYS_setrlimit, RLIMIT_NOFILE, &huge));
  if (capsule && getuid() == 0) {
    struct rl raise = {1024, 8192};
    CHECK(syscall(SYS_setrlimit, RLIMIT_NOFILE, &raise) == 0, "root raises the hard limit");
    CHECK(syscall(SYS_getrlimit, RLIMIT_NOFILE, &r) == 0 && r.max == 8192, "hard now %lu", (unsigned long)r.max);
    CHECK(syscall(SYS_setrlimit, RLIMIT_NOFILE, &orig) == 0, "and lowers it back");
  }
  struct rl core = {0, 0};
  syscall(SYS_getrlimit, RLIMIT_CORE, &orig);
  CHECK(syscall(SYS_prlimit64, 0, RLIMIT_CORE, &core, NULL) == 0, "drop CORE hard limit");
  struct rl up = {0, 10};
  if (getuid() != 0) EXPECT_ERR(EPERM, syscall(SYS_setrlimit, RLIMIT_CORE, &up));
  else if (capsule) CHECK(syscall(SYS_setrlimit, RLIMIT_CORE, &orig) == 0, "root restores CORE");
}

static void test_sysinfo(void) {
  struct sysinfo s;
  memset(&s, 0xff, sizeof s);
  CHECK(syscall(SYS_sysinfo, &s) == 0, "sysinfo");
  CHECK(s.mem_unit >= 1, "mem_unit %u", s.mem_unit);
  CHECK(s.totalram > 0 && s.freeram <= s.totalram, "ram %lu free %lu", s.totalram, s.freeram);
  CHECK(s.procs >= 1, "procs %u", s.procs);
  CHECK(s.uptime >= 0, "uptime %ld", s.uptime);
  EXPECT_ERR(EFAULT, syscall(SYS_sysinfo, BAD_PTR));
  EXPECT_ERR(EFAULT, syscall(SYS_sysinfo, KERNEL_PTR));
}

static void test_prctl(void) {
  char name[32];
  CHECK(syscall(SYS_prctl, PR_SET_NAME, "a-rather-long-thread-name", 0, 0, 0) == 0, "PR_SET_NAME");
  memset(name, 'z', sizeof name);
  CHECK(syscall(SYS_prctl, PR_GET_NAME, name, 0, 0, 0) == 0, "PR_GET_NAME");
  CHECK(strcmp(name, "a-rather-long-t") == 0, "name truncated to 15: '%s'", name);
  CHECK(syscall(SYS_prctl, PR_SET_NAME, "short", 0, 0, 0) == 0 && syscall(SYS_prctl, PR_GET_NAME, name, 0, 0, 0) == 0 &&
            strcmp(name, "short") == 0, "name '%s'", name);
  EXPECT_ERR(EFAULT, syscall(SYS_prctl, PR_SET_NAME, BAD_PTR, 0, 0, 0));
  EXPECT_ERR(EFAULT, syscall(SYS_prctl, PR_GET_NAME, KERNEL_PTR, 0, 0, 0));

  CHECK(syscall(SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0) == 1, "dumpable by default");
  CHECK(syscall(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, "PR_SET_DUMPABLE 0");
  CHECK(syscall(SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "not dumpable now");
  EXPECT_ERR(EINVAL, syscall(SYS_prctl, PR_SET_DUMPABLE, 2, 0, 0, 0));
  CHECK(syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0) == 0, "dumpable again");

  int sig = -1;
  CHECK(syscall(SYS_prctl, PR_SET_PDEATHSIG, 9, 0, 0, 0) == 0, "PR_SET_PDEATHSIG");
  CHECK(syscall(SYS_prctl, PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0 && sig == 9, "pdeathsig %d", sig);
  EXPECT_ERR(EINVAL, syscall(SYS_prctl, PR_SET_PDEATHSIG, 65, 0, 0, 0));
  EXPECT_ERR(EFAULT, syscall(SYS_prctl, PR_GET_PDEATHSIG, BAD_PTR, 0, 0, 0));
  CHECK(syscall(SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0) == 0, "clear pdeathsig");

  CHECK(syscall(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0) > 0, "timer slack");
  CHECK(syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0, "no_new_privs clear");
  EXPECT_ERR(EINVAL, syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
  CHECK(syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS");
  CHECK(syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs set");
  CHECK(syscall(SYS_prctl, PR_CAPBSET_READ, 0 /*CAP_CHOWN*/, 0, 0, 0) >= 0, "PR_CAPBSET_READ");
  EXPECT_ERR(EINVAL, syscall(SYS_prctl, PR_CAPBSET_READ, 1000, 0, 0, 0));
  long vma = syscall(SYS_prctl, 0x53564d41 /*PR_SET_VMA*/, 0, 0, 0, 0);
  CHECK(vma == 0 || errno == EINVAL, "PR_SET_VMA");
  EXPECT_ERR(EINVAL, syscall(SYS_prctl, 9999, 0, 0, 0, 0));
}

static void test_priority(void) {
  errno = 0;
  long p = syscall(SYS_getpriority, PRIO_PROCESS, 0);
  CHECK(p >= 1 && p <= 40, "getpriority (kernel form 40..1) = %ld", p);
  int nice0 = 20 - (int)p;
  CHECK(syscall(SYS_setpriority, PRIO_PROCESS, 0, nice0 + 3) == 0, "setpriority +3");
  CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0) == p - 3, "nice now %d", nice0 + 3);
  CHECK(syscall(SYS_getpriority, PRIO_PROCESS, syscall(SYS_getpid)) == p - 3, "by pid");
  if (getuid() == 0) CHECK(syscall(SYS_setpriority, PRIO_PROCESS, 0, nice0) == 0, "root lowers nice back");
  EXPECT_ERR(EINVAL, syscall(SYS_getpriority, 7, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_setpriority, -1, 0, 0));
  EXPECT_ERR(ESRCH, syscall(SYS_getpriority, PRIO_PROCESS, 54321));
  EXPECT_ERR(ESRCH, syscall(SYS_setpriority, PRIO_PROCESS, 54321, 0));
  CHECK(syscall(SYS_getpriority, PRIO_PGRP, 0) >= 1, "PRIO_PGRP self");
  CHECK(syscall(SYS_getpriority, PRIO_USER, 0) >= 1, "PRIO_USER self");

  CHECK(syscall(SYS_sched_getscheduler, 0) == 0 /*SCHED_OTHER*/, "SCHED_OTHER");
  EXPECT_ERR(EINVAL, syscall(SYS_sched_getscheduler, -1));
  EXPECT_ERR(ESRCH, syscall(SYS_sched_getscheduler, 54321));
  CHECK(syscall(SYS_sched_get_priority_max, 1 /*FIFO*/) == 99, "FIFO max");
  CHECK(syscall(SYS_sched_get_priority_min, 2 /*RR*/) == 1, "RR min");
  CHECK(syscall(SYS_sched_get_priority_max, 0) == 0 && syscall(SYS_sched_get_priority_min, 0) == 0, "OTHER 0..0");
  CHECK(syscall(SYS_sched_get_priority_max, 3) == 0 && syscall(SYS_sched_get_priority_max, 5) == 0, "BATCH, IDLE");
  EXPECT_ERR(EINVAL, syscall(SYS_sched_get_priority_max, 77));
  EXPECT_ERR(EINVAL, syscall(SYS_sched_get_priority_min, -5));
}

static void test_getrandom(void) {
  unsigned char a[64] = {0}, b[64] = {0};
  CHECK(syscall(SYS_getrandom, a, sizeof a, 0) == 64, "getrandom 64");
  CHECK(syscall(SYS_getrandom, b, sizeof b, 1 /*GRND_NONBLOCK*/) == 64, "getrandom NONBLOCK");
  CHECK(memcmp(a, b, 64) != 0, "two draws differ");
  int zeros = 0;
  for (int i = 0; i < 64; ++i) zeros += a[i] == 0;
  CHECK(zeros < 16, "%d zero bytes of 64", zeros);
  CHECK(syscall(SYS_getrandom, a, 16, 2 /*GRND_RANDOM*/) == 16, "GRND_RANDOM");
  long ins = syscall(SYS_getrandom, a, 16, 4 /*GRND_INSECURE*/);
  CHECK(ins == 16, "GRND_INSECURE = %ld", ins);
  CHECK(syscall(SYS_getrandom, a, 0, 0) == 0, "zero bytes");
  EXPECT_ERR(EINVAL, syscall(SYS_getrandom, a, 16, 8));
  EXPECT_ERR(EINVAL, syscall(SYS_getrandom, a, 16, 2 | 4));
  EXPECT_ERR(EFAULT, syscall(SYS_getrandom, BAD_PTR, 16, 0));
  EXPECT_ERR(EFAULT, syscall(SYS_getrandom, KERNEL_PTR, 16, 0));
  /* A large request is served in full (in chunks inside the kernel). */
  static unsigned char big[1 << 20];
  CHECK(syscall(SYS_getrandom, big, sizeof big, 0) == (long)sizeof big, "1 MiB");
  int counts[256] = {0};
  for (size_t i = 0; i < sizeof big; ++i) counts[big[i]]++;
  int lo = 1 << 30, hi = 0;
  for (int i = 0; i < 256; ++i) {
    if (counts[i] < lo) lo = counts[i];
    if (counts[i] > hi) hi = counts[i];
  }
  CHECK(lo > 3500 && hi < 4700, "byte histogram %d..%d (expected about 4096 each)", lo, hi);
}

int main(void) {
  int capsule = in_capsule();
  test_rlimits(capsule);
  test_sysinfo();
  test_prctl();
  test_priority();
  test_getrandom();
  if (capsule) EXPECT_ERR(ENOSYS, syscall(SYS_rseq, NULL, 0, 0, 0));
  return finish("abi_limits");
}
