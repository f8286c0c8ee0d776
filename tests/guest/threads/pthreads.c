/* pthreads on Capsule: 64 threads with barriers and condition variables, an
 * exact mutex counter, join values, pthread_exit status, __thread variables,
 * distinct tids, affinity + sched_getcpu. Built with glibc (static and
 * static-pie) and musl. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

#define N 64
#define ROUNDS 20
#define INCS 2000

static pthread_barrier_t barrier;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int generation, arrived;
static __thread long tls_value = 7;
static __thread char tls_buf[64];
static long tids[N];
static void* tls_addr[N];

static void* worker(void* arg) {
  long id = (long)arg;
  CHECK_EQ(tls_value, 7);  /* a fresh copy of the initial TLS image */
  tls_value = 1000 + id;
  tls_buf[0] = (char)id;
  tls_addr[id] = &tls_value;
  tids[id] = syscall(SYS_gettid);
  for (int r = 0; r < ROUNDS; ++r) {
    for (int i = 0; i < INCS / ROUNDS; ++i) {
      pthread_mutex_lock(&mu);
      ++counter;
      pthread_mutex_unlock(&mu);
    }
    /* A condvar rendezvous: the last to arrive starts the next generation. */
    pthread_mutex_lock(&mu);
    int gen = generation;
    if (++arrived == N) {
      arrived = 0;
      ++generation;
      pthread_cond_broadcast(&cv);
    } else {
      while (gen == generation) pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    pthread_barrier_wait(&barrier);
    CHECK_EQ(tls_value, 1000 + id);
  }
  CHECK_EQ(tls_buf[0], (char)id);
  if (id % 2) pthread_exit((void*)(id * 3));
  return (void*)(id * 3);
}

static void* pinned(void* arg) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  CHECK_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
  for (int i = 0; i < 50; ++i) {
    CHECK_EQ(sched_getcpu(), 0);
    sched_yield();
  }
  cpu_set_t got;
  CHECK_EQ(sched_getaffinity(0, sizeof(got), &got), 0);
  CHECK_EQ(CPU_COUNT(&got), 1);
  CHECK(CPU_ISSET(0, &got));
  return (void*)42;
}

int main(void) {
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t all;
  CHECK_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
  CHECK_EQ(CPU_COUNT(&all), ncpu > 0 ? ncpu : CPU_COUNT(&all));
  printf("cpus online: %d\n", CPU_COUNT(&all));

  CHECK_EQ(pthread_barrier_init(&barrier, 0, N), 0);
  pthread_t t[N];
  for (long i = 0; i < N; ++i) CHECK_EQ(pthread_create(&t[i], 0, worker, (void*)i), 0);
  for (long i = 0; i < N; ++i) {
    void* ret;
    CHECK_EQ(pthread_join(t[i], &ret), 0);
    CHECK_EQ((long)ret, i * 3);
  }
  CHECK_EQ(counter, (long)N * INCS);
  CHECK_EQ(generation, ROUNDS);
  long me = syscall(SYS_gettid);
  CHECK_EQ(me, getpid());
  for (int i = 0; i < N; ++i) {
    CHECK(tids[i] > 0 && tids[i] != me);
    for (int j = 0; j < i; ++j) {
      CHECK(tids[i] != tids[j]);
      CHECK(tls_addr[i] != tls_addr[j]);
    }
  }
  CHECK_EQ(tls_value, 7);

  /* More rounds: the libc reuses the joined threads' stacks and TLS (and
   * unmaps what its stack cache does not keep); the kernel reaps the exited
   * threads. */
  for (int round = 0; round < 4; ++round) {
    pthread_t d[N];
    counter = 0;
    generation = 0;
    for (long i = 0; i < N; ++i) CHECK_EQ(pthread_create(&d[i], 0, worker, (void*)i), 0);
    for (long i = 0; i < N; ++i) {
      void* ret;
      CHECK_EQ(pthread_join(d[i], &ret), 0);
      CHECK_EQ((long)ret, i * 3);
    }
    CHECK_EQ(counter, (long)N * INCS);
  }

  pthread_t p;
  CHECK_EQ(pthread_create(&p, 0, pinned, 0), 0);
  void* pr;
  CHECK_EQ(pthread_join(p, &pr), 0);
  CHECK_EQ((long)pr, 42);

  printf("threads: pthreads ok (%d checks)\n", g_checks);
  return 0;
}
