/* sched_setattr/sched_getattr (issue 18): the struct sched_attr size
 * handshake (0 = the first version, a longer buffer zero-filled past 56, E2BIG with the known size written
 * back, a longer structure with zero tail accepted), SCHED_OTHER/BATCH/IDLE
 * with nice (clamped; SCHED_IDLE keeps the nice value it had), the KEEP_*
 * flags, SCHED_FLAG_RESET_ON_FORK as sched_getscheduler reports it and as a
 * child inherits it, bad policy/flags/priority (EINVAL), bad pointers
 * (EFAULT), a missing thread (ESRCH), agreement with sched_getscheduler
 * and getpriority (raw calls: musl stubs sched_getscheduler), and what an unprivileged caller is refused (EPERM).
 * Real-time success is not checked: root on the host may use SCHED_FIFO,
 * Capsule has no real-time class (docs/syscalls.md). */
#include "check.h"

#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>

struct attr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t prio;
  uint64_t runtime, deadline, period;
  uint32_t util_min, util_max;
  unsigned char tail[16];
};

#define RESET_ON_FORK 0x40000000
#define F_RESET 0x01
#define F_KEEP_POLICY 0x08
#define F_KEEP_PARAMS 0x10
#define F_UTIL_MIN 0x20

static long set_attr(uint32_t size, uint32_t policy, uint64_t flags, int nice, uint32_t prio) {
  struct attr a;
  memset(&a, 0, sizeof a);
  a.size = size, a.policy = policy, a.flags = flags, a.nice = nice, a.prio = prio;
  return syscall(SYS_sched_setattr, 0, &a, 0);
}

static struct attr get_attr(void) {
  struct attr a;
  memset(&a, 0xee, sizeof a);
  CHECK(syscall(SYS_sched_getattr, 0, &a, 56, 0) == 0, "sched_getattr");
  return a;
}

static void expect_state(int line, int policy, int nice, int reset) {
  struct attr a = get_attr();
  int sched = (int)syscall(SYS_sched_getscheduler, 0);
  errno = 0;
  int prio = getpriority(PRIO_PROCESS, 0);
  CHECK(a.policy == (uint32_t)policy && a.nice == nice && a.flags == (reset ? F_RESET : 0),
        "line %d: attr policy %u nice %d flags %lu, expected %d %d %d", line, a.policy, a.nice,
        (unsigned long)a.flags, policy, nice, reset);
  CHECK(sched == (policy | (reset ? RESET_ON_FORK : 0)), "line %d: sched_getscheduler %#x", line, sched);
  CHECK(prio == nice && errno == 0, "line %d: getpriority %d, expected %d", line, prio, nice);
}

static void test_sizes(void) {
  struct attr a;
  memset(&a, 0xee, sizeof a);
  CHECK(syscall(SYS_sched_getattr, 0, &a, 48, 0) == 0, "getattr 48");
  CHECK(a.size == 48 && a.util_min == 0xeeeeeeee, "48 bytes written: size %u", a.size);
  memset(&a, 0xee, sizeof a);
  CHECK(syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) == 0, "getattr 72");
  CHECK(a.size == 56 && a.tail[0] == 0 && a.tail[15] == 0, "56 bytes and a zeroed tail (Linux 6.x): size %u", a.size);
  EXPECT_ERR(EINVAL, syscall(SYS_sched_getattr, 0, &a, 47, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_sched_getattr, 0, &a, 4097, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_sched_getattr, 0, &a, 56, 1));
  EXPECT_ERR(EINVAL, syscall(SYS_sched_getattr, 0, NULL, 56, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_sched_getattr, -1, &a, 56, 0));
  EXPECT_ERR(EFAULT, syscall(SYS_sched_getattr, 0, BAD_PTR, 56, 0));
  EXPECT_ERR(EFAULT, syscall(SYS_sched_getattr, 0, KERNEL_PTR, 56, 0));
  EXPECT_ERR(ESRCH, syscall(SYS_sched_getattr, 99999999, &a, 56, 0));

  /* setattr: size 0 is the first version; too small, too large or a
   * non-zero tail is E2BIG with 56 written back. */
  memset(&a, 0, sizeof a);
  CHECK(syscall(SYS_sched_setattr, 0, &a, 0) == 0 && a.size == 0, "size 0 accepted, size %u", a.size);
  a.size = 40;
  EXPECT_ERR(E2BIG, syscall(SYS_sched_setattr, 0, &a, 0));
  CHECK(a.size == 56, "E2BIG writes 56: %u", a.size);
  a.size = 4097;
  EXPECT_ERR(E2BIG, syscall(SYS_sched_setattr, 0, &a, 0));
  CHECK(a.size == 56, "E2BIG writes 56: %u", a.size);
  a.size = sizeof a;
  CHECK(syscall(SYS_sched_setattr, 0, &a, 0) == 0, "longer structure with a zero tail");
  a.tail[9] = 1;
  EXPECT_ERR(E2BIG, syscall(SYS_sched_setattr, 0, &a, 0));
  CHECK(a.size == 56, "E2BIG writes 56: %u", a.size);
  EXPECT_ERR(EINVAL, syscall(SYS_sched_setattr, 0, NULL, 0));
  EXPECT_ERR(EFAULT, syscall(SYS_sched_setattr, 0, BAD_PTR, 0));
  EXPECT_ERR(EFAULT, syscall(SYS_sched_setattr, 0, KERNEL_PTR, 0));
  memset(&a, 0, sizeof a);
  a.size = 48;
  EXPECT_ERR(EINVAL, syscall(SYS_sched_setattr, -1, &a, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_sched_setattr, 0, &a, 1));
  EXPECT_ERR(ESRCH, syscall(SYS_sched_setattr, 99999999, &a, 0));
}

static void test_bad_input(void) {
  EXPECT_ERR(EINVAL, set_attr(48, 4, 0, 0, 0));        /* no policy 4 */
  EXPECT_ERR(EINVAL, set_attr(48, 7, 0, 0, 0));
  EXPECT_ERR(EINVAL, set_attr(48, (uint32_t)-1, 0, 0, 0));
  EXPECT_ERR(EINVAL, set_attr(48, SCHED_OTHER, 0x80, 0, 0)); /* unknown flag */
  EXPECT_ERR(EINVAL, set_attr(48, SCHED_OTHER, 0, 0, 1));    /* priority for a fair policy */
  EXPECT_ERR(EINVAL, set_attr(48, SCHED_OTHER, 0, 0, 100));
  EXPECT_ERR(EINVAL, set_attr(48, SCHED_FIFO, 0, 0, 0));     /* real-time needs 1..99 */
  EXPECT_ERR(EINVAL, set_attr(48, SCHED_RR, 0, 0, 100));
  EXPECT_ERR(EINVAL, set_attr(48, 6 /* SCHED_DEADLINE */, 0, 0, 0)); /* no deadline */
  EXPECT_ERR(EINVAL, set_attr(48, SCHED_OTHER, F_UTIL_MIN, 0, 0)); /* clamps need size 56 */
}

static void test_policies(void) {
  CHECK(set_attr(48, SCHED_OTHER, 0, 0, 0) == 0, "OTHER 0");
  expect_state(__LINE__, SCHED_OTHER, 0, 0);
  CHECK(set_attr(48, SCHED_OTHER, 0, 4, 0) == 0, "OTHER 4");
  expect_state(__LINE__, SCHED_OTHER, 4, 0);
  CHECK(set_attr(48, SCHED_BATCH, 0, -3, 0) == 0, "BATCH -3");
  expect_state(__LINE__, SCHED_BATCH, -3, 0);
  CHECK(set_attr(48, SCHED_OTHER, 0, 100, 0) == 0, "nice 100 is clamped");
  expect_state(__LINE__, SCHED_OTHER, 19, 0);
  CHECK(set_attr(48, SCHED_OTHER, 0, -100, 0) == 0, "nice -100 is clamped");
  expect_state(__LINE__, SCHED_OTHER, -20, 0);
  CHECK(set_attr(48, SCHED_OTHER, 0, 2, 0) == 0, "OTHER 2");
  CHECK(set_attr(48, SCHED_IDLE, 0, 9, 0) == 0, "IDLE keeps its nice");
  expect_state(__LINE__, SCHED_IDLE, 2, 0);
  CHECK(set_attr(48, SCHED_BATCH, F_KEEP_POLICY, 5, 0) == 0, "KEEP_POLICY: still IDLE, nice unchanged");
  expect_state(__LINE__, SCHED_IDLE, 2, 0);
  CHECK(set_attr(48, SCHED_OTHER, 0, 1, 0) == 0, "OTHER 1");
  CHECK(set_attr(48, SCHED_OTHER, F_KEEP_POLICY, 6, 0) == 0, "KEEP_POLICY sets nice");
  expect_state(__LINE__, SCHED_OTHER, 6, 0);
  CHECK(set_attr(48, SCHED_BATCH, F_KEEP_PARAMS, 7, 0) == 0, "KEEP_PARAMS changes nothing but the flags");
  expect_state(__LINE__, SCHED_OTHER, 6, 0);
  CHECK(set_attr(48, SCHED_BATCH, F_RESET, 1, 0) == 0, "BATCH with RESET_ON_FORK");
  expect_state(__LINE__, SCHED_BATCH, 1, 1);
  struct sched_param sp = {0};
  CHECK(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp) == 0, "sched_setscheduler OTHER");
  expect_state(__LINE__, SCHED_OTHER, 1, 0);
  CHECK(syscall(SYS_sched_setscheduler, 0, SCHED_IDLE | RESET_ON_FORK, &sp) == 0, "sched_setscheduler IDLE|RESET_ON_FORK");
  expect_state(__LINE__, SCHED_IDLE, 1, 1);
  /* Utilization clamps: a kernel without CONFIG_UCLAMP_TASK refuses them. */
  EXPECT_ERR(EOPNOTSUPP, set_attr(56, SCHED_OTHER, F_UTIL_MIN, 0, 0));

  /* A child inherits the policy without the reset flag, and a negative
   * nice becomes 0. */
  CHECK(set_attr(48, SCHED_BATCH, F_RESET, -5, 0) == 0, "BATCH -5 RESET_ON_FORK");
  pid_t pid = fork();
  if (pid == 0) {
    struct attr a;
    memset(&a, 0, sizeof a);
    int ok = syscall(SYS_sched_getattr, 0, &a, 56, 0) == 0 && a.policy == SCHED_BATCH && a.nice == 0 &&
             a.flags == 0 && (int)syscall(SYS_sched_getscheduler, 0) == SCHED_BATCH;
    _exit(ok ? 0 : 1);
  }
  int st = 0;
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "child after RESET_ON_FORK: status %#x", st);
  CHECK(set_attr(48, SCHED_OTHER, 0, 0, 0) == 0, "back to OTHER 0");
  expect_state(__LINE__, SCHED_OTHER, 0, 0);
}

/* Without CAP_SYS_NICE (an unprivileged uid, RLIMIT_NICE and RLIMIT_RTPRIO
 * 0): raising the priority, leaving SCHED_IDLE, dropping reset-on-fork and
 * real-time classes are EPERM; lowering the priority is allowed. */
static void test_unprivileged(void) {
  if (getuid() != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit zero = {0, 0};
    if (setrlimit(RLIMIT_NICE, &zero) || setrlimit(RLIMIT_RTPRIO, &zero)) _exit(10);
    if (set_attr(48, SCHED_OTHER, F_RESET, 0, 0)) _exit(11);
    if (setgid(65534) || setuid(65534)) _exit(12);
    int bad = 0;
    errno = 0;
    if (set_attr(48, SCHED_OTHER, F_RESET, -1, 0) != -1 || errno != EPERM) bad |= 1;
    if (set_attr(48, SCHED_OTHER, 0, 0, 0) != -1 || errno != EPERM) bad |= 2; /* drops reset-on-fork */
    if (set_attr(48, SCHED_OTHER, F_RESET, 3, 0) != 0) bad |= 4;
    if (set_attr(48, SCHED_OTHER, F_RESET, 2, 0) != -1 || errno != EPERM) bad |= 8;
    if (set_attr(48, SCHED_FIFO, F_RESET, 0, 1) != -1 || errno != EPERM) bad |= 16;
    if (set_attr(48, SCHED_IDLE, F_RESET, 3, 0) != 0) bad |= 32;
    if (set_attr(48, SCHED_OTHER, F_RESET, 3, 0) != -1 || errno != EPERM) bad |= 64; /* leaving IDLE */
    _exit(bad ? 100 + bad : 0);
  }
  int st = 0;
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "unprivileged child: exit %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void) {
  test_sizes();
  test_bad_input();
  test_policies();
  test_unprivileged();
  return finish("abi_sched_attr");
}
