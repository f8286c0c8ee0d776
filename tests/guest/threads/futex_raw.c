/* Raw futex(2): EAGAIN on mismatch, ETIMEDOUT (elapsed time checked when
 * clock_gettime works), WAKE counts, REQUEUE, CMP_REQUEUE, WAKE_OP, bitsets,
 * EFAULT/EINVAL/ENOSYS. Waiters are counted with a same-word FUTEX_REQUEUE
 * of 0 wakes (it returns how many are queued, without waking anyone). */
#define _GNU_SOURCE
#include <limits.h>
#include "futex_defs.h"
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "futex_defs.h"

static long fx(uint32_t* a, int op, uint32_t val, const void* ts_or_val2, uint32_t* a2, uint32_t val3) {
  return syscall(SYS_futex, a, op, val, ts_or_val2, a2, val3);
}
#define V2(n) ((const void*)(uintptr_t)(n))

static int queued(uint32_t* a) { return (int)fx(a, FUTEX_REQUEUE_PRIVATE, 0, V2(INT_MAX), a, 0); }
static void wait_queued(uint32_t* a, int n) {
  for (long spins = 0; queued(a) < n; ++spins) {
    CHECK(spins < 50000000);
    sched_yield();
  }
}

static int have_clock;
static long long mono_ns(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_MONOTONIC, &t)) return -1;
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

struct waiter {
  uint32_t* word;
  uint32_t expect;
  uint32_t bitset;  /* 0: FUTEX_WAIT */
  long result;
  int err;
  int done;
};
static void* wait_thread(void* p) {
  struct waiter* w = p;
  errno = 0;
  if (w->bitset) w->result = fx(w->word, FUTEX_WAIT_BITSET_PRIVATE, w->expect, 0, 0, w->bitset);
  else w->result = fx(w->word, FUTEX_WAIT_PRIVATE, w->expect, 0, 0, 0);
  w->err = errno;
  __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
  return 0;
}
static void start(pthread_t* t, struct waiter* w, uint32_t* word, uint32_t expect, uint32_t bitset) {
  *w = (struct waiter){word, expect, bitset, 0, 0, 0};
  CHECK_EQ(pthread_create(t, 0, wait_thread, w), 0);
}
static void finish(pthread_t t, struct waiter* w) {
  CHECK_EQ(pthread_join(t, 0), 0);
  CHECK_EQ(w->result, 0);
}

static uint32_t A, B;

int main(void) {
  have_clock = mono_ns() >= 0;
  /* EAGAIN: the word does not hold val. */
  A = 5;
  CHECK_ERR(fx(&A, FUTEX_WAIT_PRIVATE, 4, 0, 0, 0), EAGAIN);
  CHECK_ERR(fx(&A, FUTEX_WAIT, 4, 0, 0, 0), EAGAIN);  /* shared: same answer */
  CHECK_ERR(fx(&A, FUTEX_WAIT_BITSET_PRIVATE, 4, 0, 0, 1), EAGAIN);

  /* ETIMEDOUT: relative for WAIT. */
  struct timespec rel = {0, 100 * 1000000};
  long long t0 = mono_ns();
  CHECK_ERR(fx(&A, FUTEX_WAIT_PRIVATE, 5, &rel, 0, 0), ETIMEDOUT);
  long long dt = mono_ns() - t0;
  if (have_clock) {
    CHECK(dt >= 100 * 1000000LL);
    CHECK(dt < 5000 * 1000000LL);
  } else {
    printf("note: clock_gettime unavailable, elapsed times not checked\n");
  }
  /* Absolute for WAIT_BITSET, on CLOCK_MONOTONIC or CLOCK_REALTIME. */
  if (have_clock) {
    struct timespec now, abs;
    clock_gettime(CLOCK_MONOTONIC, &now);
    abs = now;
    abs.tv_nsec += 80 * 1000000;
    if (abs.tv_nsec >= 1000000000) abs.tv_sec++, abs.tv_nsec -= 1000000000;
    CHECK_ERR(fx(&A, FUTEX_WAIT_BITSET_PRIVATE, 5, &abs, 0, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
    CHECK(mono_ns() - (now.tv_sec * 1000000000LL + now.tv_nsec) >= 80 * 1000000LL);
    clock_gettime(CLOCK_REALTIME, &now);
    abs = now;
    abs.tv_nsec += 80 * 1000000;
    if (abs.tv_nsec >= 1000000000) abs.tv_sec++, abs.tv_nsec -= 1000000000;
    t0 = mono_ns();
    CHECK_ERR(fx(&A, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &abs, 0, FUTEX_BITSET_MATCH_ANY),
              ETIMEDOUT);
    CHECK(mono_ns() - t0 >= 60 * 1000000LL);
  }
  /* A deadline already past: ETIMEDOUT at once; a mismatch still wins. */
  struct timespec past = {0, 1};
  CHECK_ERR(fx(&A, FUTEX_WAIT_BITSET_PRIVATE, 5, &past, 0, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
  CHECK_ERR(fx(&A, FUTEX_WAIT_BITSET_PRIVATE, 6, &past, 0, FUTEX_BITSET_MATCH_ANY), EAGAIN);
  struct timespec zero = {0, 0};
  CHECK_ERR(fx(&A, FUTEX_WAIT_PRIVATE, 5, &zero, 0, 0), ETIMEDOUT);

  /* EINVAL and EFAULT. */
  struct timespec bad_ns = {0, 1000000000}, neg = {-1, 0};
  CHECK_ERR(fx(&A, FUTEX_WAIT_PRIVATE, 5, &bad_ns, 0, 0), EINVAL);
  CHECK_ERR(fx(&A, FUTEX_WAIT_PRIVATE, 5, &neg, 0, 0), EINVAL);
  CHECK_ERR(fx((uint32_t*)((char*)&A + 1), FUTEX_WAIT_PRIVATE, 5, 0, 0, 0), EINVAL);
  CHECK_ERR(fx((uint32_t*)((char*)&A + 2), FUTEX_WAKE_PRIVATE, 1, 0, 0, 0), EINVAL);
  CHECK_ERR(fx(&A, FUTEX_WAIT_BITSET_PRIVATE, 5, 0, 0, 0), EINVAL);  /* bitset 0 */
  CHECK_ERR(fx(&A, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, 0, 0), EINVAL);
  CHECK_ERR(fx(&A, 99, 0, 0, 0, 0), ENOSYS);
  CHECK_ERR(fx(&A, FUTEX_WAKE_PRIVATE | FUTEX_CLOCK_REALTIME, 1, 0, 0, 0), ENOSYS);
  /* A PI lock whose owner does not exist: ESRCH (abi_futex_pi.c tests
   * the PI family). */
  uint32_t pi_word = 0x3ffffff0;
  CHECK_ERR(fx(&pi_word, FUTEX_LOCK_PI_PRIVATE, 0, 0, 0, 0), ESRCH);
  CHECK_ERR(fx((uint32_t*)0x1000, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0), EFAULT);
  CHECK_ERR(fx((uint32_t*)0xffff800000000000ull, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0), EFAULT);
  CHECK_ERR(fx(&A, FUTEX_WAIT_PRIVATE, 5, (void*)0x1000, 0, 0), EFAULT);
  CHECK_ERR(fx(&A, FUTEX_CMP_REQUEUE_PRIVATE, 1, V2(1), (uint32_t*)((char*)&B + 1), 5), EINVAL);
  CHECK_ERR(fx(&A, FUTEX_CMP_REQUEUE_PRIVATE, 1, V2(-1), &B, 5), EINVAL);
  errno = 0;  /* futex_waitv: ENOSYS on Capsule, EINVAL (no waiters) on Linux 5.16+ */
  CHECK(syscall(449, 0, 0, 0, 0, 0) == -1 && (errno == ENOSYS || errno == EINVAL));

  /* WAKE with nobody waiting: 0. WAKE counts. */
  CHECK_EQ(fx(&A, FUTEX_WAKE_PRIVATE, 10, 0, 0, 0), 0);
  pthread_t t[4];
  struct waiter w[4];
  A = 0;
  for (int i = 0; i < 4; ++i) start(&t[i], &w[i], &A, 0, 0);
  wait_queued(&A, 4);
  CHECK_EQ(fx(&A, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0), 1);
  wait_queued(&A, 3);
  CHECK_EQ(queued(&A), 3);
  CHECK_EQ(fx(&A, FUTEX_WAKE_PRIVATE, 2, 0, 0, 0), 2);
  CHECK_EQ(fx(&A, FUTEX_WAKE_PRIVATE, INT_MAX, 0, 0, 0), 1);
  for (int i = 0; i < 4; ++i) finish(t[i], &w[i]);

  /* REQUEUE: wake 1, move 2 of 3 to B; then B has 2, A has 0. */
  A = 0, B = 0;
  for (int i = 0; i < 4; ++i) start(&t[i], &w[i], &A, 0, 0);
  wait_queued(&A, 4);
  CHECK_EQ(fx(&A, FUTEX_REQUEUE_PRIVATE, 1, V2(2), &B, 0), 3);
  CHECK_EQ(queued(&B), 2);
  CHECK_EQ(queued(&A), 1);
  /* CMP_REQUEUE: EAGAIN when *A != val3, nothing moved. */
  CHECK_ERR(fx(&A, FUTEX_CMP_REQUEUE_PRIVATE, 0, V2(INT_MAX), &B, 7), EAGAIN);
  CHECK_EQ(queued(&A), 1);
  CHECK_EQ(fx(&A, FUTEX_CMP_REQUEUE_PRIVATE, 0, V2(INT_MAX), &B, 0), 1);
  CHECK_EQ(queued(&B), 3);
  CHECK_EQ(fx(&A, FUTEX_WAKE_PRIVATE, INT_MAX, 0, 0, 0), 0);
  CHECK_EQ(fx(&B, FUTEX_WAKE_PRIVATE, INT_MAX, 0, 0, 0), 3);
  for (int i = 0; i < 4; ++i) finish(t[i], &w[i]);

  /* WAKE_OP: B += 1 (old 0), wake 1 on A, and on B if old == 0. */
  A = 0, B = 0;
  start(&t[0], &w[0], &A, 0, 0);
  start(&t[1], &w[1], &B, 0, 0);
  wait_queued(&A, 1);
  wait_queued(&B, 1);
  uint32_t op = FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 0);
  CHECK_EQ(fx(&A, FUTEX_WAKE_OP_PRIVATE, 1, V2(1), &B, op), 2);
  CHECK_EQ(B, 1);
  finish(t[0], &w[0]);
  finish(t[1], &w[1]);
  /* ... and a false comparison leaves B's waiter asleep. */
  start(&t[1], &w[1], &B, 1, 0);
  wait_queued(&B, 1);
  op = FUTEX_OP(FUTEX_OP_SET, 8, FUTEX_OP_CMP_GT, 5);  /* old 1 > 5 is false */
  CHECK_EQ(fx(&A, FUTEX_WAKE_OP_PRIVATE, 1, V2(1), &B, op), 0);
  CHECK_EQ(B, 8);
  CHECK_EQ(queued(&B), 1);
  op = FUTEX_OP(FUTEX_OP_OR, 4, FUTEX_OP_CMP_EQ, 8);  /* old 8 == 8: wakes B's */
  CHECK_EQ(fx(&A, FUTEX_WAKE_OP_PRIVATE, 1, V2(1), &B, op), 1);
  CHECK_EQ(B, 12);
  finish(t[1], &w[1]);
  CHECK_ERR(fx(&A, FUTEX_WAKE_OP_PRIVATE, 1, V2(1), &B, 0xf0000000u), ENOSYS);  /* bad op */
  CHECK_ERR(fx(&A, FUTEX_WAKE_OP_PRIVATE, 1, V2(1), (uint32_t*)0x1000, op), EFAULT);

  /* Bitsets: a wake with bits 0x2 wakes the 0x2 waiter only. */
  A = 0;
  start(&t[0], &w[0], &A, 0, 0x1);
  start(&t[1], &w[1], &A, 0, 0x2);
  wait_queued(&A, 2);
  CHECK_EQ(fx(&A, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, 0, 0x2), 1);
  CHECK_EQ(pthread_join(t[1], 0), 0);
  CHECK_EQ(w[1].result, 0);
  CHECK_EQ(w[0].done, 0);
  CHECK_EQ(fx(&A, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, 0, 0x4), 0);
  CHECK_EQ(fx(&A, FUTEX_WAKE_PRIVATE, INT_MAX, 0, 0, 0), 1);  /* plain WAKE matches any */
  finish(t[0], &w[0]);

  printf("threads: futex ok (%d checks)\n", g_checks);
  return 0;
}
