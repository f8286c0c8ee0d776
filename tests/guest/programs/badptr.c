/* badptr: bad user pointers passed to syscalls must give -1/EFAULT, never
 * a crash, a hang or a silent success. Raw syscall() is used so that libc
 * (and the vDSO) never touch the pointer first.
 *
 * Each syscall is tried with several bad pointers:
 *   low       (void *)8 (in the never-mapped page 0)
 *   unmapped  a page that was mapped and unmapped again
 *   kernel    0xffff800000000000 (start of the kernel half, Capsule's direct map)
 *   ktext     0xffffffff80001000 (Capsule's kernel image)
 *   above     0x0000800000000000 (just past the 47-bit user half)
 *   readonly  a PROT_READ page            (only where the kernel writes)
 *   straddle  2 bytes before an unmapped page (only where the kernel writes
 *             a whole structure: Linux fails the copy with EFAULT)
 * The program exits 0 only if every case returned EFAULT. */
#include "check.h"
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/prctl.h>

enum { IN = 1, OUT = 2, NOSTRADDLE = 4 };

static struct timespec ts_10ms = {0, 10 * 1000000L};
static struct timespec ts_zero = {0, 0};

#define S(...) return syscall(__VA_ARGS__)
static long c_write(void *p) { S(SYS_write, 1, p, 8); }
static long c_writev(void *p) { S(SYS_writev, 1, p, 1); }
static long c_writev_base(void *p) {
  struct iovec iov = {p, 8};
  S(SYS_writev, 1, &iov, 1);
}
static long c_clock_gettime(void *p) { S(SYS_clock_gettime, CLOCK_MONOTONIC, p); }
static long c_clock_getres(void *p) { S(SYS_clock_getres, CLOCK_MONOTONIC, p); }
static long c_gettimeofday(void *p) { S(SYS_gettimeofday, p, NULL); }
static long c_time(void *p) { S(SYS_time, p); }
static long c_uname(void *p) { S(SYS_uname, p); }
static long c_getrandom(void *p) { S(SYS_getrandom, p, 16, 0); }
static long c_sigaction_in(void *p) { S(SYS_rt_sigaction, SIGUSR1, p, NULL, 8); }
static long c_sigaction_out(void *p) { S(SYS_rt_sigaction, SIGUSR1, NULL, p, 8); }
static long c_sigprocmask_in(void *p) { S(SYS_rt_sigprocmask, SIG_BLOCK, p, NULL, 8); }
static long c_sigprocmask_out(void *p) { S(SYS_rt_sigprocmask, SIG_BLOCK, NULL, p, 8); }
static long c_sigpending(void *p) { S(SYS_rt_sigpending, p, 8); }
static long c_sigtimedwait(void *p) { S(SYS_rt_sigtimedwait, p, NULL, &ts_zero, 8); }
static long c_sigsuspend(void *p) { S(SYS_rt_sigsuspend, p, 8); }
static long c_sigaltstack_in(void *p) { S(SYS_sigaltstack, p, NULL); }
static long c_sigaltstack_out(void *p) { S(SYS_sigaltstack, NULL, p); }
static long c_getaffinity(void *p) { S(SYS_sched_getaffinity, 0, 128, p); }
static long c_setaffinity(void *p) { S(SYS_sched_setaffinity, 0, 8, p); }
static long c_prlimit_in(void *p) { S(SYS_prlimit64, 0, RLIMIT_NOFILE, p, NULL); }
static long c_prlimit_out(void *p) { S(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, p); }
static long c_sysinfo(void *p) { S(SYS_sysinfo, p); }
static long c_times(void *p) { S(SYS_times, p); }
static long c_getrusage(void *p) { S(SYS_getrusage, RUSAGE_SELF, p); }
static long c_getitimer(void *p) { S(SYS_getitimer, ITIMER_REAL, p); }
static long c_setitimer(void *p) { S(SYS_setitimer, ITIMER_REAL, p, NULL); }
static long c_nanosleep(void *p) { S(SYS_nanosleep, p, NULL); }
static long c_clock_nanosleep(void *p) { S(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, p, NULL); }
static long c_futex(void *p) { S(SYS_futex, p, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, &ts_10ms, NULL, 0); }
static long c_timer_create_in(void *p) {
  int id;
  S(SYS_timer_create, CLOCK_MONOTONIC, p, &id);
}
static long c_timer_create_out(void *p) {
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_NONE;
  S(SYS_timer_create, CLOCK_MONOTONIC, &sev, p);
}
static long c_prctl_get_name(void *p) { S(SYS_prctl, PR_GET_NAME, p, 0, 0, 0); }
static long c_prctl_set_name(void *p) { S(SYS_prctl, PR_SET_NAME, p, 0, 0, 0); }
static long c_getcpu(void *p) { S(SYS_getcpu, p, NULL, NULL); }
static long c_arch_prctl(void *p) { S(SYS_arch_prctl, 0x1003 /* ARCH_GET_FS */, p); }
static long c_getresuid(void *p) { S(SYS_getresuid, p, p, p); }
static long c_get_robust_list(void *p) {
  size_t len;
  S(SYS_get_robust_list, 0, p, &len);
}
static char *g_valid_page;
static long c_mincore(void *p) { S(SYS_mincore, g_valid_page, PAGE, p); }

struct tcase {
  const char *name;
  long (*fn)(void *);
  int flags;
};
static const struct tcase cases[] = {
    {"write(1, buf)", c_write, IN},
    {"writev(1, iov)", c_writev, IN},
    {"writev(1, iov.iov_base)", c_writev_base, IN},
    {"clock_gettime", c_clock_gettime, OUT},
    {"clock_getres", c_clock_getres, OUT},
    {"gettimeofday", c_gettimeofday, OUT},
    {"time", c_time, OUT},
    {"uname", c_uname, OUT},
    {"getrandom", c_getrandom, OUT | NOSTRADDLE /* Linux returns a partial count */},
    {"rt_sigaction(act)", c_sigaction_in, IN},
    {"rt_sigaction(oldact)", c_sigaction_out, OUT},
    {"rt_sigprocmask(set)", c_sigprocmask_in, IN},
    {"rt_sigprocmask(oldset)", c_sigprocmask_out, OUT},
    {"rt_sigpending", c_sigpending, OUT},
    {"rt_sigtimedwait(set)", c_sigtimedwait, IN},
    {"rt_sigsuspend", c_sigsuspend, IN},
    {"sigaltstack(ss)", c_sigaltstack_in, IN},
    {"sigaltstack(old)", c_sigaltstack_out, OUT},
    {"sched_getaffinity", c_getaffinity, OUT},
    {"sched_setaffinity", c_setaffinity, IN},
    {"prlimit64(new)", c_prlimit_in, IN},
    {"prlimit64(old)", c_prlimit_out, OUT},
    {"sysinfo", c_sysinfo, OUT},
    {"times", c_times, OUT},
    {"getrusage", c_getrusage, OUT},
    {"getitimer", c_getitimer, OUT},
    {"setitimer", c_setitimer, IN},
    {"nanosleep", c_nanosleep, IN},
    {"clock_nanosleep", c_clock_nanosleep, IN},
    {"futex(uaddr)", c_futex, IN},
    {"timer_create(sevp)", c_timer_create_in, IN},
    {"timer_create(timerid)", c_timer_create_out, OUT},
    {"prctl(PR_GET_NAME)", c_prctl_get_name, OUT},
    {"prctl(PR_SET_NAME)", c_prctl_set_name, IN},
    {"getcpu", c_getcpu, OUT},
    {"arch_prctl(ARCH_GET_FS)", c_arch_prctl, OUT},
    {"getresuid", c_getresuid, OUT},
    {"get_robust_list", c_get_robust_list, OUT},
    {"mincore(vec)", c_mincore, OUT | NOSTRADDLE /* one byte fits before the hole */},
};

struct ptrkind {
  const char *name;
  void *p;
  int only; /* 0: all cases; OUT: cases where the kernel writes */
  int straddle;
};

int main(void) {
  check_init("badptr");
  /* Keep stdout's buffer allocated before the test: nothing maps in between. */
  printf("badptr: %d syscalls\n", (int)(sizeof cases / sizeof cases[0]));
  char *two = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (two == MAP_FAILED) { FAILF("mmap"); return check_finish(); }
  memset(two, 0, 3 * PAGE);
  g_valid_page = two;
  char *ro = two + PAGE, *hole = two + 2 * PAGE;
  mprotect(ro, PAGE, PROT_READ);
  munmap(hole, PAGE);

  sigset_t mask_before, mask_after;
  sigprocmask(SIG_BLOCK, NULL, &mask_before);
  char name_before[16], name_after[16];
  prctl(PR_GET_NAME, name_before, 0, 0, 0);

  struct ptrkind kinds[] = {
      {"low", (void *)8, 0, 0}, /* 8, not 1: futex checks alignment (EINVAL) first */
      {"unmapped", hole, 0, 0},
      {"kernel", (void *)0xffff800000000000ULL, 0, 0},
      {"ktext", (void *)0xffffffff80001000ULL, 0, 0},
      {"above", (void *)0x0000800000000000ULL, 0, 0},
      {"readonly", ro + 64, OUT, 0},
      {"straddle", hole - 2, OUT, 1},
  };
  int ncases = 0, nfault = 0, nsyscalls = 0;
  for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int all = 1;
    for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
      if (kinds[k].only && !(cases[c].flags & kinds[k].only)) continue;
      if (kinds[k].straddle && (cases[c].flags & NOSTRADDLE)) continue;
      ncases++;
      errno = 0;
      long r = cases[c].fn(kinds[k].p);
      int e = errno;
      if (r == -1 && e == EFAULT) {
        nfault++;
      } else {
        all = 0;
        FAILF("%s with %s pointer %p: got ret %ld errno %d (%s) want -1 errno %d (EFAULT)", cases[c].name,
              kinds[k].name, kinds[k].p, r, e, strerror(e), EFAULT);
      }
    }
    nsyscalls += all;
  }
  /* Nothing was changed by the failed calls. */
  sigprocmask(SIG_BLOCK, NULL, &mask_after);
  CHECK(memcmp(&mask_before, &mask_after, sizeof(uint64_t)) == 0, "signal mask unchanged");
  prctl(PR_GET_NAME, name_after, 0, 0, 0);
  CHECK(strcmp(name_before, name_after) == 0, "thread name unchanged");
  struct sigaction sa;
  sigaction(SIGUSR1, NULL, &sa);
  CHECK(sa.sa_handler == SIG_DFL, "SIGUSR1 action unchanged");
  for (int i = 0; i < 64; i++) {
    if (((char *)ro)[i + 64] != 0) { FAILF("read-only page was written"); break; }
  }
  printf("badptr: %d/%d cases EFAULT; %d syscalls returned EFAULT for every bad pointer\n", nfault, ncases,
         nsyscalls);
  CHECK(nsyscalls >= 20, "at least 20 syscalls fully EFAULT-clean");
  return check_finish();
}
