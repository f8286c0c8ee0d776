/* Kernel objects a program can make in unbounded number (issue 17,
 * docs/limits.md): with RLIMIT_NOFILE raised to 1M in a small VM, each
 * kind is made until the kernel says no. The answer must be an errno the
 * kind can give on Linux (EMFILE/ENFILE/ENOMEM for descriptors, ENOSPC
 * for System V ids, EAGAIN for POSIX timers...), never a panic or a hang;
 * then everything is freed, one more of the kind is made, and the kernel
 * heap and free memory come back near where they were.
 *
 * On the host the program keeps its own RLIMIT_NOFILE (at most 4096) and
 * RLIMIT_SIGPENDING lowered, so it stays cheap on a shared machine; the
 * kinds whose limit is a system-wide sysctl too high to reach cheaply
 * there (System V ids are fine: 32000 max) are bounded by the same caps. */
/* abi-test: MEM 64M TIMEOUT 300 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <time.h>

static int g_capsule;
static long g_cap;  /* objects per kind at most: the loop bound */

static int in_capsule(void) {
  struct utsname u;
  return uname(&u) == 0 && strstr(u.release, "capsule") != NULL;
}

/* /proc/meminfo's field in KiB, or -1. */
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

/* One kind: make() returns a handle >= 0 or -1 with errno; drop() frees
 * it. `ok` lists the errnos Linux can give when the kind runs out. */
struct kind {
  const char* name;
  long (*make)(void);
  void (*drop)(long);
  int ok[4];
};

static void close_fd(long h) { close((int)h); }
static void close_pair(long h) {
  close((int)(h & 0xfffff));
  close((int)(h >> 20));
}

static long mk_eventfd(void) { return eventfd(0, EFD_CLOEXEC); }
static long mk_timerfd(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC); }
static long mk_epoll(void) { return epoll_create1(EPOLL_CLOEXEC); }
static long mk_signalfd(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR2);
  return signalfd(-1, &s, SFD_CLOEXEC);
}
static long mk_memfd(void) { return syscall(SYS_memfd_create, "x", 1u /* MFD_CLOEXEC */); }
static long mk_dup(void) { return dup(2); }
static long mk_devnull(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }
static long mk_udp(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }
static long mk_inotify(void) { return inotify_init1(IN_CLOEXEC); }
static long mk_pipe(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC)) return -1;
  return (long)p[0] | ((long)p[1] << 20);
}
static long mk_socketpair(void) {
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p)) return -1;
  return (long)p[0] | ((long)p[1] << 20);
}
static long mk_timer(void) {
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_NONE;
  int id;
  if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id)) return -1;
  return id;
}
static void rm_timer(long h) { syscall(SYS_timer_delete, (int)h); }
/* Single pages that cannot merge (every other one PROT_NONE): one
 * mapping each, up to vm.max_map_count. */
static char* g_area;
static long g_area_pages;
static long g_next_page;
static long mk_map(void) {
  long next = g_next_page;
  if (next >= g_area_pages) {
    errno = ENOMEM;
    return -1;
  }
  long i = next;
  if (mprotect(g_area + i * 2 * 4096, 4096, PROT_READ)) return -1;
  g_next_page = next + 1;
  return i;
}
static void rm_map(long h) {
  mprotect(g_area + h * 2 * 4096, 4096, PROT_NONE);
  g_next_page = h;  /* dropped last made first */
}
static long mk_msg(void) { return msgget(IPC_PRIVATE, 0600); }
static void rm_msg(long h) { msgctl((int)h, IPC_RMID, NULL); }
static long mk_sem(void) { return semget(IPC_PRIVATE, 1, 0600); }
static void rm_sem(long h) { semctl((int)h, 0, IPC_RMID); }
static long mk_shm(void) { return shmget(IPC_PRIVATE, 4096, 0600); }
static void rm_shm(long h) { shmctl((int)h, IPC_RMID, NULL); }

#define FD_ERRS {EMFILE, ENFILE, ENOMEM, 0}
static const struct kind KINDS[] = {
    {"eventfd", mk_eventfd, close_fd, FD_ERRS},
    {"timerfd", mk_timerfd, close_fd, FD_ERRS},
    {"epoll", mk_epoll, close_fd, FD_ERRS},
    {"signalfd", mk_signalfd, close_fd, FD_ERRS},
    {"memfd", mk_memfd, close_fd, FD_ERRS},
    {"dup", mk_dup, close_fd, FD_ERRS},
    {"open /dev/null", mk_devnull, close_fd, FD_ERRS},
    {"udp socket", mk_udp, close_fd, {EMFILE, ENFILE, ENOMEM, ENOBUFS}},
    {"inotify", mk_inotify, close_fd, FD_ERRS},
    {"pipe", mk_pipe, close_pair, FD_ERRS},
    {"socketpair", mk_socketpair, close_pair, FD_ERRS},
    {"posix timer", mk_timer, rm_timer, {EAGAIN, ENOMEM, 0, 0}},
    {"mapping", mk_map, rm_map, {ENOMEM, 0, 0, 0}},
    {"msg queue", mk_msg, rm_msg, {ENOSPC, ENOMEM, 0, 0}},
    {"sem set", mk_sem, rm_sem, {ENOSPC, ENOMEM, 0, 0}},
    {"shm segment", mk_shm, rm_shm, {ENOSPC, ENOMEM, ENFILE, 0}},
};

static long* g_handles;

static void exhaust(const struct kind* k) {
  long n = 0;
  int err = 0;
  for (; n < g_cap; ++n) {
    errno = 0;
    long h = k->make();
    if (h < 0) {
      err = errno;
      break;
    }
    g_handles[n] = h;
  }
  int known = 0;
  for (int i = 0; i < 4 && k->ok[i]; ++i) known |= err == k->ok[i];
  /* Reaching the cap (host, or a kind with no limit below it) is fine. */
  CHECK(n == g_cap || known, "%s: %ld made, then errno %d (%s)", k->name, n, err, strerror(err));
  CHECK(n > 0, "%s: none could be made", k->name);
  for (long i = n - 1; i >= 0; --i) k->drop(g_handles[i]);
  errno = 0;
  long again = k->make();
  CHECK(again >= 0, "%s: one more after freeing %ld: errno %d (%s)", k->name, n, errno, strerror(errno));
  if (again >= 0) k->drop(again);
  printf("abi_exhaust: %-14s %7ld, then %s (Slab %ld KiB, MemFree %ld KiB)\n", k->name, n,
         n == g_cap ? "the cap" : strerror(err), meminfo("Slab"), meminfo("MemFree"));
  fflush(stdout);
}

int main(void) {
  g_capsule = in_capsule();
  struct rlimit nofile;
  getrlimit(RLIMIT_NOFILE, &nofile);
  if (g_capsule) {
    struct rlimit big = {1 << 20, 1 << 20};
    CHECK(setrlimit(RLIMIT_NOFILE, &big) == 0, "RLIMIT_NOFILE 1M: errno %d", errno);
    g_cap = (1 << 20) + 16;
  } else {
    struct rlimit small = {nofile.rlim_cur < 4096 ? nofile.rlim_cur : 4096, nofile.rlim_max};
    setrlimit(RLIMIT_NOFILE, &small);
    g_cap = (long)small.rlim_cur + 16;
    struct rlimit sp = {1000, 1000};
    setrlimit(RLIMIT_SIGPENDING, &sp);
  }
  g_handles = mmap(NULL, g_cap * sizeof(long), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(g_handles != MAP_FAILED, "handle array");
  /* The kernel heap and the program's page faults take the same free
   * pages: a first touch of this array after the heap took the last page
   * kills the program (137 and a line, as Linux's OOM killer would), which
   * is fine but not what this test looks at. So the part a 64 MiB VM can
   * fill (at most 128 Ki descriptors, 2 per pipe) is touched first. */
  for (long i = 0; g_handles != MAP_FAILED && i < g_cap && i < (1L << 18); i += 512) g_handles[i] = 0;
  /* The mapping kind: 70000 pairs of pages reserved PROT_NONE (one
   * mapping) — more than vm.max_map_count (65530) can split into. */
  g_area_pages = g_capsule ? 70000 : 2000;
  g_area = mmap(NULL, g_area_pages * 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(g_area != MAP_FAILED, "area");
  if (g_handles == MAP_FAILED || g_area == MAP_FAILED) return finish("abi_exhaust");

  /* Warm-up: one of each, so lazily made kernel state (caches, the
   * first-use tables) is there before the baseline is taken. */
  for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; ++i) {
    long h = KINDS[i].make();
    if (h >= 0) KINDS[i].drop(h);
  }
  /* Two rounds: the first grows what the kernel keeps once grown (the
   * descriptor table, as Linux keeps its fdtable; heap pages cached per
   * CPU); the second must end where the first did. */
  long free_at[3], slab_at[3];
  free_at[0] = meminfo("MemFree");
  slab_at[0] = meminfo("Slab");
  for (int round = 1; round <= 2; ++round) {
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; ++i) exhaust(&KINDS[i]);
    free_at[round] = meminfo("MemFree");
    slab_at[round] = meminfo("Slab");
    printf("abi_exhaust: round %d: MemFree %ld -> %ld KiB, Slab %ld -> %ld KiB\n", round, free_at[round - 1],
           free_at[round], slab_at[round - 1], slab_at[round]);
  }
  if (g_capsule) {
    CHECK(slab_at[2] - slab_at[1] < 256, "Slab grew by %ld KiB in the second round", slab_at[2] - slab_at[1]);
    CHECK(free_at[1] - free_at[2] < 256, "MemFree dropped by %ld KiB in the second round", free_at[1] - free_at[2]);
    /* The first round may leave a descriptor table of 256 Ki slots
     * (4 MiB with its bitmaps) and the heap's cached pages. */
    CHECK(slab_at[1] - slab_at[0] < 8192, "Slab grew by %ld KiB in the first round", slab_at[1] - slab_at[0]);
  }
  return finish("abi_exhaust");
}
