/* futex: raw futex(2) semantics and error codes.
 * To know that waiters really sleep in the kernel (no timing guesses), a
 * test "gathers" them: FUTEX_CMP_REQUEUE with nr_wake=0 moves every waiter
 * from A to B and returns how many it moved; it is retried until all N
 * are on B. Every wake/requeue count after that is exact. */
#include "check.h"
#include <limits.h>
#include <pthread.h>

#define FUTEX_OP(op, oparg, cmp, cmparg) \
  ((((op)&0xf) << 28) | (((cmp)&0xf) << 24) | (((oparg)&0xfff) << 12) | ((cmparg)&0xfff))
enum { OP_SET = 0, OP_ADD = 1, OP_OR = 2, OP_ANDN = 3, OP_XOR = 4, OP_SHIFT = 8 };
enum { CMP_EQ = 0, CMP_NE = 1, CMP_LT = 2, CMP_LE = 3, CMP_GT = 4, CMP_GE = 5 };
#define PRIV FUTEX_PRIVATE_FLAG

static long futex(volatile int *uaddr, int op, int val, const void *ts_or_val2, volatile int *uaddr2,
                  int val3) {
  return syscall(SYS_futex, uaddr, op, val, ts_or_val2, uaddr2, val3);
}
#define N2(n) ((const void *)(long)(n))

struct waiter {
  pthread_t th;
  volatile int *word;
  int op, val;
  unsigned bitset;
  long result;
  int err;
};
static int woken;

static void *waiter_fn(void *arg) {
  struct waiter *w = arg;
  errno = 0;
  w->result = futex(w->word, w->op, w->val, NULL, NULL, (int)w->bitset);
  w->err = errno;
  __atomic_fetch_add(&woken, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void start(struct waiter *w, volatile int *word, int op, unsigned bitset) {
  w->word = word;
  w->op = op;
  w->val = *word;
  w->bitset = bitset;
  w->result = -99;
  if (pthread_create(&w->th, NULL, waiter_fn, w) != 0) FAILF("pthread_create waiter");
}

/* Move waiters from `from` to `to` until n have been moved (5 s limit). */
static int gather(volatile int *from, volatile int *to, int n, int priv) {
  int total = 0;
  long long deadline = mono_ns() + MS(5000);
  while (total < n && mono_ns() < deadline) {
    long r = futex(from, FUTEX_CMP_REQUEUE | priv, 0, N2(INT_MAX), to, *from);
    if (r < 0) { FAILF("gather: CMP_REQUEUE errno %d", errno); break; }
    total += (int)r;
    if (total < n) sleep_ms(1);
  }
  return total;
}

static void join_all(struct waiter *w, int n, const char *what) {
  char buf[128];
  for (int i = 0; i < n; i++) {
    pthread_join(w[i].th, NULL);
    snprintf(buf, sizeof buf, "%s: waiter %d returned 0 when woken", what, i);
    CHECK_EQ(w[i].result, 0, buf);
  }
}

static void test_errors_and_timeouts(void) {
  static int word = 5;
  CHECK_ERR(futex(&word, FUTEX_WAIT | PRIV, 6, NULL, NULL, 0), EAGAIN, "WAIT private, wrong value");
  CHECK_ERR(futex(&word, FUTEX_WAIT, 6, NULL, NULL, 0), EAGAIN, "WAIT shared, wrong value");
  CHECK_EQ(futex(&word, FUTEX_WAKE | PRIV, 1, NULL, NULL, 0), 0, "WAKE without waiters");

  struct timespec ts = {0, 50 * 1000000L};
  long long t0 = mono_ns();
  CHECK_ERR(futex(&word, FUTEX_WAIT | PRIV, 5, &ts, NULL, 0), ETIMEDOUT, "WAIT 50 ms timeout");
  long long dt = mono_ns() - t0;
  CHECK_RANGE(dt / 1000000, 50, 2050, "WAIT 50 ms timeout: elapsed ms");
  t0 = mono_ns();
  CHECK_ERR(futex(&word, FUTEX_WAIT, 5, &ts, NULL, 0), ETIMEDOUT, "WAIT shared 50 ms timeout");
  CHECK_RANGE((mono_ns() - t0) / 1000000, 50, 2050, "WAIT shared timeout: elapsed ms");

  /* WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline... */
  struct timespec abs;
  clock_gettime(CLOCK_MONOTONIC, &abs);
  long long deadline = (long long)abs.tv_sec * 1000000000LL + abs.tv_nsec + MS(40);
  abs.tv_sec = deadline / 1000000000LL;
  abs.tv_nsec = deadline % 1000000000LL;
  CHECK_ERR(futex(&word, FUTEX_WAIT_BITSET | PRIV, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT,
            "WAIT_BITSET absolute monotonic deadline");
  long long now = mono_ns();
  CHECK(now >= deadline, "WAIT_BITSET returned after its deadline");
  CHECK(now - deadline < MS(2000), "WAIT_BITSET returned soon after its deadline");
  /* ...or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME. */
  clock_gettime(CLOCK_REALTIME, &abs);
  deadline = (long long)abs.tv_sec * 1000000000LL + abs.tv_nsec + MS(40);
  abs.tv_sec = deadline / 1000000000LL;
  abs.tv_nsec = deadline % 1000000000LL;
  CHECK_ERR(futex(&word, FUTEX_WAIT_BITSET | PRIV | FUTEX_CLOCK_REALTIME, 5, &abs, NULL, FUTEX_BITSET_MATCH_ANY),
            ETIMEDOUT, "WAIT_BITSET absolute realtime deadline");
  CHECK(now_ns(CLOCK_REALTIME) >= deadline, "WAIT_BITSET realtime returned after its deadline");

  CHECK_ERR(futex((int *)8, FUTEX_WAIT | PRIV, 0, NULL, NULL, 0), EFAULT, "WAIT on a bad pointer");
  CHECK_ERR(futex((int *)((char *)&word + 1), FUTEX_WAIT | PRIV, 5, NULL, NULL, 0), EINVAL, "WAIT unaligned");
  struct timespec bad = {0, 2000000000L};
  CHECK_ERR(futex(&word, FUTEX_WAIT | PRIV, 5, &bad, NULL, 0), EINVAL, "WAIT tv_nsec out of range");
  CHECK_ERR(futex(&word, FUTEX_WAIT_BITSET | PRIV, 5, NULL, NULL, 0), EINVAL, "WAIT_BITSET with bitset 0");
  CHECK_ERR(futex(&word, 99, 0, NULL, NULL, 0), ENOSYS, "unknown futex op");
  CHECK_ERR(futex(&word, FUTEX_CMP_REQUEUE | PRIV, 1, N2(1), &word + 1, 6), EAGAIN, "CMP_REQUEUE value mismatch");
}

static void test_wake_requeue(void) {
  static int A, B;
  struct waiter w[3];
  woken = 0;
  for (int i = 0; i < 3; i++) start(&w[i], &A, FUTEX_WAIT | PRIV, 0);
  CHECK_EQ(gather(&A, &B, 3, PRIV), 3, "CMP_REQUEUE moved all 3 waiters A->B");
  CHECK_EQ(woken, 0, "requeue with nr_wake 0 woke nobody");
  CHECK_ERR(futex(&B, FUTEX_CMP_REQUEUE | PRIV, 1, N2(1), &A, B + 1), EAGAIN, "CMP_REQUEUE with waiters, mismatch");
  CHECK_EQ(futex(&B, FUTEX_REQUEUE | PRIV, 1, N2(1), &A, 0), 2, "REQUEUE wake 1 + requeue 1 returns 2");
  long long deadline = mono_ns() + MS(5000);
  while (__atomic_load_n(&woken, __ATOMIC_SEQ_CST) < 1 && mono_ns() < deadline) sleep_ms(1);
  sleep_ms(20);
  CHECK_EQ(woken, 1, "exactly one waiter woken by REQUEUE");
  CHECK_EQ(futex(&A, FUTEX_WAKE | PRIV, INT_MAX, NULL, NULL, 0), 1, "WAKE A: the requeued waiter");
  CHECK_EQ(futex(&B, FUTEX_WAKE | PRIV, INT_MAX, NULL, NULL, 0), 1, "WAKE B: the one left");
  join_all(w, 3, "requeue");

  /* Shared (non-private) futexes: WAKE honours its count. */
  struct waiter s[4];
  for (int i = 0; i < 4; i++) start(&s[i], &A, FUTEX_WAIT, 0);
  CHECK_EQ(gather(&A, &B, 4, 0), 4, "shared CMP_REQUEUE moved all 4 waiters");
  CHECK_EQ(futex(&B, FUTEX_WAKE, 2, NULL, NULL, 0), 2, "shared WAKE 2 of 4");
  CHECK_EQ(futex(&B, FUTEX_WAKE, 10, NULL, NULL, 0), 2, "shared WAKE 10 wakes the other 2");
  CHECK_EQ(futex(&B, FUTEX_WAKE, 10, NULL, NULL, 0), 0, "shared WAKE with nobody left");
  join_all(s, 4, "shared wake");
}

static void test_wake_op(void) {
  static int X, Y, W;
  struct {
    int op, oparg, before, after;
  } cases[] = {
      {OP_SET, 3, 7, 3},       {OP_ADD, 5, 7, 12},      {OP_OR, 0x10, 3, 0x13},
      {OP_ANDN, 3, 0x13, 0x10}, {OP_XOR, 0xff, 0x10, 0xef}, {OP_ADD | OP_SHIFT, 4, 1, 17},
  };
  for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Y = cases[i].before;
    char w[96];
    snprintf(w, sizeof w, "WAKE_OP op %d without waiters returns 0", cases[i].op);
    CHECK_EQ(futex(&X, FUTEX_WAKE_OP | PRIV, 1, N2(1), &Y, FUTEX_OP(cases[i].op, cases[i].oparg, CMP_EQ, 0)), 0, w);
    snprintf(w, sizeof w, "WAKE_OP op %d oparg %d applied to %d", cases[i].op, cases[i].oparg, cases[i].before);
    CHECK_EQ(Y, cases[i].after, w);
  }
  /* With one waiter on X and one on Y: the comparison decides about Y. */
  for (int pass = 0; pass < 2; pass++) {
    struct waiter w[2];
    woken = 0;
    W = 0;
    X = 0;
    Y = 0;
    start(&w[0], &W, FUTEX_WAIT | PRIV, 0);
    start(&w[1], &W, FUTEX_WAIT | PRIV, 0);
    CHECK_EQ(gather(&W, &X, 2, PRIV), 2, "WAKE_OP: two waiters on X");
    CHECK_EQ(futex(&X, FUTEX_REQUEUE | PRIV, 0, N2(1), &Y, 0), 1, "WAKE_OP: requeue one to Y");
    int cmparg = pass == 0 ? 0 : 100; /* old Y == 0: true on pass 0, false on pass 1 */
    long r = futex(&X, FUTEX_WAKE_OP | PRIV, 1, N2(1), &Y, FUTEX_OP(OP_ADD, 1, CMP_EQ, cmparg));
    CHECK_EQ(r, pass == 0 ? 2 : 1, pass == 0 ? "WAKE_OP cmp true wakes X and Y" : "WAKE_OP cmp false wakes X only");
    CHECK_EQ(Y, 1, "WAKE_OP added 1 to Y");
    if (pass == 1) CHECK_EQ(futex(&Y, FUTEX_WAKE | PRIV, 1, NULL, NULL, 0), 1, "WAKE the waiter left on Y");
    join_all(w, 2, "wake_op");
  }
}

static void test_bitset(void) {
  static int A, B;
  struct waiter w[2];
  start(&w[0], &A, FUTEX_WAIT_BITSET | PRIV, 0x1);
  start(&w[1], &A, FUTEX_WAIT_BITSET | PRIV, 0x4);
  CHECK_EQ(gather(&A, &B, 2, PRIV), 2, "bitset waiters gathered");
  CHECK_EQ(futex(&B, FUTEX_WAKE_BITSET | PRIV, 10, NULL, NULL, 0x2), 0, "WAKE_BITSET 0x2 matches nobody");
  CHECK_EQ(futex(&B, FUTEX_WAKE_BITSET | PRIV, 10, NULL, NULL, 0x1), 1, "WAKE_BITSET 0x1 wakes the 0x1 waiter");
  CHECK_EQ(futex(&B, FUTEX_WAKE_BITSET | PRIV, 10, NULL, NULL, 0x1), 0, "WAKE_BITSET 0x1 again: nobody");
  CHECK_EQ(futex(&B, FUTEX_WAKE | PRIV, 10, NULL, NULL, 0), 1, "plain WAKE matches any bitset");
  join_all(w, 2, "bitset");
}

/* The ordinary pattern: another thread changes the word, then wakes. */
static int flag;
static void *setter(void *arg) {
  (void)arg;
  sleep_ms(20);
  __atomic_store_n(&flag, 1, __ATOMIC_SEQ_CST);
  futex(&flag, FUTEX_WAKE | PRIV, 1, NULL, NULL, 0);
  return NULL;
}

static void test_handoff(void) {
  pthread_t th;
  long long t0 = mono_ns();
  pthread_create(&th, NULL, setter, NULL);
  int loops = 0;
  while (__atomic_load_n(&flag, __ATOMIC_SEQ_CST) == 0 && loops++ < 1000) {
    struct timespec ts = {3, 0};
    long r = futex(&flag, FUTEX_WAIT | PRIV, 0, &ts, NULL, 0);
    if (r != 0 && errno != EAGAIN && errno != EINTR) { FAILF("handoff WAIT errno %d", errno); break; }
  }
  pthread_join(th, NULL);
  CHECK_EQ(flag, 1, "handoff: flag seen");
  CHECK((mono_ns() - t0) < MS(2900), "handoff: woken, not timed out");
}

int main(void) {
  check_init("futex");
  test_errors_and_timeouts();
  test_wake_requeue();
  test_wake_op();
  test_bitset();
  test_handoff();
  return check_finish();
}
