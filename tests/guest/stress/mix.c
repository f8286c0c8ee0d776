/* mix: many threads on many vCPUs running, by turns, what programs do all
 * day (issue 17's stress mix; docs/limits.md "The stress mix"), with
 * invariants checked at the end. A plain POSIX program: it runs on the
 * host too.
 *
 *   mix [-t THREADS] [-n OPS_PER_THREAD] [-d SECONDS] [-s SEED]
 *       [-D DIR] [-w STALL_S] [-o OPS]
 *
 * Each worker draws its operations from its own generator seeded with
 * (SEED, worker), and stops after OPS_PER_THREAD operations or SECONDS,
 * whichever comes first (-n 0: only the time); -o keeps only the listed
 * operations (comma-separated names, to bisect):
 *   thread    create a thread and join it (it returns a value to check);
 *   futex     hand a token back and forth with a new thread through one
 *             futex word (FUTEX_WAIT/FUTEX_WAKE), 64 times;
 *   pingpong  a byte back and forth over two pipes with a new thread;
 *   send      a 16-byte message into another worker's inbox pipe
 *             (nonblocking: a full inbox is not a send), or a number
 *             added to its eventfd;
 *   poll      epoll_wait (no wait) over its own inbox and eventfd, and
 *             drain what is ready;
 *   memory    mmap private (or shared) anonymous pages, fill them,
 *             mprotect read-only and back, munmap a page in the middle,
 *             MADV_DONTNEED one, check every byte, munmap;
 *   signal    tgkill a real-time signal to another worker (its handler
 *             counts it);
 *   file      in DIR: create NAME.tmp, write it, rename it over NAME (a
 *             new generation) or unlink NAME.
 * At the end (all workers joined, inboxes drained): every message sent was
 * received exactly once and in order per sender; the eventfd sums and the
 * signal counts agree; DIR holds exactly the files the workers' records
 * say, each with its generation's content; after everything is removed,
 * MemFree and Slab (/proc/meminfo, in the VM) are back near the start.
 * A watchdog ends the run with "mix: HANG" and status 3 when a worker
 * makes no progress for STALL_S seconds. Prints "PASS mix" or "mix: FAIL"
 * lines (status 1). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define SLOTS 16          /* files per worker */
#define FILE_MAX 12288    /* bytes of a file at most */
#define HELPER_STACK (64 * 1024)

static int g_threads = 16;
static long g_ops = 200;
static long g_seconds = 0;
static unsigned long g_seed = 1;
static const char* g_dir = NULL;
static long g_stall = 120;
static int g_sig;  /* SIGRTMIN + 2 */
static atomic_int g_failures;
static atomic_bool g_stop;

#define FAIL(...)                          \
  do {                                     \
    atomic_fetch_add(&g_failures, 1);      \
    printf("mix: FAIL " __VA_ARGS__);      \
    printf("\n");                          \
    fflush(stdout);                        \
  } while (0)

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* splitmix64: each worker's generator. */
static uint64_t next_rand(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

struct msg {
  uint32_t from, to;
  uint64_t seq;  /* per (from, to), from 0 */
};

struct worker {
  int id;
  pid_t tid;
  pthread_t thread;
  uint64_t rng;
  int inbox[2];  /* pipe: others write, this worker reads */
  int efd;       /* eventfd: others add */
  int epfd;
  /* written by this worker only */
  uint64_t sent[MAX_WORKERS];       /* messages to each worker */
  uint64_t received[MAX_WORKERS];   /* messages from each worker */
  uint64_t ev_sent[MAX_WORKERS];    /* eventfd sums to each worker */
  uint64_t ev_received;             /* eventfd sum read from its own */
  uint64_t sig_sent[MAX_WORKERS];   /* signals each worker was sent */
  uint32_t gen[SLOTS];              /* file generation; 0: no file */
  long ops[8];
  unsigned char filebuf[FILE_MAX];
  atomic_long progress;
  atomic_long sig_received;         /* by the handler */
};
static struct worker g_w[MAX_WORKERS];
static pthread_barrier_t g_barrier;
static __thread struct worker* t_self;

static const char* OP_NAMES[8] = {"thread", "futex", "pingpong", "send", "poll", "memory", "signal", "file"};

static void on_signal(int sig) {
  (void)sig;
  if (t_self) atomic_fetch_add(&t_self->sig_received, 1);
}

static long futex(atomic_int* w, int op, int val) {
  return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static int make_thread(pthread_t* t, void* (*fn)(void*), void* arg) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, HELPER_STACK);
  int e = pthread_create(t, &a, fn, arg);
  pthread_attr_destroy(&a);
  return e;
}

/* --- thread --- */
static void* returns_arg(void* arg) { return (void*)((uintptr_t)arg * 3 + 1); }
static void op_thread(struct worker* w) {
  uintptr_t v = (uintptr_t)(next_rand(&w->rng) & 0xffff);
  pthread_t t;
  int e = make_thread(&t, returns_arg, (void*)v);
  if (e) {
    FAIL("worker %d: pthread_create: %s", w->id, strerror(e));
    return;
  }
  void* r;
  pthread_join(t, &r);
  if ((uintptr_t)r != v * 3 + 1) FAIL("worker %d: thread returned %p for %lu", w->id, r, (unsigned long)v);
}

/* --- futex --- */
#define HANDOFFS 64
struct handoff {
  atomic_int word;  /* odd: the helper's turn, even: the worker's */
};
static void wait_turn(atomic_int* word, int want) {
  for (;;) {
    int v = atomic_load(word);
    if (v == want) return;
    futex(word, FUTEX_WAIT_PRIVATE, v);  /* EAGAIN/EINTR: look again */
  }
}
static void* handoff_helper(void* arg) {
  struct handoff* h = arg;
  for (int i = 0; i < HANDOFFS; ++i) {
    wait_turn(&h->word, 2 * i + 1);
    atomic_store(&h->word, 2 * i + 2);
    futex(&h->word, FUTEX_WAKE_PRIVATE, 1);
  }
  return NULL;
}
static void op_futex(struct worker* w) {
  struct handoff h;
  atomic_init(&h.word, 0);
  pthread_t t;
  int e = make_thread(&t, handoff_helper, &h);
  if (e) {
    FAIL("worker %d: pthread_create: %s", w->id, strerror(e));
    return;
  }
  for (int i = 0; i < HANDOFFS; ++i) {
    wait_turn(&h.word, 2 * i);
    atomic_store(&h.word, 2 * i + 1);
    futex(&h.word, FUTEX_WAKE_PRIVATE, 1);
  }
  wait_turn(&h.word, 2 * HANDOFFS);
  pthread_join(t, NULL);
}

/* --- pingpong --- */
#define PINGS 32
struct pp {
  int to_helper[2], to_worker[2];
};
static int read_full(int fd, void* buf, size_t n) {
  size_t got = 0;
  for (int tries = 0; got < n && tries < 1000000; ++tries) {
    ssize_t r = read(fd, (char*)buf + got, n - got);
    if (r > 0) got += (size_t)r;
    else if (r == 0) return -1;
    else if (errno != EINTR) return -1;
  }
  return got == n ? 0 : -1;
}
static int write_full(int fd, const void* buf, size_t n) {
  for (int tries = 0; tries < 1000000; ++tries) {
    ssize_t r = write(fd, buf, n);
    if (r == (ssize_t)n) return 0;
    if (r >= 0 || errno != EINTR) return -1;  /* n <= PIPE_BUF: all or nothing */
  }
  return -1;
}
static void* pp_helper(void* arg) {
  struct pp* p = arg;
  for (int i = 0; i < PINGS; ++i) {
    unsigned char b;
    if (read_full(p->to_helper[0], &b, 1)) return (void*)1;
    b = (unsigned char)(b + 1);
    if (write_full(p->to_worker[1], &b, 1)) return (void*)2;
  }
  return NULL;
}
static void op_pingpong(struct worker* w) {
  struct pp p;
  if (pipe2(p.to_helper, O_CLOEXEC) || pipe2(p.to_worker, O_CLOEXEC)) {
    FAIL("worker %d: pipe: %s", w->id, strerror(errno));
    return;
  }
  pthread_t t;
  int e = make_thread(&t, pp_helper, &p);
  if (e) FAIL("worker %d: pthread_create: %s", w->id, strerror(e));
  unsigned char b = (unsigned char)next_rand(&w->rng);
  for (int i = 0; !e && i < PINGS; ++i) {
    unsigned char back;
    if (write_full(p.to_helper[1], &b, 1) || read_full(p.to_worker[0], &back, 1)) {
      FAIL("worker %d: ping %d: %s", w->id, i, strerror(errno));
      break;
    }
    if (back != (unsigned char)(b + 1)) FAIL("worker %d: ping %d: %u came back as %u", w->id, i, b, back);
    b = (unsigned char)(back + 1);
  }
  close(p.to_helper[1]);  /* the helper, if it stopped early, sees EOF */
  close(p.to_worker[0]);
  if (!e) {
    void* r;
    pthread_join(t, &r);
    if (r) FAIL("worker %d: pingpong helper ended with %p", w->id, r);
  }
  close(p.to_helper[0]);
  close(p.to_worker[1]);
}

/* --- send / poll --- */
static int other(struct worker* w) {
  if (g_threads == 1) return w->id;
  int o = (int)(next_rand(&w->rng) % (uint64_t)(g_threads - 1));
  return o >= w->id ? o + 1 : o;
}
static void op_send(struct worker* w) {
  int to = other(w);
  if (next_rand(&w->rng) & 1) {
    struct msg m = {(uint32_t)w->id, (uint32_t)to, w->sent[to]};
    ssize_t r = write(g_w[to].inbox[1], &m, sizeof m);
    if (r == (ssize_t)sizeof m) ++w->sent[to];
    else if (r >= 0 || (errno != EAGAIN && errno != EINTR))
      FAIL("worker %d: write to inbox %d: %zd (%s)", w->id, to, r, strerror(errno));
  } else {
    uint64_t v = 1 + next_rand(&w->rng) % 3;
    ssize_t r = write(g_w[to].efd, &v, sizeof v);
    if (r == sizeof v) w->ev_sent[to] += v;
    else if (errno != EINTR) FAIL("worker %d: eventfd write: %s", w->id, strerror(errno));
  }
}
/* Reads what is in w's inbox and eventfd now (nonblocking). */
static void drain(struct worker* w, struct worker* reader) {
  struct msg m[16];
  for (int round = 0; round < 100000; ++round) {
    ssize_t r = read(w->inbox[0], m, sizeof m);
    if (r <= 0) {
      if (r < 0 && errno != EAGAIN && errno != EINTR) FAIL("worker %d: inbox read: %s", w->id, strerror(errno));
      break;
    }
    if (r % sizeof(struct msg)) FAIL("worker %d: inbox read of %zd bytes: messages split", w->id, r);
    for (size_t i = 0; i < (size_t)r / sizeof(struct msg); ++i) {
      if (m[i].to != (uint32_t)w->id || m[i].from >= (uint32_t)g_threads) {
        FAIL("worker %d: message for %u from %u", w->id, m[i].to, m[i].from);
        continue;
      }
      uint64_t* seen = &reader->received[m[i].from];
      if (m[i].seq != *seen)
        FAIL("worker %d: from %u: message %lu, expected %lu", w->id, m[i].from, (unsigned long)m[i].seq,
             (unsigned long)*seen);
      *seen = m[i].seq + 1;
    }
  }
  uint64_t v;
  if (read(w->efd, &v, sizeof v) == sizeof v) reader->ev_received += v;
}
static void op_poll(struct worker* w) {
  struct epoll_event ev[4];
  int n = epoll_wait(w->epfd, ev, 4, 0);
  if (n < 0 && errno != EINTR) FAIL("worker %d: epoll_wait: %s", w->id, strerror(errno));
  for (int i = 0; i < n; ++i) {
    if (ev[i].data.u32 > 1) FAIL("worker %d: epoll data %u", w->id, ev[i].data.u32);
    if (!(ev[i].events & EPOLLIN)) FAIL("worker %d: epoll events %#x", w->id, ev[i].events);
  }
  if (n > 0) drain(w, w);
}

/* --- memory --- */
static unsigned char pattern(uint64_t key, long page, long off) {
  return (unsigned char)((key >> (page % 7)) + (uint64_t)page * 131 + (uint64_t)off * 7);
}
static void op_memory(struct worker* w) {
  const long pg = 4096;
  long n = 3 + (long)(next_rand(&w->rng) % 30);
  uint64_t key = next_rand(&w->rng);
  int shared = (key & 7) == 0;
  unsigned char* a = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS,
                          -1, 0);
  if (a == MAP_FAILED) {
    FAIL("worker %d: mmap %ld pages: %s", w->id, n, strerror(errno));
    return;
  }
  for (long p = 0; p < n; ++p)
    for (long o = 0; o < pg; o += 512) a[p * pg + o] = pattern(key, p, o);
  long hole = 1 + (long)(next_rand(&w->rng) % (uint64_t)(n - 2));
  long zeroed = hole == 1 ? n - 1 : 0;  /* a page given back with MADV_DONTNEED */
  if (mprotect(a, n * pg, PROT_READ)) FAIL("worker %d: mprotect RO: %s", w->id, strerror(errno));
  if (munmap(a + hole * pg, pg)) FAIL("worker %d: munmap a page: %s", w->id, strerror(errno));
  if (mprotect(a, hole * pg, PROT_READ | PROT_WRITE)) FAIL("worker %d: mprotect RW: %s", w->id, strerror(errno));
  if (!shared && madvise(a + zeroed * pg, pg, MADV_DONTNEED))
    FAIL("worker %d: madvise: %s", w->id, strerror(errno));
  long bad = 0;
  for (long p = 0; p < n; ++p) {
    if (p == hole) continue;
    for (long o = 0; o < pg; o += 512) {
      unsigned char want = (!shared && p == zeroed) ? 0 : pattern(key, p, o);
      if (a[p * pg + o] != want) ++bad;
    }
  }
  if (bad) FAIL("worker %d: %ld bytes of %ld %s pages wrong", w->id, bad, n, shared ? "shared" : "private");
  a[0] = 1;  /* writable again below the hole */
  munmap(a, hole * pg);
  munmap(a + (hole + 1) * pg, (n - hole - 1) * pg);
}

/* --- signal --- */
static void op_signal(struct worker* w) {
  int to = other(w);
  if (syscall(SYS_tgkill, getpid(), g_w[to].tid, g_sig) == 0) ++w->sig_sent[to];
  else if (errno != EAGAIN) FAIL("worker %d: tgkill %d: %s", w->id, to, strerror(errno));
}

/* --- file --- */
static size_t file_size(int id, int slot, uint32_t gen) { return (size_t)((id * 977 + slot * 131 + gen * 37) % FILE_MAX); }
static unsigned char file_byte(int id, int slot, uint32_t gen, size_t i) {
  return (unsigned char)(id + slot * 3 + gen * 11 + i * 13 + (i >> 8));
}
static void slot_path(char* out, size_t n, int id, int slot, int tmp) {
  snprintf(out, n, "%s/w%d.s%d%s", g_dir, id, slot, tmp ? ".tmp" : "");
}
static void op_file(struct worker* w) {
  int slot = (int)(next_rand(&w->rng) % SLOTS);
  char path[256], tmp[256];
  slot_path(path, sizeof path, w->id, slot, 0);
  if (w->gen[slot] && (next_rand(&w->rng) % 3) == 0) {
    if (unlink(path)) FAIL("worker %d: unlink %s: %s", w->id, path, strerror(errno));
    else w->gen[slot] = 0;
    return;
  }
  uint32_t gen = w->gen[slot] + 1 + (uint32_t)(next_rand(&w->rng) % 5);
  slot_path(tmp, sizeof tmp, w->id, slot, 1);
  int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    FAIL("worker %d: create %s: %s", w->id, tmp, strerror(errno));
    return;
  }
  unsigned char* buf = w->filebuf;
  size_t size = file_size(w->id, slot, gen);
  for (size_t i = 0; i < size; ++i) buf[i] = file_byte(w->id, slot, gen, i);
  size_t done = 0;
  while (done < size) {
    ssize_t r = write(fd, buf + done, size - done);
    if (r <= 0 && errno != EINTR) break;
    if (r > 0) done += (size_t)r;
  }
  close(fd);
  if (done != size) {
    FAIL("worker %d: wrote %zu of %zu bytes to %s: %s", w->id, done, size, tmp, strerror(errno));
    unlink(tmp);
    return;
  }
  if (rename(tmp, path)) {
    FAIL("worker %d: rename %s: %s", w->id, tmp, strerror(errno));
    unlink(tmp);
    return;
  }
  w->gen[slot] = gen;
}

static void (*const OPS[8])(struct worker*) = {op_thread, op_futex, op_pingpong, op_send,
                                               op_poll,   op_memory, op_signal, op_file};
/* Weights: cheap operations more often. */
static int WEIGHT[8] = {2, 1, 1, 6, 5, 2, 3, 3};

static void* worker_main(void* arg) {
  struct worker* w = arg;
  t_self = w;
  w->tid = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&g_barrier);  /* every tid known before a signal */
  int total = 0;
  for (int i = 0; i < 8; ++i) total += WEIGHT[i];
  uint64_t end = g_seconds ? now_ns() + (uint64_t)g_seconds * 1000000000u : 0;
  for (long k = 0; (g_ops == 0 || k < g_ops) && !atomic_load(&g_stop); ++k) {
    if (end && now_ns() >= end) break;
    int r = (int)(next_rand(&w->rng) % (uint64_t)total), op = 0;
    while (r >= WEIGHT[op]) r -= WEIGHT[op++];
    OPS[op](w);
    ++w->ops[op];
    atomic_fetch_add(&w->progress, 1);
  }
  /* Every send is done before anyone's last system call, so each signal
   * is delivered (on the way out of that call) before the thread ends. */
  pthread_barrier_wait(&g_barrier);
  syscall(SYS_getpid);
  pthread_barrier_wait(&g_barrier);
  return NULL;
}

static void* watchdog(void* arg) {
  (void)arg;
  long last[MAX_WORKERS] = {0};
  long still = 0;
  for (;;) {
    sleep(1);
    int moved = 0;
    for (int i = 0; i < g_threads; ++i) {
      long p = atomic_load(&g_w[i].progress);
      if (p != last[i]) moved = 1;
      last[i] = p;
    }
    still = moved ? 0 : still + 1;
    if (still >= g_stall) {
      printf("mix: HANG: no worker moved for %ld s (seed %lu)\n", still, g_seed);
      for (int i = 0; i < g_threads; ++i) printf("mix:   worker %d: %ld ops\n", i, last[i]);
      fflush(stdout);
      _exit(3);
    }
  }
  return NULL;
}

static long meminfo(const char* key) {
  FILE* f = fopen("/proc/meminfo", "r");
  if (!f) return -1;
  char line[128];
  long v = -1;
  size_t n = strlen(key);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, n) && line[n] == ':') v = atol(line + n + 1);
  fclose(f);
  return v;
}

static int in_capsule(void) {
  struct utsname u;
  return uname(&u) == 0 && strstr(u.release, "capsule") != NULL;
}

/* The directory against the workers' records. */
static void check_files(void) {
  DIR* d = opendir(g_dir);
  if (!d) {
    FAIL("opendir %s: %s", g_dir, strerror(errno));
    return;
  }
  long entries = 0, expected = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    ++entries;
    int id, slot, len = 0;
    if (sscanf(e->d_name, "w%d.s%d%n", &id, &slot, &len) != 2 || e->d_name[len] || id < 0 || id >= g_threads ||
        slot < 0 || slot >= SLOTS || !g_w[id].gen[slot])
      FAIL("%s/%s should not be there", g_dir, e->d_name);
  }
  closedir(d);
  static unsigned char buf[FILE_MAX + 1];
  for (int id = 0; id < g_threads; ++id) {
    for (int slot = 0; slot < SLOTS; ++slot) {
      uint32_t gen = g_w[id].gen[slot];
      if (!gen) continue;
      ++expected;
      char path[256];
      slot_path(path, sizeof path, id, slot, 0);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        FAIL("%s: %s", path, strerror(errno));
        continue;
      }
      ssize_t n = read(fd, buf, sizeof buf);
      close(fd);
      size_t size = file_size(id, slot, gen);
      long bad = 0;
      for (size_t i = 0; n == (ssize_t)size && i < size; ++i) bad += buf[i] != file_byte(id, slot, gen, i);
      if (n != (ssize_t)size || bad)
        FAIL("%s: %zd bytes (%zu expected, generation %u), %ld wrong", path, n, size, gen, bad);
      if (unlink(path)) FAIL("unlink %s: %s", path, strerror(errno));
    }
  }
  if (entries != expected) FAIL("%s holds %ld entries, %ld expected", g_dir, entries, expected);
}

int main(int argc, char** argv) {
  int opt;
  while ((opt = getopt(argc, argv, "t:n:d:s:D:w:o:")) != -1) {
    switch (opt) {
      case 't': g_threads = atoi(optarg); break;
      case 'n': g_ops = atol(optarg); break;
      case 'd': g_seconds = atol(optarg); break;
      case 's': g_seed = strtoul(optarg, NULL, 0); break;
      case 'D': g_dir = optarg; break;
      case 'w': g_stall = atol(optarg); break;
      case 'o':
        for (int k = 0; k < 8; ++k) {
          const char* at = strstr(optarg, OP_NAMES[k]);
          size_t len = strlen(OP_NAMES[k]);
          if (!at || (at != optarg && at[-1] != ',') || (at[len] && at[len] != ',')) WEIGHT[k] = 0;
        }
        break;
      default:
        fprintf(stderr, "usage: mix [-t THREADS] [-n OPS] [-d SECONDS] [-s SEED] [-D DIR] [-w STALL_S] [-o OPS]\n");
        return 2;
    }
  }
  int weights = 0;
  for (int k = 0; k < 8; ++k) weights += WEIGHT[k];
  if (g_threads < 1 || g_threads > MAX_WORKERS || g_ops < 0 || g_seconds < 0 || (g_ops == 0 && g_seconds == 0) ||
      !weights) {
    fprintf(stderr, "mix: 1..%d threads, and a bound (-n or -d)\n", MAX_WORKERS);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  int capsule = in_capsule();
  static char dirbuf[128];
  if (!g_dir) {
    snprintf(dirbuf, sizeof dirbuf, "/tmp/mix.%d", (int)getpid());
    g_dir = dirbuf;
  }
  if (mkdir(g_dir, 0755) && errno != EEXIST) {
    printf("mix: FAIL mkdir %s: %s\n", g_dir, strerror(errno));
    return 1;
  }
  g_sig = SIGRTMIN + 2;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(g_sig, &sa, NULL);

  for (int i = 0; i < g_threads; ++i) {
    struct worker* w = &g_w[i];
    w->id = i;
    w->rng = g_seed * 0x100000001b3ull + (uint64_t)i * 0x9e3779b9u + 1;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (pipe2(w->inbox, O_NONBLOCK | O_CLOEXEC) || w->efd < 0 || w->epfd < 0) {
      printf("mix: FAIL worker %d setup: %s\n", i, strerror(errno));
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->inbox[0], &ev);
    ev.data.u32 = 1;
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->efd, &ev);
  }
  long free0 = meminfo("MemFree"), slab0 = meminfo("Slab");
  pthread_barrier_init(&g_barrier, NULL, (unsigned)g_threads);
  pthread_t wd;
  make_thread(&wd, watchdog, NULL);
  for (int i = 0; i < g_threads; ++i) {
    int e = pthread_create(&g_w[i].thread, NULL, worker_main, &g_w[i]);
    if (e) {
      printf("mix: FAIL pthread_create worker %d: %s\n", i, strerror(e));
      _exit(1);
    }
  }
  for (int i = 0; i < g_threads; ++i) pthread_join(g_w[i].thread, NULL);

  /* The invariants. */
  long ops[8] = {0};
  for (int i = 0; i < g_threads; ++i) {
    drain(&g_w[i], &g_w[i]);
    for (int k = 0; k < 8; ++k) ops[k] += g_w[i].ops[k];
  }
  uint64_t msgs = 0, evsum = 0, sigs = 0;
  for (int to = 0; to < g_threads; ++to) {
    uint64_t ev_sent = 0, sig_sent = 0;
    for (int from = 0; from < g_threads; ++from) {
      if (g_w[from].sent[to] != g_w[to].received[from])
        FAIL("messages %d -> %d: %lu sent, %lu received", from, to, (unsigned long)g_w[from].sent[to],
             (unsigned long)g_w[to].received[from]);
      msgs += g_w[from].sent[to];
      ev_sent += g_w[from].ev_sent[to];
      sig_sent += g_w[from].sig_sent[to];
    }
    if (ev_sent != g_w[to].ev_received)
      FAIL("eventfd of %d: %lu added, %lu read", to, (unsigned long)ev_sent, (unsigned long)g_w[to].ev_received);
    long got = atomic_load(&g_w[to].sig_received);
    if ((uint64_t)got != sig_sent) FAIL("signals to %d: %lu sent, %ld handled", to, (unsigned long)sig_sent, got);
    evsum += ev_sent;
    sigs += sig_sent;
  }
  check_files();
  for (int i = 0; i < g_threads; ++i) {
    close(g_w[i].inbox[0]);
    close(g_w[i].inbox[1]);
    close(g_w[i].efd);
    close(g_w[i].epfd);
  }
  if (rmdir(g_dir)) FAIL("rmdir %s: %s", g_dir, strerror(errno));
  long free1 = meminfo("MemFree"), slab1 = meminfo("Slab");
  long total = 0;
  for (int k = 0; k < 8; ++k) total += ops[k];
  printf("mix: seed %lu, %d threads: %ld ops (", g_seed, g_threads, total);
  for (int k = 0; k < 8; ++k) printf("%s%s %ld", k ? ", " : "", OP_NAMES[k], ops[k]);
  printf("); %lu messages, eventfd sum %lu, %lu signals\n", (unsigned long)msgs, (unsigned long)evsum,
         (unsigned long)sigs);
  printf("mix: MemFree %ld -> %ld KiB, Slab %ld -> %ld KiB\n", free0, free1, slab0, slab1);
  if (capsule) {
    /* What stays: the threads' cached stacks (glibc keeps them), heap
     * pages the kernel grew; a leak per operation would be far more. */
    if (slab1 - slab0 > 1024) FAIL("Slab grew by %ld KiB", slab1 - slab0);
    if (free0 - free1 > 8192) FAIL("MemFree dropped by %ld KiB", free0 - free1);
  }
  if (atomic_load(&g_failures)) {
    printf("mix: %d failures\n", atomic_load(&g_failures));
    return 1;
  }
  printf("PASS mix\n");
  return 0;
}
