/* ident: uname, ids, setuid, getrandom, rlimits (getrlimit/setrlimit/
 * prlimit64), sysinfo, prctl, arch_prctl (FS/GS), umask. */
#include "check.h"
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <pthread.h>

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

static __thread int tls_var = 1;

static void test_uname(void) {
  struct utsname u;
  memset(&u, 0, sizeof u);
  CHECK_OK(uname(&u), "uname");
  CHECK(strcmp(u.sysname, "Linux") == 0, "uname sysname is Linux");
  CHECK(u.release[0] >= '0' && u.release[0] <= '9', "uname release starts with a digit");
  CHECK(strcmp(u.machine, "x86_64") == 0, "uname machine is x86_64");
  CHECK(u.nodename[0] != 0, "uname nodename set");
  CHECK(u.version[0] != 0, "uname version set");
  printf("ident: %s %s %s %s\n", u.sysname, u.nodename, u.release, u.machine);
}

static void test_ids(void) {
  CHECK(getpid() > 0, "getpid > 0");
  CHECK(getppid() >= 0, "getppid >= 0");
  CHECK_EQ(syscall(SYS_getpid), getpid(), "raw getpid == libc getpid");
  CHECK_EQ(syscall(SYS_gettid), getpid(), "main thread's tid is the pid");
  uid_t uid = getuid(), euid = geteuid();
  gid_t gid = getgid(), egid = getegid();
  CHECK_EQ(uid, euid, "uid == euid");
  CHECK_EQ(gid, egid, "gid == egid");
  int n = getgroups(0, NULL);
  CHECK(n >= 0, "getgroups(0) count");
  if (n > 0) {
    gid_t g[64];
    CHECK_EQ(getgroups(64, g), n, "getgroups fills the list");
    if (n > 1) CHECK_ERR(syscall(SYS_getgroups, n - 1, g), EINVAL, "getgroups with a too small list");
  }
  /* Capsule runs as root; on a non-root host setuid(own uid) must work. */
  CHECK_OK(setuid(uid), "setuid to the current uid (0 in Capsule)");
  CHECK_OK(setgid(gid), "setgid to the current gid");
  CHECK_OK(seteuid(euid), "seteuid");
  CHECK_EQ(getuid(), uid, "uid unchanged");
  uid_t r, e, s;
  CHECK_OK(getresuid(&r, &e, &s), "getresuid");
  CHECK(r == uid && e == uid && s == uid, "getresuid all equal");
}

static void test_random(void) {
  unsigned char a[32], b[32];
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  CHECK_EQ(syscall(SYS_getrandom, a, sizeof a, 0), 32, "getrandom 32 bytes");
  CHECK_EQ(syscall(SYS_getrandom, b, sizeof b, 1 /* GRND_NONBLOCK */), 32, "getrandom GRND_NONBLOCK");
  CHECK(memcmp(a, b, sizeof a) != 0, "two getrandom results differ");
  int zeros = 0;
  for (int i = 0; i < 32; i++) zeros += a[i] == 0;
  CHECK(zeros < 8, "getrandom output is not mostly zero");
  unsigned char big[4096];
  CHECK_EQ(syscall(SYS_getrandom, big, sizeof big, 0), 4096, "getrandom 4096 bytes");
  CHECK_ERR(syscall(SYS_getrandom, a, sizeof a, 0x100), EINVAL, "getrandom unknown flag");
}

static void test_rlimits(void) {
  struct rlimit r, orig, got;
  CHECK_OK(getrlimit(RLIMIT_NOFILE, &orig), "getrlimit NOFILE");
  CHECK(orig.rlim_cur > 3 && orig.rlim_cur <= orig.rlim_max, "NOFILE soft in (3, hard]");
  r = orig;
  r.rlim_cur = orig.rlim_cur > 64 ? 64 : orig.rlim_cur;
  CHECK_OK(setrlimit(RLIMIT_NOFILE, &r), "setrlimit NOFILE soft 64");
  CHECK_OK(getrlimit(RLIMIT_NOFILE, &got), "getrlimit NOFILE again");
  CHECK_EQ(got.rlim_cur, r.rlim_cur, "NOFILE soft limit round trip");
  CHECK_EQ(got.rlim_max, orig.rlim_max, "NOFILE hard limit unchanged");
  /* prlimit64 raw: set new, get old in one call. */
  struct rlimit nl = orig, ol;
  memset(&ol, 0, sizeof ol);
  CHECK_OK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &nl, &ol), "prlimit64 set+get");
  CHECK_EQ(ol.rlim_cur, r.rlim_cur, "prlimit64 returned the old soft limit");
  CHECK_OK(syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, NULL, &got), "prlimit64 by own pid");
  CHECK_EQ(got.rlim_cur, orig.rlim_cur, "prlimit64 restored");
  r.rlim_cur = orig.rlim_max == RLIM_INFINITY ? RLIM_INFINITY : orig.rlim_max + 1;
  r.rlim_max = orig.rlim_max;
  if (orig.rlim_max != RLIM_INFINITY) CHECK_ERR(setrlimit(RLIMIT_NOFILE, &r), EINVAL, "setrlimit soft > hard");

  CHECK_OK(getrlimit(RLIMIT_STACK, &orig), "getrlimit STACK");
  CHECK(orig.rlim_cur >= 128 * 1024, "STACK soft limit >= 128 KiB");
  r = orig;
  r.rlim_cur = 4 * 1024 * 1024;
  if (r.rlim_cur > orig.rlim_max) r.rlim_cur = orig.rlim_max;
  CHECK_OK(setrlimit(RLIMIT_STACK, &r), "setrlimit STACK");
  getrlimit(RLIMIT_STACK, &got);
  CHECK_EQ(got.rlim_cur, r.rlim_cur, "STACK round trip");
  setrlimit(RLIMIT_STACK, &orig);
  CHECK_ERR(syscall(SYS_prlimit64, 0, 999, NULL, &got), EINVAL, "prlimit64 unknown resource");
  CHECK_ERR(syscall(SYS_prlimit64, 0x3ffffff0, RLIMIT_NOFILE, NULL, &got), ESRCH, "prlimit64 unknown pid");
}

static void test_sysinfo(void) {
  struct sysinfo si;
  memset(&si, 0, sizeof si);
  CHECK_OK(sysinfo(&si), "sysinfo");
  CHECK(si.totalram > 0, "sysinfo totalram > 0");
  CHECK(si.mem_unit >= 1, "sysinfo mem_unit >= 1");
  CHECK(si.freeram <= si.totalram, "sysinfo freeram <= totalram");
  CHECK((long)si.uptime >= 0 && (long)si.uptime < 10L * 365 * 86400, "sysinfo uptime in [0, 10 years)");
  CHECK(si.procs >= 1, "sysinfo procs >= 1");
  CHECK((unsigned long long)si.totalram * si.mem_unit >= 16ULL << 20, "sysinfo: at least 16 MiB RAM");
  long pages = sysconf(_SC_PHYS_PAGES);
  CHECK(pages > 0, "sysconf(_SC_PHYS_PAGES) > 0");
  CHECK_EQ(sysconf(_SC_PAGESIZE), 4096, "page size (AT_PAGESZ)");
}

static void test_prctl(void) {
  char name[32];
  CHECK_OK(prctl(PR_SET_NAME, "capsule-test", 0, 0, 0), "PR_SET_NAME");
  memset(name, 'x', sizeof name);
  CHECK_OK(prctl(PR_GET_NAME, name, 0, 0, 0), "PR_GET_NAME");
  CHECK(strcmp(name, "capsule-test") == 0, "PR_GET_NAME returns the name set");
  CHECK_OK(prctl(PR_SET_NAME, "a-very-long-thread-name-indeed", 0, 0, 0), "PR_SET_NAME long");
  memset(name, 'x', sizeof name);
  prctl(PR_GET_NAME, name, 0, 0, 0);
  CHECK(strcmp(name, "a-very-long-thr") == 0, "long name truncated to 15 bytes + NUL");
  CHECK_OK(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "PR_SET_DUMPABLE 1");
  CHECK_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1, "PR_GET_DUMPABLE");
  CHECK_ERR(prctl(0x7fff1234, 0, 0, 0, 0), EINVAL, "prctl unknown option");
}

static void test_arch_prctl(void) {
  unsigned long fs = 0, gs = 1, fs0 = 0;
  CHECK_OK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs), "ARCH_GET_FS");
  /* Both glibc and musl put the thread control block at FS, and its
   * first word points to itself (x86-64 TLS ABI). */
  CHECK_HEX(fs, (unsigned long)pthread_self(), "FS base == pthread_self()");
  __asm__ volatile("mov %%fs:0, %0" : "=r"(fs0));
  CHECK_HEX(fs0, fs, "%fs:0 holds the FS base (TCB self pointer)");
  uintptr_t tv = (uintptr_t)&tls_var;
  CHECK(tv < fs && fs - tv < 1024 * 1024, "__thread variable lies just below FS (TLS variant II)");

  /* Switch FS to a fake TCB and back in one asm block (no libc in between). */
  static unsigned long fake[8];
  fake[0] = (unsigned long)fake;
  unsigned long seen = 0;
  long r1, r2;
  __asm__ volatile(
      "mov $158, %%eax\n mov $0x1002, %%edi\n mov %[fake], %%rsi\n syscall\n mov %%rax, %[r1]\n"
      "mov %%fs:0, %[seen]\n"
      "mov $158, %%eax\n mov $0x1002, %%edi\n mov %[orig], %%rsi\n syscall\n mov %%rax, %[r2]\n"
      : [r1] "=&r"(r1), [r2] "=&r"(r2), [seen] "=&r"(seen)
      : [fake] "r"(fake), [orig] "r"(fs)
      : "rax", "rdi", "rsi", "rcx", "r11", "memory");
  CHECK_EQ(r1, 0, "ARCH_SET_FS to a fake TCB");
  CHECK_EQ(r2, 0, "ARCH_SET_FS back");
  CHECK_HEX(seen, (unsigned long)fake, "%fs:0 read through the new FS base");
  CHECK_EQ(tls_var, 1, "TLS works again after restoring FS");

  CHECK_OK(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs), "ARCH_GET_GS");
  unsigned long gs_orig = gs;
  CHECK_OK(syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)fake), "ARCH_SET_GS");
  unsigned long gsv = 0;
  __asm__ volatile("mov %%gs:0, %0" : "=r"(gsv));
  CHECK_HEX(gsv, (unsigned long)fake, "%gs:0 read through the new GS base");
  syscall(SYS_arch_prctl, ARCH_GET_GS, &gs);
  CHECK_HEX(gs, (unsigned long)fake, "ARCH_GET_GS returns what was set");
  sched_yield(); /* a context switch keeps the application's GS */
  gsv = 0;
  __asm__ volatile("mov %%gs:0, %0" : "=r"(gsv));
  CHECK_HEX(gsv, (unsigned long)fake, "GS base survives a syscall/yield");
  syscall(SYS_arch_prctl, ARCH_SET_GS, gs_orig);
  CHECK_ERR(syscall(SYS_arch_prctl, 0x1999, &gs), EINVAL, "arch_prctl unknown code");
}

static void test_umask(void) {
  mode_t old = umask(022);
  CHECK_EQ(umask(077), 022, "umask returns the previous mask");
  CHECK_EQ(umask(old), 077, "umask round trip");
  CHECK_EQ(syscall(SYS_umask, old), old, "raw umask");
  CHECK_EQ(umask(01777) & 0777, old & 0777, "umask before high bits");
  CHECK_EQ(umask(old), 0777, "umask keeps only the permission bits");
}

int main(void) {
  check_init("ident");
  test_uname();
  test_ids();
  test_random();
  test_rlimits();
  test_sysinfo();
  test_prctl();
  test_arch_prctl();
  test_umask();
  return check_finish();
}
