/* Resource limits where they bite (setrlimit(2), write(2), mmap(2), brk(2)):
 * RLIMIT_FSIZE (partial writes up to the limit, then SIGXFSZ and EFBIG for
 * write/pwrite/writev/O_APPEND, ftruncate/truncate, fallocate, sendfile,
 * splice, copy_file_range; the default action kills), RLIMIT_DATA and
 * RLIMIT_AS (ENOMEM from mmap/mremap, a refused brk), RLIMIT_NOFILE,
 * MAP_32BIT placement, and file offsets near INT64_MAX (EINVAL/EFBIG, never
 * success or wrap-around). Files are memfds: tmpfs on Linux, so the
 * figures do not depend on the host's /tmp. */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define PG 4096ul
#define MB (1024ul * 1024)
#ifndef MAP_32BIT
#define MAP_32BIT 0x40
#endif

static volatile int g_xfsz;
static void on_xfsz(int s) { (void)s; ++g_xfsz; }

static int mfd(const char* name) {
  int fd = (int)syscall(SYS_memfd_create, name, 0);
  CHECK(fd >= 0, "memfd_create errno %d", errno);
  return fd;
}

static void set_limit(int res, rlim_t cur) {
  struct rlimit r;
  getrlimit(res, &r);
  r.rlim_cur = cur;
  CHECK(setrlimit(res, &r) == 0, "setrlimit(%d, %lu) errno %d", res, (unsigned long)cur, errno);
}

static long fionread(int fd) {
  int n = -1;
  ioctl(fd, FIONREAD, &n);
  return n;
}

/* --- RLIMIT_FSIZE --- */

static void test_fsize(void) {
  static char buf[16384];
  memset(buf, 'x', sizeof buf);
  signal(SIGXFSZ, on_xfsz);
  int fd = mfd("fsize");
  set_limit(RLIMIT_FSIZE, 10000);
  CHECK(write(fd, buf, 8000) == 8000, "below the limit");
  CHECK(write(fd, buf, 4000) == 2000, "a write crossing the limit stops at it");
  CHECK(g_xfsz == 0, "no signal for a partial write (%d)", g_xfsz);
  EXPECT_ERR(EFBIG, write(fd, buf, 1));
  CHECK(g_xfsz == 1, "SIGXFSZ for a write at the limit (%d)", g_xfsz);
  EXPECT_ERR(EFBIG, pwrite(fd, buf, 10, 10000));
  CHECK(g_xfsz == 2, "SIGXFSZ for pwrite (%d)", g_xfsz);
  CHECK(pwrite(fd, buf, 10, 9995) == 5, "pwrite crossing the limit");
  struct iovec v[2] = {{buf, 3}, {buf, 3}};
  CHECK(pwritev(fd, v, 2, 9997) == 3, "pwritev crossing the limit");
  EXPECT_ERR(EFBIG, pwritev(fd, v, 2, 20000));
  CHECK(g_xfsz == 3, "SIGXFSZ for pwritev (%d)", g_xfsz);
  CHECK(pread(fd, buf, 10, 0) == 10, "reads are not limited");
  /* Past the limit only for growth: a rewrite below it is fine. */
  CHECK(pwrite(fd, buf, 100, 0) == 100, "rewrite below the limit");
  /* O_APPEND at the limit. */
  int afd = open("/proc/self/fd/0", O_RDONLY);  /* a spare number */
  close(afd);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  afd = open(path, O_WRONLY | O_APPEND);
  CHECK(afd >= 0, "reopen %s O_APPEND errno %d", path, errno);
  EXPECT_ERR(EFBIG, write(afd, buf, 1));
  CHECK(g_xfsz == 4, "SIGXFSZ for an append (%d)", g_xfsz);
  close(afd);
  /* ftruncate: up to the limit; beyond it EFBIG + SIGXFSZ. */
  CHECK(ftruncate(fd, 10000) == 0, "ftruncate to the limit");
  EXPECT_ERR(EFBIG, ftruncate(fd, 10001));
  CHECK(g_xfsz == 5, "SIGXFSZ for ftruncate (%d)", g_xfsz);
  CHECK(ftruncate(fd, 5000) == 0, "shrinking is fine");
  EXPECT_ERR(EFBIG, truncate(path, 20000));
  CHECK(g_xfsz == 6, "SIGXFSZ for truncate (%d)", g_xfsz);
  /* fallocate growing past the limit; KEEP_SIZE does not grow. */
  EXPECT_ERR(EFBIG, fallocate(fd, 0, 9000, 2000));
  CHECK(g_xfsz == 7, "SIGXFSZ for fallocate (%d)", g_xfsz);
  CHECK(fallocate(fd, 0, 4000, 2000) == 0, "fallocate below the limit");
  /* sendfile into a file: up to the limit, then EFBIG. */
  int src = mfd("src");
  CHECK(write(src, buf, 1000) == 1000, "src data");
  CHECK(lseek(fd, 9990, SEEK_SET) == 9990, "seek");
  off_t soff = 0;
  CHECK(sendfile(fd, src, &soff, 100) == 10 && soff == 10, "sendfile crossing the limit (off %ld)", (long)soff);
  /* Linux: the partial sendfile/splice also raises SIGXFSZ (its next
   * write, at the limit), copy_file_range clamps first and does not. */
  CHECK(g_xfsz == 8, "SIGXFSZ for a partial sendfile (%d)", g_xfsz);
  EXPECT_ERR(EFBIG, sendfile(fd, src, &soff, 100));
  CHECK(g_xfsz == 9, "SIGXFSZ for sendfile (%d)", g_xfsz);
  /* splice from a pipe: the pipe keeps what did not go in. */
  int p[2];
  EXPECT_OK(pipe(p));
  CHECK(write(p[1], buf, 100) == 100, "pipe data");
  loff_t off = 9995;
  CHECK(splice(p[0], 0, fd, &off, 100, 0) == 5 && off == 10000, "splice crossing the limit (off %lld)", (long long)off);
  CHECK(fionread(p[0]) == 95, "the pipe keeps 95 bytes: %ld", fionread(p[0]));
  CHECK(g_xfsz == 10, "SIGXFSZ for a partial splice (%d)", g_xfsz);
  EXPECT_ERR(EFBIG, splice(p[0], 0, fd, &off, 100, 0));
  CHECK(g_xfsz == 11, "SIGXFSZ for splice (%d)", g_xfsz);
  CHECK(fionread(p[0]) == 95, "still 95 bytes: %ld", fionread(p[0]));
  /* copy_file_range. */
  loff_t in = 0, out = 9990;
  CHECK(syscall(SYS_copy_file_range, src, &in, fd, &out, 100, 0) == 10, "copy_file_range crossing the limit");
  CHECK(g_xfsz == 11, "no SIGXFSZ for a partial copy_file_range (%d)", g_xfsz);
  EXPECT_ERR(EFBIG, syscall(SYS_copy_file_range, src, &in, fd, &out, 100, 0));
  CHECK(g_xfsz == 12, "SIGXFSZ for copy_file_range (%d)", g_xfsz);
  /* Ignored: EFBIG only. */
  signal(SIGXFSZ, SIG_IGN);
  EXPECT_ERR(EFBIG, pwrite(fd, buf, 1, 10000));
  CHECK(g_xfsz == 12, "an ignored SIGXFSZ (%d)", g_xfsz);
  /* The default action kills (with a core dump, as Linux reports). */
  pid_t c = fork();
  if (c == 0) {
    signal(SIGXFSZ, SIG_DFL);
    pwrite(fd, buf, 1, 10000);
    _exit(0);
  }
  int st = 0;
  waitpid(c, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ, "the default SIGXFSZ kills (status %#x)", st);
  set_limit(RLIMIT_FSIZE, RLIM_INFINITY);
  CHECK(pwrite(fd, buf, 10, 10000) == 10, "no limit again");
  close(fd), close(src), close(p[0]), close(p[1]);
  signal(SIGXFSZ, SIG_DFL);
}

/* --- offsets near INT64_MAX --- */

static void test_big_offsets(void) {
  char b[16] = {0};
  int fd = mfd("offsets");
  CHECK(write(fd, b, 16) == 16, "data");
  EXPECT_ERR(EINVAL, pread(fd, b, 10, INT64_MAX - 5));  /* offset + count wraps */
  EXPECT_ERR(EINVAL, pread(fd, b, 1, INT64_MAX));
  CHECK(pread(fd, b, 10, INT64_MAX - 10) == 0, "past the end: 0");
  EXPECT_ERR(EINVAL, pwrite(fd, b, 10, INT64_MAX - 5));
  EXPECT_ERR(EINVAL, pwrite(fd, b, 1, INT64_MAX));
  EXPECT_ERR(EINVAL, pread(fd, b, 1, -1));
  struct iovec v = {b, 10};
  EXPECT_ERR(EINVAL, preadv(fd, &v, 1, INT64_MAX - 5));
  EXPECT_ERR(EINVAL, pwritev(fd, &v, 1, INT64_MAX - 5));
  EXPECT_ERR(EFBIG, fallocate(fd, 0, INT64_MAX - 5, 10));
  EXPECT_ERR(EINVAL, ftruncate(fd, -1));
  int p[2];
  EXPECT_OK(pipe(p));
  loff_t off = INT64_MAX - 5;
  EXPECT_ERR(EINVAL, sendfile(p[1], fd, &off, 10));
  off = INT64_MAX;
  EXPECT_ERR(EINVAL, sendfile(p[1], fd, &off, 10));
  CHECK(fionread(p[0]) == 0, "nothing moved");
  CHECK(write(p[1], b, 10) == 10, "pipe data");
  off = INT64_MAX - 5;
  EXPECT_ERR(EINVAL, splice(p[0], 0, fd, &off, 10, 0));
  off = INT64_MAX - 5;
  EXPECT_ERR(EINVAL, splice(fd, &off, p[1], 0, 10, 0));
  CHECK(fionread(p[0]) == 10, "the pipe keeps its data: %ld", fionread(p[0]));
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == 16, "size unchanged: %ld", (long)st.st_size);
  close(fd), close(p[0]), close(p[1]);
}

/* --- RLIMIT_DATA, RLIMIT_AS (in a child: the limits stay there) --- */

static long sys_mmap(void* a, size_t l, int p, int f) { return syscall(SYS_mmap, a, l, p, f, -1, 0); }

static int data_child(void) {
  const int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS;
  set_limit(RLIMIT_DATA, 32 * MB);
  EXPECT_ERR(ENOMEM, sys_mmap(0, 64 * MB, rw, pa));
  long r = sys_mmap(0, 64 * MB, PROT_READ, pa);  /* not writable: not data */
  CHECK(r > 0, "read-only private mapping = %ld", r);
  if (r > 0) munmap((void*)r, 64 * MB);
  r = sys_mmap(0, 64 * MB, rw, MAP_SHARED | MAP_ANONYMOUS);  /* shared: not data */
  CHECK(r > 0, "shared mapping = %ld", r);
  if (r > 0) munmap((void*)r, 64 * MB);
  r = sys_mmap(0, 4 * MB, rw, pa);
  CHECK(r > 0, "a small private mapping = %ld", r);
  /* brk: the heap counts too; a refused brk leaves the break where it was. */
  unsigned long cur = (unsigned long)syscall(SYS_brk, 0);
  CHECK(syscall(SYS_brk, cur + 64 * MB) == (long)cur, "brk past RLIMIT_DATA refused");
  CHECK(syscall(SYS_brk, cur + 1 * MB) == (long)(cur + MB), "brk within RLIMIT_DATA");
  CHECK(syscall(SYS_brk, cur) == (long)cur, "brk back");
  return 0;
}

static int as_child(void) {
  const int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS;
  set_limit(RLIMIT_AS, 64 * MB);
  EXPECT_ERR(ENOMEM, sys_mmap(0, 128 * MB, rw, pa));
  EXPECT_ERR(ENOMEM, sys_mmap(0, 128 * MB, PROT_NONE, pa));       /* all address space counts */
  EXPECT_ERR(ENOMEM, sys_mmap(0, 128 * MB, rw, MAP_SHARED | MAP_ANONYMOUS));
  long r = sys_mmap(0, 4 * MB, rw, pa);
  CHECK(r > 0, "a small mapping = %ld", r);
  if (r > 0) {
    EXPECT_ERR(ENOMEM, syscall(SYS_mremap, r, 4 * MB, 128 * MB, MREMAP_MAYMOVE));
    long m = syscall(SYS_mremap, r, 4 * MB, 8 * MB, MREMAP_MAYMOVE);
    CHECK(m > 0, "mremap within the limit = %ld", m);
  }
  unsigned long cur = (unsigned long)syscall(SYS_brk, 0);
  CHECK(syscall(SYS_brk, cur + 128 * MB) == (long)cur, "brk past RLIMIT_AS refused");
  return 0;
}

static void in_child(int (*fn)(void), const char* what) {
  pid_t c = fork();
  if (c == 0) {
    fn();
    fflush(stdout);
    _exit(g_failures ? 1 : 0);
  }
  int st = -1;
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s child: status %#x", what, st);
}

/* --- RLIMIT_NOFILE --- */

static void test_nofile(void) {
  struct rlimit old;
  getrlimit(RLIMIT_NOFILE, &old);
  set_limit(RLIMIT_NOFILE, 16);
  EXPECT_ERR(EBADF, dup2(0, 16));
  EXPECT_ERR(EINVAL, fcntl(0, F_DUPFD, 16));
  int opened[20], n = 0, err = 0;
  for (; n < 20; ++n) {
    opened[n] = dup(0);
    if (opened[n] < 0) {
      err = errno;
      break;
    }
  }
  CHECK(n < 20 && err == EMFILE, "dup up to the limit then EMFILE (%d dups, errno %d)", n, err);
  for (int i = 0; i < n; ++i) close(opened[i]);
  setrlimit(RLIMIT_NOFILE, &old);
}

/* --- MAP_32BIT: in the second GiB, as Linux places it --- */

static void test_map32(void) {
  const int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT;
  long r[3];
  size_t len[3] = {PG, 64 * 1024, 2 * MB};
  for (int i = 0; i < 3; ++i) {
    r[i] = sys_mmap(0, len[i], rw, pa);
    CHECK(r[i] >= 0x40000000l && r[i] + (long)len[i] <= 0x80000000l, "MAP_32BIT %zu bytes at %#lx", len[i], r[i]);
    if (r[i] > 0) ((char*)r[i])[0] = 1;
  }
  for (int i = 0; i < 3; ++i)
    if (r[i] > 0) munmap((void*)r[i], len[i]);
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  in_child(data_child, "RLIMIT_DATA");
  in_child(as_child, "RLIMIT_AS");
  test_fsize();
  test_big_offsets();
  test_nofile();
  test_map32();
  return finish("abi_rlimit");
}
