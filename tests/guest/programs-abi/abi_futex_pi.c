/* abi-test: CPUS 4 TIMEOUT 300 */
/* PI futexes (issue 18): FUTEX_LOCK_PI, LOCK_PI2, TRYLOCK_PI, UNLOCK_PI,
 * WAIT_REQUEUE_PI and CMP_REQUEUE_PI on raw words — the owner's tid in the
 * word, FUTEX_WAITERS, the hand-over to the oldest waiter on unlock,
 * EDEADLK on self-lock, EPERM on unlocking what the caller does not own,
 * ESRCH for an owner that does not exist, ETIMEDOUT, EINVAL/EFAULT/ENOSYS
 * for bad input — and PTHREAD_PRIO_INHERIT mutexes (plain, error-checking,
 * robust with an owner that dies) counted under contention. Waits for
 * another thread are bounded loops, never timed assertions. */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

/* include/uapi/linux/futex.h (musl's headers have no linux/). */
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_CMP_REQUEUE_PI 12
#define FUTEX_LOCK_PI2 13
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_WAITERS 0x80000000u
#define FUTEX_OWNER_DIED 0x40000000u
#define FUTEX_TID_MASK 0x3fffffffu

static long futex(uint32_t* uaddr, int op, uint32_t val, const struct timespec* ts, uint32_t* uaddr2, uint32_t val3) {
  return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}
static long futex_n(uint32_t* uaddr, int op, uint32_t val, unsigned long val2, uint32_t* uaddr2, uint32_t val3) {
  return syscall(SYS_futex, uaddr, op, val, val2, uaddr2, val3);
}
static uint32_t tid(void) { return (uint32_t)syscall(SYS_gettid); }
static uint32_t load(uint32_t* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void pause_ms(int ms) {
  struct timespec t = {0, ms * 1000000L};
  nanosleep(&t, NULL);
}
/* Up to ~20 s for *p & mask to become non-zero. */
static int wait_bits(uint32_t* p, uint32_t mask) {
  for (int i = 0; i < 20000; ++i) {
    if (load(p) & mask) return 1;
    pause_ms(1);
  }
  return 0;
}

static void test_basics(void) {
  static uint32_t w;
  w = 0;
  CHECK(futex(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0) == 0, "lock a free word");
  CHECK(load(&w) == tid(), "the word is our tid: %#x", load(&w));
  EXPECT_ERR(EDEADLK, futex(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
  EXPECT_ERR(EDEADLK, futex(&w, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
  EXPECT_ERR(EDEADLK, futex(&w, FUTEX_LOCK_PI2 | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0));
  CHECK(futex(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0) == 0 && load(&w) == 0, "unlock frees it");
  EXPECT_ERR(EPERM, futex(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
  CHECK(futex(&w, FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0) == 0 && load(&w) == tid(), "trylock");
  CHECK(futex(&w, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL, NULL, 0) == 0 && load(&w) == 0, "unlock");
  /* OWNER_DIED with no owner: taken, the bit kept. */
  w = FUTEX_OWNER_DIED;
  CHECK(futex(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0) == 0 && load(&w) == (FUTEX_OWNER_DIED | tid()), "%#x", load(&w));
  CHECK(futex(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0) == 0 && load(&w) == 0, "unlock drops OWNER_DIED");

  /* Someone else's word. */
  const uint32_t ghost = 0x3ffffff0; /* no such thread */
  w = ghost;
  EXPECT_ERR(EPERM, futex(&w, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
  EXPECT_ERR(ESRCH, futex(&w, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
  CHECK(load(&w) == (ghost | FUTEX_WAITERS), "WAITERS set before the owner is looked up: %#x", load(&w));
  w = ghost;
  EXPECT_ERR(ESRCH, futex(&w, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));

  /* Bad input. */
  uint32_t words[2] = {0, 0};
  EXPECT_ERR(EINVAL, futex((uint32_t*)((char*)words + 1), FUTEX_LOCK_PI, 0, NULL, NULL, 0));
  /* UNLOCK_PI compares the owner before it checks the alignment. */
  EXPECT_ERR(EPERM, futex((uint32_t*)((char*)words + 2), FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
  EXPECT_ERR(EFAULT, futex(NULL, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
  EXPECT_ERR(EFAULT, futex((uint32_t*)KERNEL_PTR, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
  EXPECT_ERR(EFAULT, futex((uint32_t*)BAD_PTR, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
  uint32_t* ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(ro != MAP_FAILED, "mmap");
  EXPECT_ERR(EFAULT, futex(ro, FUTEX_LOCK_PI, 0, NULL, NULL, 0));
  munmap(ro, 4096);
  /* FUTEX_CLOCK_REALTIME: LOCK_PI2 takes it, LOCK_PI does not. */
  EXPECT_ERR(ENOSYS, futex(&words[0], FUTEX_LOCK_PI | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0));
  EXPECT_ERR(ENOSYS, futex(&words[0], FUTEX_UNLOCK_PI | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0));
  CHECK(futex(&words[0], FUTEX_LOCK_PI2 | FUTEX_CLOCK_REALTIME, 0, NULL, NULL, 0) == 0, "LOCK_PI2 | CLOCK_REALTIME");
  CHECK(futex(&words[0], FUTEX_UNLOCK_PI, 0, NULL, NULL, 0) == 0, "unlock");
  struct timespec bad = {0, 2000000000L};
  words[1] = ghost;
  EXPECT_ERR(EINVAL, futex(&words[1], FUTEX_LOCK_PI, 0, &bad, NULL, 0));
  CHECK(load(&words[1]) == ghost, "a bad timeout is refused before the word is touched");
  /* Requeue-PI argument checks. */
  uint32_t c = 0, l = 0;
  EXPECT_ERR(EINVAL, futex_n(&c, FUTEX_CMP_REQUEUE_PI, 2, 1, &l, 0)); /* wakes exactly one */
  EXPECT_ERR(EINVAL, futex_n(&c, FUTEX_CMP_REQUEUE_PI, 1, 1, &c, 0)); /* one word */
  EXPECT_ERR(EAGAIN, futex_n(&c, FUTEX_CMP_REQUEUE_PI, 1, 1, &l, 5)); /* *uaddr != cmp */
  CHECK(futex_n(&c, FUTEX_CMP_REQUEUE_PI, 1, 1, &l, 0) == 0, "nobody to requeue: 0");
  EXPECT_ERR(EINVAL, futex(&c, FUTEX_WAIT_REQUEUE_PI, 0, NULL, &c, 0));
  EXPECT_ERR(EAGAIN, futex(&c, FUTEX_WAIT_REQUEUE_PI, 1, NULL, &l, 0));
}

/* A thread that holds `w` until told to let go. */
static uint32_t held_word, release_flag, holder_tid;
static void* holder(void* arg) {
  (void)arg;
  __atomic_store_n(&holder_tid, tid(), __ATOMIC_SEQ_CST);
  if (futex(&held_word, FUTEX_LOCK_PI, 0, NULL, NULL, 0) != 0) return (void*)1;
  for (int i = 0; i < 20000 && !load(&release_flag); ++i) pause_ms(1);
  return (void*)(long)futex(&held_word, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0);
}

static void test_timeouts(void) {
  held_word = 0, release_flag = 0;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, holder, NULL) == 0, "holder");
  for (int i = 0; i < 20000 && !(load(&held_word) & FUTEX_TID_MASK); ++i) pause_ms(1);
  CHECK((load(&held_word) & FUTEX_TID_MASK) == load(&holder_tid), "held by the holder: %#x", load(&held_word));
  EXPECT_ERR(EAGAIN, futex(&held_word, FUTEX_TRYLOCK_PI, 0, NULL, NULL, 0));
  EXPECT_ERR(EPERM, futex(&held_word, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0));
  struct timespec past;
  clock_gettime(CLOCK_REALTIME, &past);
  past.tv_sec -= 1;
  EXPECT_ERR(ETIMEDOUT, futex(&held_word, FUTEX_LOCK_PI, 0, &past, NULL, 0));
  CHECK(load(&held_word) & FUTEX_WAITERS, "WAITERS set by the waiter");
  struct timespec soon;
  clock_gettime(CLOCK_MONOTONIC, &soon);
  soon.tv_nsec += 20000000;
  if (soon.tv_nsec >= 1000000000) soon.tv_sec++, soon.tv_nsec -= 1000000000;
  EXPECT_ERR(ETIMEDOUT, futex(&held_word, FUTEX_LOCK_PI2, 0, &soon, NULL, 0));
  __atomic_store_n(&release_flag, 1, __ATOMIC_SEQ_CST);
  void* r;
  pthread_join(t, &r);
  CHECK(r == NULL, "holder's unlock: %ld", (long)r);
  CHECK(load(&held_word) == 0, "free after the holder's unlock (no waiter left): %#x", load(&held_word));
}

/* Hand-over: the unlock writes the waiter's tid with WAITERS. */
static uint32_t hand_word, waiter_tid, waiter_saw;
static void* hand_waiter(void* arg) {
  (void)arg;
  __atomic_store_n(&waiter_tid, tid(), __ATOMIC_SEQ_CST);
  long r = futex(&hand_word, FUTEX_LOCK_PI, 0, NULL, NULL, 0);
  __atomic_store_n(&waiter_saw, load(&hand_word), __ATOMIC_SEQ_CST);
  if (r != 0) return (void*)1;
  return (void*)(long)futex(&hand_word, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0);
}

static void test_handover(void) {
  hand_word = 0;
  CHECK(futex(&hand_word, FUTEX_LOCK_PI, 0, NULL, NULL, 0) == 0, "main locks");
  pthread_t t;
  CHECK(pthread_create(&t, NULL, hand_waiter, NULL) == 0, "waiter");
  CHECK(wait_bits(&hand_word, FUTEX_WAITERS), "the waiter sleeps (WAITERS)");
  pause_ms(20); /* let it be queued, not just announced */
  CHECK(futex(&hand_word, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0) == 0, "unlock");
  uint32_t after = load(&hand_word);
  CHECK(after == (load(&waiter_tid) | FUTEX_WAITERS) || after == 0 || after == load(&waiter_tid),
        "handed to the waiter: %#x", after);
  void* r;
  pthread_join(t, &r);
  CHECK(r == NULL, "waiter locked and unlocked: %ld", (long)r);
  CHECK(load(&waiter_saw) == (load(&waiter_tid) | FUTEX_WAITERS), "the waiter owned it: %#x", load(&waiter_saw));
  CHECK(load(&hand_word) == 0, "free at the end");
}

/* Requeue-PI: a condition-variable-like wait whose waker hands over the
 * mutex. */
static uint32_t cond_word, mutex_word, rq_tid;
static void* rq_waiter(void* arg) {
  (void)arg;
  __atomic_store_n(&rq_tid, tid(), __ATOMIC_SEQ_CST);
  long r = futex(&cond_word, FUTEX_WAIT_REQUEUE_PI, 0, NULL, &mutex_word, 0);
  if (r != 0) return (void*)(100L + errno);
  if ((load(&mutex_word) & FUTEX_TID_MASK) != tid()) return (void*)2;
  return (void*)(long)futex(&mutex_word, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0);
}

static void test_requeue(int held) {
  cond_word = 0, mutex_word = 0;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, rq_waiter, NULL) == 0, "requeue waiter");
  if (held) CHECK(futex(&mutex_word, FUTEX_LOCK_PI, 0, NULL, NULL, 0) == 0, "main holds the mutex");
  long n = 0;
  for (int i = 0; i < 20000 && n == 0; ++i) {
    n = futex_n(&cond_word, FUTEX_CMP_REQUEUE_PI, 1, 8, &mutex_word, 0);
    if (n == 0) pause_ms(1);
  }
  CHECK(n == 1, "one waiter woken or requeued: %ld", n);
  if (held) {
    CHECK(load(&mutex_word) == (tid() | FUTEX_WAITERS), "requeued: WAITERS on the mutex: %#x", load(&mutex_word));
    CHECK(futex(&mutex_word, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0) == 0, "main unlocks: hand-over");
  }
  void* r;
  pthread_join(t, &r);
  CHECK(r == NULL, "requeue waiter (held %d): %ld", held, (long)r);
  CHECK(load(&mutex_word) == 0, "mutex free at the end: %#x", load(&mutex_word));
}

/* PTHREAD_PRIO_INHERIT mutexes under contention. */
#define THREADS 4
#define ROUNDS 400 /* each contended round trip is a system call on Linux too */
static pthread_mutex_t pi_mutex;
static long counter;
/* Thread k makes ROUNDS - k * ROUNDS / 8 rounds: threads end (each end is
 * an owner exit the kernel scans PI waiters for) while others still wait. */
static long rounds_of(long k) { return ROUNDS - k * ROUNDS / 8; }
static void* bump(void* arg) {
  long rounds = rounds_of((long)arg);
  for (int i = 0; i < rounds; ++i) {
    if (pthread_mutex_lock(&pi_mutex) != 0) return (void*)1;
    long v = counter;
    if ((i & 63) == 0) sched_yield(); /* hold it across a switch now and then */
    counter = v + 1;
    if (pthread_mutex_unlock(&pi_mutex) != 0) return (void*)2;
  }
  return NULL;
}

static void test_pthread_pi(int type) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  CHECK(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT) == 0, "PRIO_INHERIT");
  pthread_mutexattr_settype(&a, type);
  CHECK(pthread_mutex_init(&pi_mutex, &a) == 0, "init");
  counter = 0;
  pthread_t t[THREADS];
  long want = 0;
  for (long i = 0; i < THREADS; ++i) {
    CHECK(pthread_create(&t[i], NULL, bump, (void*)i) == 0, "create");
    want += rounds_of(i);
  }
  for (int i = 0; i < THREADS; ++i) {
    void* r;
    pthread_join(t[i], &r);
    CHECK(r == NULL, "thread %d: %ld", i, (long)r);
  }
  CHECK(counter == want, "type %d: counter %ld, want %ld", type, counter, want);
  if (type == PTHREAD_MUTEX_ERRORCHECK) {
    CHECK(pthread_mutex_lock(&pi_mutex) == 0, "lock");
    CHECK(pthread_mutex_lock(&pi_mutex) == EDEADLK, "relock: EDEADLK");
    CHECK(pthread_mutex_unlock(&pi_mutex) == 0, "unlock");
    CHECK(pthread_mutex_unlock(&pi_mutex) == EPERM, "unlock unowned: EPERM");
  }
  pthread_mutex_destroy(&pi_mutex);
  pthread_mutexattr_destroy(&a);
}

/* A robust PI mutex whose owner dies while main waits in the kernel. */
static pthread_mutex_t robust;
static uint32_t robust_locked;
static void* die_holding(void* arg) {
  (void)arg;
  if (pthread_mutex_lock(&robust) != 0) return (void*)1;
  __atomic_store_n(&robust_locked, 1, __ATOMIC_SEQ_CST);
  /* Wait for main to sleep on it (WAITERS in the lock word: the word of
   * the mutex holding our tid — glibc's first, musl's second), then exit. */
  uint32_t* word = NULL;
  for (int i = 0; i < 8 && !word; ++i)
    if ((load((uint32_t*)&robust + i) & FUTEX_TID_MASK) == tid()) word = (uint32_t*)&robust + i;
  if (!word) word = (uint32_t*)&robust;
  for (int i = 0; i < 20000 && !(load(word) & FUTEX_WAITERS); ++i) pause_ms(1);
  pause_ms(20);
  return NULL;
}

static void test_robust_pi(void) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  CHECK(pthread_mutex_init(&robust, &a) == 0, "robust PI init");
  robust_locked = 0;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, die_holding, NULL) == 0, "create");
  for (int i = 0; i < 20000 && !load(&robust_locked); ++i) pause_ms(1);
  int r = pthread_mutex_lock(&robust);
  CHECK(r == EOWNERDEAD, "lock after the owner died: %d", r);
  if (r == EOWNERDEAD) CHECK(pthread_mutex_consistent(&robust) == 0, "consistent");
  CHECK(pthread_mutex_unlock(&robust) == 0, "unlock");
  CHECK(pthread_mutex_lock(&robust) == 0 && pthread_mutex_unlock(&robust) == 0, "usable again");
  pthread_join(t, NULL);
  pthread_mutex_destroy(&robust);
}

int main(void) {
  test_basics();
  test_timeouts();
  test_handover();
  test_requeue(0);
  test_requeue(1);
  test_pthread_pi(PTHREAD_MUTEX_NORMAL);
  test_pthread_pi(PTHREAD_MUTEX_ERRORCHECK);
  test_robust_pi();
  return finish("abi_futex_pi");
}
