/* Data paths: concurrent O_APPEND writers, rename over an open file,
 * preadv/pwritev and their *2 forms, SEEK_DATA/SEEK_HOLE, FIONREAD and
 * FIGETBSZ, fallocate, the sync/advice calls and close_range. */
#include "check.h"

#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>

#ifndef FIGETBSZ
#define FIGETBSZ 2 /* _IO(0x00, 2), linux/fs.h */
#endif
#ifndef RWF_APPEND
#define RWF_HIPRI 1
#define RWF_DSYNC 2
#define RWF_SYNC 4
#define RWF_NOWAIT 8
#define RWF_APPEND 0x10
#endif

/* --- 8 threads x 1000 appends: nothing lost, nothing torn ------------- */

enum { kThreads = 8, kRecords = 1000, kRecLen = 32 };
static int g_append_fd;

static void* appender(void* arg) {
  int t = (int)(long)arg;
  char rec[kRecLen + 1];
  for (int i = 0; i < kRecords; ++i) {
    snprintf(rec, sizeof(rec), "T%d R%04d %s\n", t, i, "abcdefghijklmnopqrstuv"); /* 32 bytes */
    if (write(g_append_fd, rec, kRecLen) != kRecLen) return (void*)1;
  }
  return NULL;
}

static void test_appends(void) {
  g_append_fd = open("append", O_CREAT | O_WRONLY | O_APPEND | O_TRUNC, 0644);
  CHECK(g_append_fd >= 0, "open");
  pthread_t th[kThreads];
  for (long t = 0; t < kThreads; ++t) pthread_create(&th[t], NULL, appender, (void*)t);
  int bad = 0;
  for (int t = 0; t < kThreads; ++t) {
    void* r;
    pthread_join(th[t], &r);
    bad += r != NULL;
  }
  CHECK(bad == 0, "%d writers saw a short write", bad);
  close(g_append_fd);
  struct stat st;
  CHECK(stat("append", &st) == 0 && st.st_size == kThreads * kRecords * kRecLen, "size %ld", (long)st.st_size);
  static char data[kThreads * kRecords * kRecLen];
  static unsigned char seen[kThreads][kRecords];
  int fd = open("append", O_RDONLY);
  ssize_t n = 0, k;
  while ((k = read(fd, data + n, sizeof(data) - n)) > 0) n += k;
  close(fd);
  CHECK(n == (ssize_t)sizeof(data), "read %ld", (long)n);
  int torn = 0, dup = 0;
  for (ssize_t off = 0; off + kRecLen <= n; off += kRecLen) {
    int t, i;
    char tail[32];
    if (sscanf(data + off, "T%d R%d %22s", &t, &i, tail) != 3 || t < 0 || t >= kThreads || i < 0 ||
        i >= kRecords || strcmp(tail, "abcdefghijklmnopqrstuv") != 0 || data[off + kRecLen - 1] != '\n') {
      ++torn;
      continue;
    }
    dup += seen[t][i]++ != 0;
  }
  int missing = 0;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kRecords; ++i) missing += !seen[t][i];
  CHECK(torn == 0 && dup == 0 && missing == 0, "torn %d dup %d missing %d", torn, dup, missing);
}

/* --- rename over an open file ------------------------------------------ */

static void test_rename_over_open(void) {
  int fd = open("victim", O_CREAT | O_RDWR, 0644);
  CHECK(write(fd, "old contents", 12) == 12, "write old");
  int nf = open("newer", O_CREAT | O_WRONLY, 0644);
  CHECK(write(nf, "new contents!", 13) == 13, "write new");
  close(nf);
  CHECK(rename("newer", "victim") == 0, "rename over");
  char buf[32] = {0};
  CHECK(pread(fd, buf, sizeof(buf), 0) == 12 && memcmp(buf, "old contents", 12) == 0, "old fd: old bytes");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0, "old file unlinked (nlink %ld)", (long)st.st_nlink);
  int again = open("victim", O_RDONLY);
  memset(buf, 0, sizeof(buf));
  CHECK(read(again, buf, sizeof(buf)) == 13 && memcmp(buf, "new contents!", 13) == 0, "name: new bytes");
  close(again);
  close(fd);
}

/* --- vectored positional I/O -------------------------------------------- */

static void test_vectored(void) {
  int fd = open("vec", O_CREAT | O_RDWR | O_TRUNC, 0644);
  struct iovec w[2] = {{"abc", 3}, {"defgh", 5}};
  CHECK(pwritev(fd, w, 2, 10) == 8, "pwritev");
  CHECK(lseek(fd, 0, SEEK_CUR) == 0, "offset untouched");
  char a[4] = {0}, b[8] = {0};
  struct iovec r[2] = {{a, 4}, {b, 4}};
  CHECK(preadv(fd, r, 2, 10) == 8 && memcmp(a, "abcd", 4) == 0 && memcmp(b, "efgh", 4) == 0, "preadv");
  /* preadv2/pwritev2: offset -1 uses and moves the file offset. */
  CHECK(lseek(fd, 12, SEEK_SET) == 12, "seek");
  struct iovec one = {a, 3};
  CHECK(syscall(SYS_preadv2, fd, &one, 1, -1L, 0L, 0) == 3 && memcmp(a, "cde", 3) == 0, "preadv2 at offset");
  CHECK(lseek(fd, 0, SEEK_CUR) == 15, "offset moved");
  struct iovec zz = {"ZZ", 2};
  CHECK(syscall(SYS_pwritev2, fd, &zz, 1, 0L, 0L, RWF_DSYNC) == 2, "pwritev2 at 0");
  CHECK(lseek(fd, 0, SEEK_CUR) == 15, "offset kept");
  /* RWF_APPEND: at the end whatever the offset says. */
  struct iovec tail = {"!", 1};
  CHECK(syscall(SYS_pwritev2, fd, &tail, 1, 0L, 0L, RWF_APPEND) == 1, "append");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == 19, "size %ld", (long)st.st_size);
  CHECK(pread(fd, a, 1, 18) == 1 && a[0] == '!', "at the end");
  CHECK(pread(fd, a, 2, 0) == 2 && memcmp(a, "ZZ", 2) == 0, "start kept");
  CHECK(syscall(SYS_preadv2, fd, &one, 1, 0L, 0L, RWF_HIPRI | RWF_SYNC) == 3, "flags accepted");
  /* readv(2): unknown RWF flags EOPNOTSUPP; negative offsets EINVAL
   * (below -1 for the *2 forms); a bad iovec EFAULT; too many EINVAL. */
  EXPECT_ERR(EOPNOTSUPP, syscall(SYS_preadv2, fd, &one, 1, 0L, 0L, 0x10000));
  EXPECT_ERR(EINVAL, syscall(SYS_preadv2, fd, &one, 1, -2L, 0L, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_preadv, fd, &one, 1, -1L, 0L));
  EXPECT_ERR(EFAULT, syscall(SYS_preadv, fd, g_bad, 1, 0L, 0L));
  struct iovec badbuf = {g_bad, 3};
  EXPECT_ERR(EFAULT, syscall(SYS_preadv, fd, &badbuf, 1, 0L, 0L));
  EXPECT_ERR(EINVAL, syscall(SYS_pwritev, fd, &one, 1025, 0L, 0L));
  EXPECT_ERR(EBADF, syscall(SYS_preadv, -1, &one, 1, 0L, 0L));
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_ERR(ESPIPE, syscall(SYS_preadv, p[0], &one, 1, 0L, 0L));
  close(p[0]);
  close(p[1]);
  close(fd);
}

/* --- seeking, ioctls ------------------------------------------------------ */

static void test_seek_ioctl(void) {
  int fd = open("seek", O_CREAT | O_RDWR | O_TRUNC, 0644);
  static char block[10000];
  memset(block, 'd', sizeof(block));
  CHECK(write(fd, block, sizeof(block)) == (ssize_t)sizeof(block), "write");
  /* A file written densely: data from 0, the only hole is the end. */
  CHECK(lseek(fd, 0, SEEK_DATA) == 0, "SEEK_DATA");
  CHECK(lseek(fd, 100, SEEK_DATA) == 100, "SEEK_DATA 100");
  CHECK(lseek(fd, 0, SEEK_HOLE) == 10000, "SEEK_HOLE");
  CHECK(lseek(fd, 0, SEEK_CUR) == 10000, "SEEK_HOLE moved the offset");
  EXPECT_ERR(ENXIO, lseek(fd, 10000, SEEK_DATA));
  EXPECT_ERR(ENXIO, lseek(fd, 20000, SEEK_HOLE));
  EXPECT_ERR(EINVAL, lseek(fd, 0, 7));
  /* FIONREAD: bytes from the offset to the end. */
  int n = -1;
  CHECK(lseek(fd, 2500, SEEK_SET) == 2500 && ioctl(fd, FIONREAD, &n) == 0 && n == 7500, "FIONREAD %d", n);
  int bs = 0;
  CHECK(ioctl(fd, FIGETBSZ, &bs) == 0 && bs > 0 && (bs & (bs - 1)) == 0, "FIGETBSZ %d", bs);
  EXPECT_ERR(EFAULT, ioctl(fd, FIONREAD, (int*)g_bad));
  EXPECT_ERR(ENOTTY, ioctl(fd, 0x5401 /* TCGETS */, &n));
  close(fd);
}

/* --- fallocate ---------------------------------------------------------- */

static void test_fallocate(void) {
  int fd = open("falloc", O_CREAT | O_RDWR | O_TRUNC, 0644);
  struct stat st;
  CHECK(fallocate(fd, 0, 0, 8192) == 0, "allocate");
  CHECK(fstat(fd, &st) == 0 && st.st_size == 8192 && st.st_blocks >= 16, "size %ld blocks %ld",
        (long)st.st_size, (long)st.st_blocks);
  char z[16];
  CHECK(pread(fd, z, 16, 100) == 16 && z[0] == 0 && z[15] == 0, "reads zeros");
  CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192) == 0 && fstat(fd, &st) == 0 && st.st_size == 8192,
        "KEEP_SIZE keeps %ld", (long)st.st_size);
  CHECK(fallocate(fd, 0, 100, 10) == 0 && fstat(fd, &st) == 0 && st.st_size == 8192, "inside: no change");
  /* Punching a hole: zeros inside, bytes around it kept, size unchanged. */
  static char ones[8192];
  memset(ones, 1, sizeof(ones));
  CHECK(pwrite(fd, ones, sizeof(ones), 0) == (ssize_t)sizeof(ones), "fill");
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1000, 5000) == 0, "punch");
  static char back[8192];
  CHECK(pread(fd, back, sizeof(back), 0) == (ssize_t)sizeof(back), "read");
  int ok = 1;
  for (int i = 0; i < 8192; ++i) ok &= back[i] == ((i >= 1000 && i < 6000) ? 0 : 1);
  CHECK(ok, "hole contents");
  CHECK(fstat(fd, &st) == 0 && st.st_size == 8192, "size kept");
  /* Punching a mapped file: the mapping reads the hole as zeros too. */
  CHECK(pwrite(fd, ones, sizeof(ones), 0) == (ssize_t)sizeof(ones), "refill");
  unsigned char* m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED && m[5000] == 1, "mapped");
  if (m != MAP_FAILED) {
    CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096) == 0, "punch mapped");
    CHECK(m[4095] == 1 && m[4096] == 0 && m[8191] == 0, "map sees the hole");
    munmap(m, 8192);
  }
  /* fallocate(2): PUNCH_HOLE needs KEEP_SIZE (EOPNOTSUPP); len <= 0 or a
   * negative offset EINVAL; a read-only descriptor EBADF; a pipe ESPIPE. */
  EXPECT_ERR(EOPNOTSUPP, fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10));
  EXPECT_ERR(EINVAL, fallocate(fd, 0, 0, 0));
  EXPECT_ERR(EINVAL, fallocate(fd, 0, -1, 10));
  EXPECT_ERR(EFBIG, fallocate(fd, 0, 0x7fffffffffffff00L, 0x1000));
  int ro = open("falloc", O_RDONLY);
  EXPECT_ERR(EBADF, fallocate(ro, 0, 0, 10));
  close(ro);
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_ERR(ESPIPE, fallocate(p[1], 0, 0, 10));
  /* The advice and sync calls: accepted on files, checked. */
  sync();
  CHECK(syncfs(fd) == 0 && fsync(fd) == 0 && fdatasync(fd) == 0, "syncs");
  EXPECT_ERR(EBADF, syncfs(-1));
  CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0, "fadvise");
  CHECK(posix_fadvise(fd, 0, 0, 99) == EINVAL, "bad advice");
  CHECK(posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL) == ESPIPE, "fadvise on a pipe");
  CHECK(readahead(fd, 0, 4096) == 0, "readahead");
  CHECK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0, "sync_file_range");
  EXPECT_ERR(EINVAL, sync_file_range(fd, 0, 0, 8));
  EXPECT_ERR(EINVAL, sync_file_range(fd, -1, 0, 0));
  EXPECT_ERR(ESPIPE, sync_file_range(p[1], 0, 0, 0));
  EXPECT_ERR(EBADF, sync_file_range(-1, 0, 0, 0));
  EXPECT_ERR(EINVAL, readahead(p[0], 0, 10));
  close(p[0]);
  close(p[1]);
  close(fd);
}

/* --- close_range ---------------------------------------------------------- */

static void test_close_range(void) {
  int a = open(".", O_RDONLY), b = dup(a), c = dup(a);
  CHECK(a >= 0 && b == a + 1 && c == a + 2, "three descriptors");
  CHECK(syscall(SYS_close_range, b, c, 4 /* CLOSE_RANGE_CLOEXEC */) == 0, "cloexec");
  CHECK(fcntl(b, F_GETFD) == FD_CLOEXEC && fcntl(c, F_GETFD) == FD_CLOEXEC && fcntl(a, F_GETFD) == 0,
        "marked");
  CHECK(syscall(SYS_close_range, b, ~0u, 0) == 0, "close b..");
  EXPECT_ERR(EBADF, fcntl(b, F_GETFD));
  EXPECT_ERR(EBADF, fcntl(c, F_GETFD));
  CHECK(fcntl(a, F_GETFD) == 0, "a open");
  EXPECT_ERR(EINVAL, syscall(SYS_close_range, 5, 4, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_close_range, 0, 4, 0x100));
  close(a);
}

int main(void) {
  enter_temp_dir();
  test_appends();
  test_rename_over_open();
  test_vectored();
  test_seek_ioctl();
  test_fallocate();
  test_close_range();
  return finish("io");
}
