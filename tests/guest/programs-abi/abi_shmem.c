/* Shared and anonymous memory semantics (issue 18): MAP_SHARED anonymous
 * memory keeps its data across an mremap shrink and regrow and across
 * MADV_DONTNEED (which drops the mapping's pages, not the shared object's:
 * MAP_PRIVATE anonymous memory reads zeros, a MAP_PRIVATE file mapping reads
 * the file again); mmap of /dev/zero (private = anonymous, shared = a new
 * shared object, shared across fork); shared and private futex keys differ;
 * MADV_REMOVE, MADV_FREE, MADV_WIPEONFORK, MADV_DONTFORK; mincore; msync
 * error rules. */
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define PG 4096ul
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_PRIVATE_FLAG 128
#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MADV_REMOVE
#define MADV_REMOVE 9
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef MADV_KEEPONFORK
#define MADV_KEEPONFORK 19
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#endif

static char* map(size_t len, int flags, int fd) {
  long r = syscall(SYS_mmap, 0, len, PROT_READ | PROT_WRITE, flags, fd, 0);
  CHECK(r > 0, "mmap(%zu, %#x, fd %d) = %ld errno %d", len, flags, fd, r, errno);
  return r > 0 ? (char*)r : NULL;
}
static void fill(char* p, size_t pages, int seed) {
  for (size_t i = 0; i < pages; ++i) memset(p + i * PG, seed + (int)i, PG);
}
static int holds(char* p, size_t pages, int seed) {
  for (size_t i = 0; i < pages; ++i)
    if (p[i * PG] != (char)(seed + i) || p[i * PG + PG - 1] != (char)(seed + i)) return 0;
  return 1;
}
static int zero(char* p, size_t pages) {
  for (size_t i = 0; i < pages * PG; i += 512)
    if (p[i]) return 0;
  return 1;
}
/* Runs fn in a child; returns its exit status (or 100 + signal). */
static int in_child(int (*fn)(char*), char* arg) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) _exit(fn(arg));
  int st = 0;
  if (waitpid(c, &st, 0) != c) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* The /proc/self/maps line of the mapping at p contains `want`. */
static int maps_line_has(void* p, const char* want) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  char line[512], start[32];
  snprintf(start, sizeof start, "%lx-", (unsigned long)p);
  int found = 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, start, strlen(start)) == 0) found = strstr(line, want) != NULL;
  fclose(f);
  return found;
}

static void test_mremap_shared(void) {
  char* p = map(4 * PG, MAP_SHARED | MAP_ANONYMOUS, -1);
  if (!p) return;
  fill(p, 4, 1);
  /* Shrink in place to one page, then grow back in place: the shared object
   * still has its four pages. */
  long r = syscall(SYS_mremap, p, 4 * PG, PG, 0);
  CHECK(r == (long)p, "shrink = %#lx", r);
  r = syscall(SYS_mremap, p, PG, 4 * PG, 0);
  CHECK(r == (long)p, "grow in place = %#lx errno %d", r, errno);
  if (r == (long)p) CHECK(holds(p, 4, 1), "shared anon data back after shrink + regrow");
  /* Moving keeps it too (and a child sees it). */
  r = syscall(SYS_mremap, p, 4 * PG, 4 * PG, MREMAP_MAYMOVE | 2 /*FIXED*/, p + 64 * PG);
  if (r > 0) {
    char* q = (char*)r;
    CHECK(holds(q, 4, 1), "moved shared mapping keeps its data");
    syscall(SYS_munmap, q, 4 * PG);
  } else {
    syscall(SYS_munmap, p, 4 * PG);
  }
}

static int child_dontneed(char* p) {
  if (syscall(SYS_madvise, p, 4 * PG, MADV_DONTNEED) != 0) return 2;
  if (!holds(p, 4, 10)) return 3;  /* the child still reads the shared data */
  p[0] = 99;
  return 0;
}
static void test_dontneed(void) {
  /* MAP_SHARED anonymous: the data stays. */
  char* s = map(4 * PG, MAP_SHARED | MAP_ANONYMOUS, -1);
  if (!s) return;
  fill(s, 4, 10);
  CHECK(maps_line_has(s, " rw-s ") && maps_line_has(s, "/dev/zero (deleted)"),
        "/proc/self/maps names shared anonymous memory /dev/zero (deleted)");
  CHECK(syscall(SYS_madvise, s, 4 * PG, MADV_DONTNEED) == 0, "MADV_DONTNEED shared");
  CHECK(holds(s, 4, 10), "MAP_SHARED|MAP_ANONYMOUS reads the old data after MADV_DONTNEED");
  CHECK(in_child(child_dontneed, s) == 0, "a child's MADV_DONTNEED keeps the shared data");
  CHECK(s[0] == 99, "the child's write after DONTNEED reaches the parent: %d", s[0]);
  syscall(SYS_munmap, s, 4 * PG);
  /* MAP_PRIVATE anonymous: zeros. */
  char* p = map(4 * PG, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  fill(p, 4, 20);
  CHECK(syscall(SYS_madvise, p + PG, 2 * PG, MADV_DONTNEED) == 0, "MADV_DONTNEED private");
  CHECK(zero(p + PG, 2) && p[0] == 20 && p[3 * PG] == 23, "private anon: exactly the range reads zeros");
  syscall(SYS_munmap, p, 4 * PG);
  /* MAP_PRIVATE file: a written (copied) page reads the file's data again. */
  mkdir("/tmp", 01777);  /* a VM may have no /tmp yet */
  char path[] = "/tmp/abi_shmem_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  char buf[2 * PG];
  memset(buf, 'f', sizeof buf);
  CHECK(write(fd, buf, sizeof buf) == (ssize_t)sizeof buf, "write file");
  char* f = map(2 * PG, MAP_PRIVATE, fd);
  if (f) {
    f[0] = 'x';
    f[PG] = 'y';
    CHECK(syscall(SYS_madvise, f, 2 * PG, MADV_DONTNEED) == 0, "MADV_DONTNEED private file");
    CHECK(f[0] == 'f' && f[PG] == 'f', "private file mapping reads the file again: %c %c", f[0], f[PG]);
    syscall(SYS_munmap, f, 2 * PG);
  }
  /* MAP_SHARED file: the written data is in the file, so it stays. */
  f = map(2 * PG, MAP_SHARED, fd);
  if (f) {
    f[5] = 'z';
    CHECK(syscall(SYS_madvise, f, 2 * PG, MADV_DONTNEED) == 0, "MADV_DONTNEED shared file");
    CHECK(f[5] == 'z', "shared file mapping keeps the write");
    syscall(SYS_munmap, f, 2 * PG);
  }
  close(fd);
  unlink(path);
}

static int child_write(char* p) {
  p[0] = 'c';
  p[PG] = 'd';
  return 0;
}
static void test_dev_zero(void) {
  int fd = open("/dev/zero", O_RDWR);
  CHECK(fd >= 0, "open /dev/zero");
  if (fd < 0) return;
  /* Private: anonymous memory, zero-filled, not shared with a child. */
  char* p = map(2 * PG, MAP_PRIVATE, fd);
  if (p) {
    CHECK(zero(p, 2), "private /dev/zero is zero");
    p[0] = 'p';
    CHECK(in_child(child_write, p) == 0, "child");
    CHECK(p[0] == 'p' && p[PG] == 0, "a private /dev/zero mapping is not shared across fork");
    long r = syscall(SYS_mremap, p, 2 * PG, 8 * PG, MREMAP_MAYMOVE);
    CHECK(r > 0 && ((char*)r)[0] == 'p' && ((char*)r)[7 * PG] == 0, "mremap grows it");
    if (r > 0) p = (char*)r;
    syscall(SYS_munmap, p, 8 * PG);
  }
  /* Shared: a new shared object per mmap, shared across fork. */
  char* s = map(2 * PG, MAP_SHARED, fd);
  char* s2 = map(2 * PG, MAP_SHARED, fd);
  if (s && s2) {
    CHECK(zero(s, 2), "shared /dev/zero is zero");
    CHECK(in_child(child_write, s) == 0, "child");
    CHECK(s[0] == 'c' && s[PG] == 'd', "a shared /dev/zero mapping is shared across fork: %d %d", s[0], s[PG]);
    CHECK(s2[0] == 0, "two mmaps of /dev/zero are two objects");
    CHECK(syscall(SYS_madvise, s, 2 * PG, MADV_DONTNEED) == 0 && s[0] == 'c', "DONTNEED keeps shared /dev/zero data");
  }
  if (s) syscall(SYS_munmap, s, 2 * PG);
  if (s2) syscall(SYS_munmap, s2, 2 * PG);
  /* An offset is fine (ignored); read-only open cannot be mapped shared writable. */
  long r = syscall(SYS_mmap, 0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 16 * PG);
  CHECK(r > 0, "private /dev/zero at an offset = %ld", r);
  if (r > 0) syscall(SYS_munmap, r, PG);
  close(fd);
  fd = open("/dev/zero", O_RDONLY);
  EXPECT_ERR(EACCES, syscall(SYS_mmap, 0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  r = syscall(SYS_mmap, 0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(r > 0, "private writable mapping of a read-only /dev/zero = %ld", r);
  if (r > 0) syscall(SYS_munmap, r, PG);
  close(fd);
}

/* Futex keys: a private waiter is not woken by a shared wake, and the
 * reverse. Waiters are found with CMP_REQUEUE (nr_wake 0), which moves them
 * to a second word only once they sleep: no timing guess. */
struct futex_waiter {
  int* word;
  int op;
  long result;
};
static void* futex_wait_thread(void* arg) {
  struct futex_waiter* w = arg;
  struct timespec ten = {10, 0};
  w->result = syscall(SYS_futex, w->word, w->op, 0, &ten, NULL, 0);
  return NULL;
}
static void test_futex_keys(int* words) {
  for (int shared_waiter = 0; shared_waiter < 2; ++shared_waiter) {
    int priv = shared_waiter ? 0 : FUTEX_PRIVATE_FLAG;
    words[0] = words[1] = 0;
    struct futex_waiter w = {&words[0], FUTEX_WAIT | priv, -7};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, futex_wait_thread, &w) == 0, "pthread_create");
    long moved = 0;
    for (int i = 0; i < 5000 && moved == 0; ++i) {
      moved = syscall(SYS_futex, &words[0], FUTEX_CMP_REQUEUE | priv, 0, (void*)1l, &words[1], 0);
      if (!moved) usleep(1000);
    }
    CHECK(moved == 1, "the waiter sleeps (requeued %ld)", moved);
    long wrong = syscall(SYS_futex, &words[1], FUTEX_WAKE | (priv ^ FUTEX_PRIVATE_FLAG), 1, NULL, NULL, 0);
    CHECK(wrong == 0, "a %s wake woke a %s waiter", shared_waiter ? "private" : "shared",
          shared_waiter ? "shared" : "private");
    long right = syscall(SYS_futex, &words[1], FUTEX_WAKE | priv, 1, NULL, NULL, 0);
    CHECK(right == 1, "the matching wake wakes it: %ld", right);
    pthread_join(t, NULL);
    CHECK(w.result == 0, "the waiter was woken (not timed out): %ld", w.result);
  }
}

static int child_dontfork(char* p) {
  unsigned char v;
  errno = 0;
  /* The mapping is absent in the child. */
  return syscall(SYS_mincore, p, PG, &v) == -1 && errno == ENOMEM ? 0 : 1;
}
static int child_wipe(char* p) {
  if (!zero(p, 2)) return 1;  /* wiped in the child */
  return p[2 * PG] == 'k' ? 0 : 2;  /* the page outside the range is kept */
}
static void test_madvise_more(void) {
  /* MADV_REMOVE: frees the shared object's pages (zeros for everyone);
   * EINVAL on private memory. */
  char* s = map(4 * PG, MAP_SHARED | MAP_ANONYMOUS, -1);
  char* p = map(4 * PG, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  if (!s || !p) return;
  fill(s, 4, 30);
  CHECK(syscall(SYS_madvise, s + PG, 2 * PG, MADV_REMOVE) == 0, "MADV_REMOVE shared anon");
  CHECK(zero(s + PG, 2) && s[0] == 30 && s[3 * PG] == 33, "MADV_REMOVE zeroes exactly its range");
  EXPECT_ERR(EINVAL, syscall(SYS_madvise, p, PG, MADV_REMOVE));
  /* MADV_FREE: private anonymous only; the data is either kept or zero. */
  fill(p, 4, 40);
  CHECK(syscall(SYS_madvise, p, 4 * PG, MADV_FREE) == 0, "MADV_FREE private anon");
  CHECK(p[0] == 40 || p[0] == 0, "after MADV_FREE: %d", p[0]);
  EXPECT_ERR(EINVAL, syscall(SYS_madvise, s, PG, MADV_FREE));
  /* MADV_WIPEONFORK: private anonymous only; the child sees zeros. */
  fill(p, 4, 0);
  p[0] = p[PG] = 'w';
  p[2 * PG] = 'k';
  CHECK(syscall(SYS_madvise, p, 2 * PG, MADV_WIPEONFORK) == 0, "MADV_WIPEONFORK");
  CHECK(in_child(child_wipe, p) == 0, "the child sees the wiped range as zeros, the rest kept");
  CHECK(p[0] == 'w' && p[PG] == 'w', "the parent keeps its data");
  CHECK(syscall(SYS_madvise, p, 2 * PG, MADV_KEEPONFORK) == 0, "MADV_KEEPONFORK");
  CHECK(in_child(child_wipe, p) == 1, "after KEEPONFORK the child has the data");
  EXPECT_ERR(EINVAL, syscall(SYS_madvise, s, PG, MADV_WIPEONFORK));
  /* MADV_DONTFORK: the child has no mapping there. */
  CHECK(syscall(SYS_madvise, p, 4 * PG, MADV_DONTFORK) == 0, "MADV_DONTFORK");
  CHECK(in_child(child_dontfork, p) == 0, "the DONTFORK range is absent in the child");
  CHECK(syscall(SYS_madvise, p, 4 * PG, MADV_DOFORK) == 0, "MADV_DOFORK");
  CHECK(in_child(child_dontfork, p) == 1, "after DOFORK the child has it");
  syscall(SYS_munmap, s, 4 * PG);
  syscall(SYS_munmap, p, 4 * PG);
}

static void test_mincore_msync(void) {
  char* s = map(4 * PG, MAP_SHARED | MAP_ANONYMOUS, -1);
  if (!s) return;
  unsigned char v[4];
  s[0] = 1;
  s[2 * PG] = 1;
  CHECK(syscall(SYS_mincore, s, 4 * PG, v) == 0, "mincore shared");
  CHECK((v[0] & 1) && (v[2] & 1), "touched shared pages are resident: %d %d", v[0], v[2]);
  /* msync: flags, alignment, holes. */
  EXPECT_ERR(EINVAL, syscall(SYS_msync, s + 1, PG, MS_SYNC));
  EXPECT_ERR(EINVAL, syscall(SYS_msync, s, PG, MS_SYNC | MS_ASYNC));
  EXPECT_ERR(EINVAL, syscall(SYS_msync, s, PG, 0x100));
  CHECK(syscall(SYS_msync, s, PG, 0) == 0, "msync flags 0");
  CHECK(syscall(SYS_msync, s, 0, MS_SYNC) == 0, "msync of nothing");
  CHECK(syscall(SYS_msync, s, PG + 1, MS_SYNC) == 0, "the length is rounded up");
  syscall(SYS_munmap, s + PG, PG);
  EXPECT_ERR(ENOMEM, syscall(SYS_msync, s, 4 * PG, MS_SYNC));  /* a hole */
  EXPECT_ERR(ENOMEM, syscall(SYS_mincore, s, 4 * PG, v));
  EXPECT_ERR(ENOMEM, syscall(SYS_msync, (void*)-PG, 2 * PG, MS_SYNC));  /* wraps */
  syscall(SYS_munmap, s, 4 * PG);
}

int main(void) {
  int* words = (int*)map(PG, MAP_SHARED | MAP_ANONYMOUS, -1);
  test_mremap_shared();
  test_dontneed();
  test_dev_zero();
  if (words) test_futex_keys(words);
  test_madvise_more();
  test_mincore_msync();
  return finish("abi_shmem");
}
