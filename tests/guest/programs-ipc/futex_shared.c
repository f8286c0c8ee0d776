/* Futexes between processes (docs/futex.md "Keys"): without
 * FUTEX_PRIVATE_FLAG a word in shared memory is the same futex in every
 * process that maps it, at whatever address; private futexes (and shared
 * ones on private memory) never meet another process's. POSIX semaphores
 * and process-shared mutexes/condvars in MAP_SHARED memory are built on
 * that. Passes on the host's Linux too. */
#define _GNU_SOURCE
#include <fcntl.h>
#include "../threads/futex_defs.h"
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../include/guest_check.h"

static long futex(uint32_t* uaddr, int op, uint32_t val, long val2_or_timeout, uint32_t* uaddr2, uint32_t val3) {
  return syscall(SYS_futex, uaddr, op, val, val2_or_timeout, uaddr2, val3);
}

static void reap(pid_t pid, const char* what) {
  int st = -1;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid %s", what);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %#x", what, st);
}

static void* shared_page(size_t len) {
  void* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap shared");
  return p;
}

static void msleep(int ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* Repeats a wake-like call until it reports `want` (the other process may
 * not be asleep yet); at most 2000 tries of 1 ms. */
#define UNTIL(want, call)                                     \
  ({                                                          \
    long r_ = -1;                                             \
    for (int i_ = 0; i_ < 2000; ++i_) {                       \
      r_ = (call);                                            \
      if (r_ == (want) || r_ < 0) break;                      \
      msleep(1);                                              \
    }                                                         \
    r_;                                                       \
  })

/* Two semaphores in shared memory, ping-pong between two processes. */
static void semaphores(void) {
  sem_t* s = shared_page(4096);
  int* counter = (int*)(s + 2);
  CHECK(sem_init(&s[0], 1, 0) == 0 && sem_init(&s[1], 1, 0) == 0, "sem_init pshared");
  enum { ROUNDS = 300 };
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < ROUNDS; ++i) {
      if (sem_wait(&s[0]) != 0) _exit(2);
      ++*counter;
      if (sem_post(&s[1]) != 0) _exit(3);
    }
    _exit(0);
  }
  int ok = 1;
  for (int i = 0; i < ROUNDS && ok; ++i) {
    ++*counter;
    ok = sem_post(&s[0]) == 0 && sem_wait(&s[1]) == 0;
  }
  CHECK(ok, "ping-pong");
  reap(pid, "semaphores");
  CHECK(*counter == 2 * ROUNDS, "both sides counted: %d", *counter);
  int v = -1;
  CHECK(sem_getvalue(&s[0], &v) == 0 && v == 0, "value %d", v);
  sem_destroy(&s[0]);
  sem_destroy(&s[1]);
  munmap(s, 4096);
}

/* A PTHREAD_PROCESS_SHARED mutex and condvar: 4 processes add under the
 * mutex; the parent waits on the condvar for them all. */
struct shared_state {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long total;
  int done;
};

static void mutexes(void) {
  struct shared_state* st = shared_page(4096);
  pthread_mutexattr_t ma;
  pthread_condattr_t ca;
  pthread_mutexattr_init(&ma);
  CHECK(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) == 0, "mutexattr pshared");
  pthread_condattr_init(&ca);
  CHECK(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED) == 0, "condattr pshared");
  CHECK(pthread_mutex_init(&st->mu, &ma) == 0 && pthread_cond_init(&st->cv, &ca) == 0, "init");
  enum { PROCS = 4, ADDS = 2000 };
  pid_t pids[PROCS];
  for (int p = 0; p < PROCS; ++p) {
    pids[p] = fork();
    if (pids[p] == 0) {
      for (int i = 0; i < ADDS; ++i) {
        pthread_mutex_lock(&st->mu);
        long t = st->total;
        if (i % 64 == 0) sched_yield();  /* hold it a while: others block */
        st->total = t + 1;
        pthread_mutex_unlock(&st->mu);
      }
      pthread_mutex_lock(&st->mu);
      ++st->done;
      pthread_cond_broadcast(&st->cv);
      pthread_mutex_unlock(&st->mu);
      _exit(0);
    }
    CHECK(pids[p] > 0, "fork");
  }
  pthread_mutex_lock(&st->mu);
  for (int i = 0; st->done < PROCS && i < 100000; ++i) pthread_cond_wait(&st->cv, &st->mu);
  int done = st->done;
  long total = st->total;
  pthread_mutex_unlock(&st->mu);
  for (int p = 0; p < PROCS; ++p) reap(pids[p], "mutex adder");
  CHECK(done == PROCS, "all done: %d", done);
  CHECK(total == (long)PROCS * ADDS, "total %ld", total);
  munmap(st, 4096);
}

/* One /dev/shm page mapped at two addresses: a waiter on one address is
 * woken through the other, in one process and across processes. */
static void two_addresses(void) {
  char name[64];
  snprintf(name, sizeof name, "/capsule-futex-%d", (int)getpid());
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  CHECK(fd >= 0 && ftruncate(fd, 8192) == 0, "shm_open + ftruncate");
  shm_unlink(name);
  char* a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  char* b = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(a != MAP_FAILED && b != MAP_FAILED && a != b, "two mappings");
  uint32_t* wa = (uint32_t*)(a + 4096 + 64);
  uint32_t* wb = (uint32_t*)(b + 4096 + 64);
  *wa = 7;
  CHECK(*wb == 7, "the same page");
  pid_t pid = fork();
  if (pid == 0) {
    /* The child maps the object a third time, at yet another address. */
    char* c = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (c == MAP_FAILED) _exit(2);
    uint32_t* wc = (uint32_t*)(c + 4096 + 64);
    long r = futex(wc, FUTEX_WAIT, 7, 0, NULL, 0);
    _exit(r == 0 ? 0 : 1);
  }
  long n = UNTIL(1, futex(wb, FUTEX_WAKE, 1, 0, NULL, 0));
  CHECK(n == 1, "woken through another address in another process: %ld", n);
  reap(pid, "two addresses");
  /* FUTEX_CMP_REQUEUE between two words of the object, across processes:
   * two children wait on word 1 (their own mapping), the parent moves them
   * to word 2 through its other mapping, then wakes word 2. */
  uint32_t* w1 = (uint32_t*)(a + 128);
  uint32_t* w2b = (uint32_t*)(b + 256);
  *w1 = 1;
  pid_t kids[2];
  for (int k = 0; k < 2; ++k) {
    kids[k] = fork();
    if (kids[k] == 0) {
      char* c = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (c == MAP_FAILED) _exit(2);
      _exit(futex((uint32_t*)(c + 128), FUTEX_WAIT, 1, 0, NULL, 0) == 0 ? 0 : 1);
    }
  }
  long moved = 0;
  for (int i = 0; i < 2000 && moved < 2; ++i) {
    long r = futex((uint32_t*)(b + 128), FUTEX_CMP_REQUEUE, 0, 2, w2b, 1);
    if (r < 0) break;
    moved += r;
    if (moved < 2) msleep(1);
  }
  CHECK(moved == 2, "requeued %ld", moved);
  n = futex((uint32_t*)(a + 256), FUTEX_WAKE, 10, 0, NULL, 0);
  CHECK(n == 2, "woken on the requeue target: %ld", n);
  for (int k = 0; k < 2; ++k) reap(kids[k], "requeued waiter");
  /* FUTEX_WAKE_OP across processes: the child waits on word 2, the parent
   * adds 2 to it through its other mapping and wakes it by the comparison
   * (old value even). */
  *w2b = 0;
  pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 4000; ++i) {
      uint32_t v = __atomic_load_n((uint32_t*)(a + 256), __ATOMIC_SEQ_CST);
      if (futex((uint32_t*)(a + 256), FUTEX_WAIT, v, 0, NULL, 0) == 0) _exit(0);
      if (errno != EAGAIN) _exit(1);
    }
    _exit(3);
  }
  uint32_t op = FUTEX_OP(FUTEX_OP_ADD, 2, FUTEX_OP_CMP_GE, 0);
  for (int i = 0; i < 2000; ++i) {
    n = futex((uint32_t*)(b + 512), FUTEX_WAKE_OP, 1, 1, (uint32_t*)(b + 256), op);
    if (n != 0) break;
    msleep(1);
  }
  CHECK(n == 1 && *(uint32_t*)(a + 256) % 2 == 0 && *(uint32_t*)(a + 256) > 0, "wake-op woke %ld, word %u", n,
        *(uint32_t*)(a + 256));
  reap(pid, "wake-op waiter");
  munmap(a, 8192);
  munmap(b, 8192);
  close(fd);
}

/* Private futexes at the same address in parent and child never meet;
 * neither do shared-flag futexes on private memory, nor private-flag ones
 * on shared memory. The child waits with a timeout; it must time out. */
static void private_not_crossing(void) {
  uint32_t* priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint32_t* shared = shared_page(4096);
  CHECK(priv != MAP_FAILED, "mmap");
  struct {
    uint32_t* word;
    int op;
    const char* what;
  } cases[] = {
      {priv, FUTEX_WAIT_PRIVATE, "private futex, private memory"},
      {priv + 16, FUTEX_WAIT, "shared-flag futex, private memory"},
      {shared + 16, FUTEX_WAIT_PRIVATE, "private futex, shared memory"},
  };
  *priv = priv[16] = shared[16] = 3;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    shared[0] = 0;
    pid_t pid = fork();
    if (pid == 0) {
      struct timespec ts = {0, 400 * 1000000L};
      __atomic_store_n(&shared[0], 1, __ATOMIC_SEQ_CST);
      long r = futex(cases[i].word, cases[i].op, 3, (long)&ts, NULL, 0);
      _exit(r == -1 && errno == ETIMEDOUT ? 0 : 1);
    }
    for (int k = 0; k < 2000 && !__atomic_load_n(&shared[0], __ATOMIC_SEQ_CST); ++k) msleep(1);
    msleep(50);  /* the child is (very likely) asleep by now */
    int wake = cases[i].op == FUTEX_WAIT_PRIVATE ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE;
    long n = 0;
    for (int k = 0; k < 10; ++k) {
      long r = futex(cases[i].word, wake, 1, 0, NULL, 0);
      if (r > 0) n += r;
      msleep(10);
    }
    CHECK(n == 0, "%s: the parent woke %ld", cases[i].what, n);
    reap(pid, cases[i].what);
  }
  munmap(priv, 4096);
  munmap(shared, 4096);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  semaphores();
  mutexes();
  two_addresses();
  private_not_crossing();
  if (g_failures) return 1;
  printf("PASS futex_shared\n");
  return 0;
}
