/* Transfers with a buffer whose end is unmapped (read(2), write(2)): the
 * bytes before the fault are transferred and counted; EFAULT only when
 * none could be. Files (a memfd: tmpfs on Linux), readv/pread/preadv,
 * pipes (nothing lost: what was not copied stays in the pipe). The
 * boundary is a page boundary of the data too: Linux's pipes count whole
 * pages there (a fault inside a pipe page is EFAULT on Linux, a short
 * count here), so only such layouts give one answer everywhere. */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>

#define PG 4096

/* Two pages, the second unmapped: [p, p + PG) is the good part. */
static char* half_mapped(void) {
  char* p = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap");
  CHECK(munmap(p + PG, PG) == 0, "munmap");
  return p;
}

static long fionread(int fd) {
  int n = -1;
  ioctl(fd, FIONREAD, &n);
  return n;
}

static int pattern_ok(const char* p, size_t n, size_t from) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != (char)((from + i) * 13)) return 0;
  return 1;
}

static void test_file(void) {
  static char data[3 * PG];
  for (size_t i = 0; i < sizeof data; ++i) data[i] = (char)(i * 13);
  int fd = (int)syscall(SYS_memfd_create, "partial", 0);
  CHECK(fd >= 0, "memfd");
  CHECK(write(fd, data, sizeof data) == sizeof data, "data");
  char* p = half_mapped();
  /* read: a page, and the offset moves by a page. */
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "seek");
  ssize_t r = read(fd, p, 2 * PG);
  CHECK(r == PG, "read into a half-mapped buffer = %zd (errno %d)", r, errno);
  CHECK(pattern_ok(p, PG, 0), "the bytes read");
  CHECK(lseek(fd, 0, SEEK_CUR) == PG, "offset after a partial read = %ld", (long)lseek(fd, 0, SEEK_CUR));
  /* A buffer starting in the bad page: EFAULT, the offset stays. */
  EXPECT_ERR(EFAULT, read(fd, p + PG, 10));
  CHECK(lseek(fd, 0, SEEK_CUR) == PG, "offset after EFAULT");
  /* The last 100 bytes of the good page, from a file offset that is not
   * page aligned: files copy exactly up to the fault. */
  r = pread(fd, p + PG - 100, 1000, 50);
  CHECK(r == 100 && pattern_ok(p + PG - 100, 100, 50), "pread with 100 good bytes = %zd", r);
  EXPECT_ERR(EFAULT, pread(fd, p + PG, 10, 0));
  /* readv: the first piece whole, the second faults at once. */
  struct iovec v[2] = {{p, 100}, {p + PG, 100}};
  r = preadv(fd, v, 2, 0);
  CHECK(r == 100, "preadv with a bad second piece = %zd", r);
  v[0].iov_base = p + PG - 10, v[0].iov_len = 100;
  r = preadv(fd, v, 2, 0);
  CHECK(r == 10, "preadv with a partly bad first piece = %zd", r);
  /* write: what could be copied goes in. */
  memcpy(p, data, PG);
  int out = (int)syscall(SYS_memfd_create, "partial-out", 0);
  r = write(out, p, 2 * PG);
  CHECK(r == PG, "write from a half-mapped buffer = %zd (errno %d)", r, errno);
  CHECK(lseek(out, 0, SEEK_END) == PG, "file size after a partial write");
  EXPECT_ERR(EFAULT, write(out, p + PG, 10));
  r = pwrite(out, p + PG - 100, 1000, 0);
  CHECK(r == 100, "pwrite with 100 good bytes = %zd", r);
  close(out);
  close(fd);
  munmap(p, PG);
}

static void test_pipe(void) {
  static char data[2 * PG];
  for (size_t i = 0; i < sizeof data; ++i) data[i] = (char)(i * 13);
  int fds[2];
  EXPECT_OK(pipe(fds));
  char* p = half_mapped();
  CHECK(write(fds[1], data, 2 * PG) == 2 * PG, "fill");
  ssize_t r = read(fds[0], p, 2 * PG);
  CHECK(r == PG && pattern_ok(p, PG, 0), "pipe read into a half-mapped buffer = %zd", r);
  CHECK(fionread(fds[0]) == PG, "the rest stays in the pipe: %ld", fionread(fds[0]));
  EXPECT_ERR(EFAULT, read(fds[0], p + PG, 10));
  CHECK(fionread(fds[0]) == PG, "nothing taken by EFAULT: %ld", fionread(fds[0]));
  /* Fault inside the data: a short count (here) or EFAULT (Linux, which
   * keeps a partly copied page) — never a loss. */
  r = read(fds[0], p + PG - 100, 1000);
  CHECK((r == 100 || (r == -1 && errno == EFAULT)) && fionread(fds[0]) == PG - (r > 0 ? r : 0),
        "read with 100 good bytes = %zd, %ld left", r, fionread(fds[0]));
  static char rest[PG];
  size_t left = (size_t)fionread(fds[0]);
  CHECK(read(fds[0], rest, sizeof rest) == (ssize_t)left && pattern_ok(rest, left, 2 * PG - left), "the rest intact");
  /* readv out of a pipe: the good piece, the bad one stops it (Linux:
   * EFAULT, the 200 bytes being one pipe page) — never a loss. */
  CHECK(write(fds[1], data, 200) == 200, "more");
  struct iovec v[2] = {{p, 100}, {p + PG, 100}};
  r = readv(fds[0], v, 2);
  CHECK((r == 100 || (r == -1 && errno == EFAULT)) && fionread(fds[0]) == 200 - (r > 0 ? r : 0),
        "readv with a bad second piece = %zd, %ld left", r, fionread(fds[0]));
  left = (size_t)fionread(fds[0]);
  CHECK(read(fds[0], rest, left) == (ssize_t)left && pattern_ok(rest, left, 200 - left), "the rest intact");
  /* write from a half-mapped buffer: a page goes in. */
  memcpy(p, data, PG);
  r = write(fds[1], p, 2 * PG);
  CHECK(r == PG, "pipe write from a half-mapped buffer = %zd (errno %d)", r, errno);
  CHECK(fionread(fds[0]) == PG, "a page in the pipe: %ld", fionread(fds[0]));
  EXPECT_ERR(EFAULT, write(fds[1], p + PG, 10));
  CHECK(fionread(fds[0]) == PG, "EFAULT wrote nothing: %ld", fionread(fds[0]));
  close(fds[0]);
  close(fds[1]);
  munmap(p, PG);
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  test_file();
  test_pipe();
  return finish("abi_partial");
}
