/* threads: 64 pthreads with barriers, condvars and a mutex-protected
 * counter; join results; __thread storage per thread; distinct gettid;
 * sched_yield; affinity + getcpu; raw clone and clone3 with the pthread
 * flag set (CLONE_PARENT_SETTID/CLONE_CHILD_CLEARTID checked directly);
 * set_robust_list/get_robust_list and a robust mutex whose owner dies. */
#include "check.h"
#include <pthread.h>
#include <sched.h>

#define NTHREADS 64
#define ROUNDS 3
#define ADDS 200

static __thread int tls_init = 5;
static __thread long tls_zero;

struct tinfo {
  int idx;
  long tid;
  void *tls_addr;
  int tls_ok;
  int serial;
};
static struct tinfo info[NTHREADS];
static pthread_barrier_t barrier;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_ready = PTHREAD_COND_INITIALIZER, cv_go = PTHREAD_COND_INITIALIZER;
static int ready, go, counter;
static long atomic_counter;

static void *worker(void *arg) {
  struct tinfo *t = arg;
  t->tid = sys_gettid();
  t->tls_addr = &tls_init;
  t->tls_ok = tls_init == 5 && tls_zero == 0;
  tls_init = 1000 + t->idx;
  tls_zero = t->idx;
  /* Condvar handshake: report ready, wait for the broadcast. */
  pthread_mutex_lock(&mu);
  ready++;
  pthread_cond_signal(&cv_ready);
  while (!go) pthread_cond_wait(&cv_go, &mu);
  pthread_mutex_unlock(&mu);
  for (int r = 0; r < ROUNDS; r++) {
    if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) __atomic_fetch_add(&t->serial, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < ADDS; i++) {
      pthread_mutex_lock(&mu);
      counter++;
      pthread_mutex_unlock(&mu);
      __atomic_fetch_add(&atomic_counter, 1, __ATOMIC_RELAXED);
      if (i % 50 == 0) sched_yield();
    }
  }
  t->tls_ok &= tls_init == 1000 + t->idx && tls_zero == t->idx;
  return (void *)(long)(t->idx * 3 + 1);
}

static void test_pthreads(void) {
  pthread_t th[NTHREADS];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_barrier_init(&barrier, NULL, NTHREADS);
  tls_init = 77;
  int created = 0;
  for (int i = 0; i < NTHREADS; i++) {
    info[i].idx = i;
    int e = pthread_create(&th[i], &attr, worker, &info[i]);
    if (e) { FAILF("pthread_create %d: error %d", i, e); break; }
    created++;
  }
  pthread_mutex_lock(&mu);
  while (ready < created) pthread_cond_wait(&cv_ready, &mu);
  go = 1;
  pthread_cond_broadcast(&cv_go);
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < created; i++) {
    void *ret = NULL;
    int e = pthread_join(th[i], &ret);
    if (e) FAILF("pthread_join %d: error %d", i, e);
    else if ((long)ret != i * 3 + 1) FAILF("join result of thread %d: got %ld want %d", i, (long)ret, i * 3 + 1);
  }
  pthread_barrier_destroy(&barrier);
  CHECK_EQ(created, NTHREADS, "threads created");
  CHECK_EQ(counter, (long)NTHREADS * ROUNDS * ADDS, "mutex-protected counter total");
  CHECK_EQ(atomic_counter, (long)NTHREADS * ROUNDS * ADDS, "atomic counter total");
  int serial = 0, tls_ok = 0, distinct = 1;
  for (int i = 0; i < NTHREADS; i++) {
    serial += info[i].serial;
    tls_ok += info[i].tls_ok;
    for (int j = 0; j < i; j++)
      if (info[i].tid == info[j].tid || info[i].tls_addr == info[j].tls_addr) distinct = 0;
    if (info[i].tid == getpid() || info[i].tid <= 0) distinct = 0;
  }
  CHECK_EQ(serial, ROUNDS, "one PTHREAD_BARRIER_SERIAL_THREAD per barrier round");
  CHECK_EQ(tls_ok, NTHREADS, "__thread initial values and per-thread values");
  CHECK(distinct, "gettid and __thread addresses distinct per thread, not the pid");
  CHECK_EQ(tls_init, 77, "main thread's __thread untouched by workers");
  CHECK_EQ(sys_gettid(), getpid(), "main thread: gettid == getpid");
}

/* ---- raw clone / clone3 ---- */
struct child {
  volatile int ran;
  volatile long tid_seen;
  volatile int tid_word; /* CLONE_PARENT_SETTID + CLONE_CHILD_CLEARTID target */
};

static long raw_gettid(void) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(SYS_gettid) : "rcx", "r11", "memory");
  return r;
}

/* Runs on the new thread's stack with the parent's FS: no libc here. */
static int child_fn(void *arg) {
  struct child *c = arg;
  c->tid_seen = raw_gettid();
  c->ran = 1;
  return 0;
}

/* The child returns from the syscall on its own stack: it must not return
 * through C frames, so it calls fn and exits (SYS_exit, this thread only). */
static long raw_clone_call(long nr, long a1, long a2, long a3, long a4, long a5, int (*fn)(void *), void *arg) {
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register void *r12 __asm__("r12") = (void *)fn;
  register void *r13 __asm__("r13") = arg;
  long ret;
  __asm__ volatile(
      "syscall\n"
      "test %%rax, %%rax\n"
      "jnz 1f\n"
      "xor %%ebp, %%ebp\n"
      "mov %%r13, %%rdi\n"
      "call *%%r12\n"
      "mov %%eax, %%edi\n"
      "mov $60, %%eax\n"
      "syscall\n"
      "ud2\n"
      "1:\n"
      : "=a"(ret)
      : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return ret;
}

#define THREAD_FLAGS                                                                       \
  (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |      \
   CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

struct clone_args_v0 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void wait_cleared(struct child *c, long tid, const char *what) {
  char w[128];
  snprintf(w, sizeof w, "%s: CLONE_PARENT_SETTID wrote the tid (or it already exited)", what);
  int t0 = c->tid_word;
  CHECK(t0 == tid || t0 == 0, w);
  long long deadline = mono_ns() + MS(5000);
  int t;
  while ((t = c->tid_word) != 0 && mono_ns() < deadline) {
    struct timespec ts = {0, 100 * 1000000L};
    syscall(SYS_futex, &c->tid_word, FUTEX_WAIT /* shared: the exit wake is shared */, t, &ts, NULL, 0);
  }
  snprintf(w, sizeof w, "%s: CLONE_CHILD_CLEARTID cleared the tid at exit", what);
  CHECK_EQ(c->tid_word, 0, w);
  snprintf(w, sizeof w, "%s: child ran", what);
  CHECK_EQ(c->ran, 1, w);
  snprintf(w, sizeof w, "%s: child's gettid is clone's result", what);
  CHECK_EQ(c->tid_seen, tid, w);
  snprintf(w, sizeof w, "%s: child tid differs from the caller's", what);
  CHECK(tid != sys_gettid(), w);
}

static void test_raw_clone(void) {
  size_t ssz = 64 * 1024;
  char *stack = mmap(NULL, ssz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) { FAILF("clone stack mmap"); return; }
  static struct child c;

  /* clone(2): flags, newsp, parent_tid, child_tid, tls */
  memset((void *)&c, 0, sizeof c);
  long tid = raw_clone_call(SYS_clone, THREAD_FLAGS, (long)(stack + ssz), (long)&c.tid_word,
                            (long)&c.tid_word, 0, child_fn, &c);
  CHECK(tid > 0, "raw clone returns a tid");
  if (tid > 0) wait_cleared(&c, tid, "clone");

  /* clone3 with the version-0 argument struct (64 bytes), as glibc uses it. */
  memset((void *)&c, 0, sizeof c);
  struct clone_args_v0 ca;
  memset(&ca, 0, sizeof ca);
  ca.flags = THREAD_FLAGS;
  ca.child_tid = (uint64_t)&c.tid_word;
  ca.parent_tid = (uint64_t)&c.tid_word;
  ca.stack = (uint64_t)stack;
  ca.stack_size = ssz;
  tid = raw_clone_call(SYS_clone3, (long)&ca, sizeof ca, 0, 0, 0, child_fn, &c);
  CHECK(tid > 0, "raw clone3 returns a tid");
  if (tid > 0) wait_cleared(&c, tid, "clone3");

  CHECK_ERR(syscall(SYS_clone3, &ca, 8), EINVAL, "clone3 with a too small size");
  ca.flags = CLONE_VM | CLONE_THREAD; /* THREAD requires SIGHAND */
  CHECK_ERR(syscall(SYS_clone3, &ca, sizeof ca), EINVAL, "clone3 CLONE_THREAD without CLONE_SIGHAND");
  munmap(stack, ssz);
}

/* ---- affinity / getcpu ---- */
static void *pinned_worker(void *arg) {
  if (pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), arg) != 0) return (void *)-2L;
  for (int i = 0; i < 5; i++) sched_yield();
  return (void *)(long)sched_getcpu();
}

static void test_affinity(void) {
  cpu_set_t orig, one, got;
  CPU_ZERO(&orig);
  CHECK_OK(sched_getaffinity(0, sizeof orig, &orig), "sched_getaffinity");
  CHECK(CPU_COUNT(&orig) >= 1, "affinity mask has a CPU");
  long raw = syscall(SYS_sched_getaffinity, 0, sizeof orig, &orig);
  CHECK(raw > 0 && raw % 8 == 0, "raw sched_getaffinity returns the mask size in bytes");
  int first = 0;
  while (first < CPU_SETSIZE && !CPU_ISSET(first, &orig)) first++;
  /* In the VM CPU 0 is always allowed; a host cpuset may exclude it. */
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  CHECK_OK(sched_setaffinity(0, sizeof one, &one), "sched_setaffinity to one CPU");
  for (int i = 0; i < 3; i++) sched_yield();
  CHECK_EQ(sched_getcpu(), first, "sched_getcpu after pinning");
  unsigned cpu = 99, node = 99;
  CHECK_OK(syscall(SYS_getcpu, &cpu, &node, NULL), "raw getcpu");
  CHECK_EQ(cpu, first, "raw getcpu cpu after pinning");
  CHECK_EQ(node, 0, "raw getcpu node");
  CPU_ZERO(&got);
  sched_getaffinity(0, sizeof got, &got);
  CHECK(CPU_EQUAL(&got, &one), "sched_getaffinity reads back the pinned mask");
  /* A new thread pins itself with pthread_setaffinity_np (musl has no
   * pthread_attr_setaffinity_np) and runs there. */
  pthread_t th;
  void *ret = (void *)-1L;
  if (pthread_create(&th, NULL, pinned_worker, &one) == 0) {
    pthread_join(th, &ret);
    CHECK_EQ((long)ret, first, "pinned thread's sched_getcpu");
  } else {
    FAILF("pthread_create for the pinned thread failed");
  }
  CPU_ZERO(&got);
  CHECK_ERR(syscall(SYS_sched_setaffinity, 0, sizeof got, &got), EINVAL, "sched_setaffinity empty mask");
  CHECK_OK(sched_setaffinity(0, sizeof orig, &orig), "restore affinity");
  for (int i = 0; i < 10; i++) CHECK_OK(sched_yield(), "sched_yield");
}

/* ---- robust futex list ---- */
struct robust_head {
  void *next;
  long futex_offset;
  void *pending;
};

static pthread_mutex_t robust_mu;
static void *die_holding(void *arg) {
  (void)arg;
  pthread_mutex_lock(&robust_mu);
  return NULL; /* exits with the robust mutex held */
}

static void test_robust(void) {
  void *orig = NULL;
  size_t len = 0;
  CHECK_OK(syscall(SYS_get_robust_list, 0, &orig, &len), "get_robust_list");
  struct robust_head h = {&h, 0, NULL};
  CHECK_OK(syscall(SYS_set_robust_list, &h, sizeof h), "set_robust_list");
  void *got = NULL;
  CHECK_OK(syscall(SYS_get_robust_list, 0, &got, &len), "get_robust_list again");
  CHECK(got == &h, "get_robust_list returns what was set");
  CHECK_EQ(len, sizeof h, "robust list length");
  CHECK_ERR(syscall(SYS_set_robust_list, &h, sizeof h - 1), EINVAL, "set_robust_list bad length");
  syscall(SYS_set_robust_list, orig, sizeof h);

  /* The owner dies holding it: the next locker gets EOWNERDEAD. glibc relies
   * on the kernel walking the robust list at thread exit; musl does it itself. */
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust_mu, &a);
  pthread_t th;
  if (pthread_create(&th, NULL, die_holding, NULL) != 0) { FAILF("robust: pthread_create"); return; }
  pthread_join(th, NULL);
  int e = pthread_mutex_lock(&robust_mu);
  CHECK_EQ(e, EOWNERDEAD, "robust mutex after owner died");
  if (e == EOWNERDEAD) {
    CHECK_OK(pthread_mutex_consistent(&robust_mu), "pthread_mutex_consistent");
    pthread_mutex_unlock(&robust_mu);
  }
}

int main(void) {
  check_init("threads");
  test_pthreads();
  test_raw_clone();
  test_affinity();
  test_robust();
  return check_finish();
}
