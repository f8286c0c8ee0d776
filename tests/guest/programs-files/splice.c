/* sendfile, copy_file_range, splice, tee and vmsplice: results, offset
 * semantics (pointer given: it moves, the descriptor's offset does not;
 * null: the descriptor's offset moves) and errors. */
#include "check.h"

#include <sys/sendfile.h>
#include <sys/uio.h>

static int make_file(const char* name, const char* data, size_t n) {
  int fd = open(name, O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK(fd >= 0 && write(fd, data, n) == (ssize_t)n, "make %s", name);
  return fd;
}

static const char kText[] = "0123456789abcdefghijklmnopqrstuvwxyz";  /* 36 bytes */

static void test_sendfile(void) {
  int in = make_file("sf.in", kText, 36);
  int out = open("sf.out", O_CREAT | O_RDWR | O_TRUNC, 0644);
  /* With an offset pointer: it moves, in's offset stays at 36. */
  off_t off = 10;
  CHECK(sendfile(out, in, &off, 5) == 5, "sendfile 5");
  CHECK(off == 15, "offset now %ld", (long)off);
  CHECK(lseek(in, 0, SEEK_CUR) == 36, "in offset untouched");
  CHECK(lseek(out, 0, SEEK_CUR) == 5, "out offset moved");
  /* Null pointer: in's own offset is used and moves. */
  CHECK(lseek(in, 30, SEEK_SET) == 30, "seek");
  CHECK(sendfile(out, in, NULL, 100) == 6, "to the end: 6");
  CHECK(lseek(in, 0, SEEK_CUR) == 36, "in offset moved");
  CHECK(sendfile(out, in, NULL, 100) == 0, "at EOF: 0");
  char buf[64] = {0};
  CHECK(pread(out, buf, sizeof(buf), 0) == 11 && memcmp(buf, "abcdeuvwxyz", 11) == 0, "out: %s", buf);
  /* To a pipe. */
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  off = 0;
  CHECK(sendfile(p[1], in, &off, 10) == 10 && off == 10, "to a pipe");
  memset(buf, 0, sizeof(buf));
  CHECK(read(p[0], buf, sizeof(buf)) == 10 && memcmp(buf, "0123456789", 10) == 0, "pipe got it");
  /* sendfile(2): EBADF for a write-only in or read-only out, EINVAL for an
   * O_APPEND destination, ESPIPE for an offset on a pipe, EFAULT for a
   * bad offset pointer, EINVAL for a negative offset. */
  int wo = open("sf.in", O_WRONLY);
  EXPECT_ERR(EBADF, sendfile(out, wo, NULL, 1));
  close(wo);
  int ro = open("sf.out", O_RDONLY);
  EXPECT_ERR(EBADF, sendfile(ro, in, &off, 1));
  close(ro);
  int ap = open("sf.out", O_WRONLY | O_APPEND);
  off = 0;
  EXPECT_ERR(EINVAL, sendfile(ap, in, &off, 1));
  close(ap);
  off = 0;
  EXPECT_ERR(ESPIPE, sendfile(out, p[0], &off, 1));
  EXPECT_ERR(EFAULT, sendfile(out, in, (off_t*)g_bad, 1));
  off = -1;
  EXPECT_ERR(EINVAL, sendfile(out, in, &off, 1));
  close(p[0]);
  close(p[1]);
  close(in);
  close(out);
}

static void test_copy_file_range(void) {
  int in = make_file("cfr.in", kText, 36);
  int out = open("cfr.out", O_CREAT | O_RDWR | O_TRUNC, 0644);
  loff_t oin = 26, oout = 4;
  CHECK(copy_file_range(in, &oin, out, &oout, 10, 0) == 10, "copy 10");
  CHECK(oin == 36 && oout == 14, "offsets %ld %ld", (long)oin, (long)oout);
  CHECK(lseek(in, 0, SEEK_CUR) == 36 && lseek(out, 0, SEEK_CUR) == 0, "descriptor offsets untouched");
  char buf[64] = {0};
  CHECK(pread(out, buf, sizeof(buf), 0) == 14 && memcmp(buf, "\0\0\0\0qrstuvwxyz", 14) == 0, "contents");
  CHECK(copy_file_range(in, &oin, out, &oout, 10, 0) == 0, "at EOF: 0");
  /* Null pointers: the descriptors' offsets. */
  CHECK(lseek(in, 0, SEEK_SET) == 0 && lseek(out, 0, SEEK_SET) == 0, "rewind");
  CHECK(copy_file_range(in, NULL, out, NULL, 3, 0) == 3, "copy 3");
  CHECK(lseek(in, 0, SEEK_CUR) == 3 && lseek(out, 0, SEEK_CUR) == 3, "both moved");
  /* copy_file_range(2): flags EINVAL; a pipe EINVAL; a directory EISDIR;
   * O_APPEND output EBADF; overlap in one file EINVAL; bad pointer EFAULT. */
  EXPECT_ERR(EINVAL, copy_file_range(in, NULL, out, NULL, 1, 1));
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_ERR(EINVAL, copy_file_range(in, NULL, p[1], NULL, 1, 0));
  close(p[0]);
  close(p[1]);
  int dir = open(".", O_RDONLY | O_DIRECTORY);
  EXPECT_ERR(EISDIR, copy_file_range(dir, NULL, out, NULL, 1, 0));
  close(dir);
  int ap = open("cfr.out", O_WRONLY | O_APPEND);
  EXPECT_ERR(EBADF, copy_file_range(in, NULL, ap, NULL, 1, 0));
  close(ap);
  int same = open("cfr.in", O_RDWR);
  loff_t a = 0, b = 5;
  EXPECT_ERR(EINVAL, copy_file_range(same, &a, same, &b, 10, 0));
  a = 0, b = 20;
  CHECK(copy_file_range(same, &a, same, &b, 10, 0) == 10, "same file, apart");
  close(same);
  EXPECT_ERR(EFAULT, copy_file_range(in, (loff_t*)g_bad, out, NULL, 1, 0));
  close(in);
  close(out);
}

static void test_splice_tee(void) {
  /* file -> pipe -> file round trip. */
  int in = make_file("sp.in", kText, 36);
  int out = open("sp.out", O_CREAT | O_RDWR | O_TRUNC, 0644);
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  loff_t off = 6;
  CHECK(splice(in, &off, p[1], NULL, 20, 0) == 20 && off == 26, "file -> pipe, off %ld", (long)off);
  CHECK(lseek(in, 0, SEEK_CUR) == 36, "in offset untouched");
  loff_t ooff = 0;
  CHECK(splice(p[0], NULL, out, &ooff, 8, 0) == 8 && ooff == 8, "pipe -> file 8");
  CHECK(splice(p[0], NULL, out, NULL, 100, 0) == 12, "pipe -> file, rest (12)");
  CHECK(lseek(out, 0, SEEK_CUR) == 12, "out offset moved by the null-pointer splice");
  char buf[64] = {0};
  CHECK(pread(out, buf, sizeof(buf), 0) == 12 && memcmp(buf, "efghijklmnop", 12) == 0,
        "round trip: %.12s", buf);
  /* Empty pipe with SPLICE_F_NONBLOCK: EAGAIN; no writers left: 0. */
  EXPECT_ERR(EAGAIN, splice(p[0], NULL, out, NULL, 10, SPLICE_F_NONBLOCK));
  /* tee: copies without consuming. */
  int q[2];
  CHECK(pipe(q) == 0, "pipe 2");
  CHECK(write(p[1], "teedata", 7) == 7, "fill");
  CHECK(tee(p[0], q[1], 100, 0) == 7, "tee");
  memset(buf, 0, sizeof(buf));
  CHECK(read(q[0], buf, sizeof(buf)) == 7 && memcmp(buf, "teedata", 7) == 0, "copy arrived");
  memset(buf, 0, sizeof(buf));
  CHECK(read(p[0], buf, sizeof(buf)) == 7 && memcmp(buf, "teedata", 7) == 0, "original still there");
  /* pipe -> pipe splice. */
  CHECK(write(p[1], "xyz", 3) == 3 && splice(p[0], NULL, q[1], NULL, 10, 0) == 3, "pipe -> pipe");
  CHECK(read(q[0], buf, 3) == 3 && memcmp(buf, "xyz", 3) == 0, "moved");
  /* vmsplice: user memory into the pipe. */
  struct iovec iv[2] = {{"vm", 2}, {"splice", 6}};
  CHECK(vmsplice(p[1], iv, 2, 0) == 8, "vmsplice");
  CHECK(read(p[0], buf, 8) == 8 && memcmp(buf, "vmsplice", 8) == 0, "vmsplice bytes");
  /* splice(2): no pipe EINVAL; an offset for a pipe ESPIPE; unknown flags
   * EINVAL; the same pipe in and out EINVAL; bad fds EBADF; bad offset
   * pointer EFAULT. tee(2): non-pipes EINVAL. */
  EXPECT_ERR(EINVAL, splice(in, NULL, out, NULL, 1, 0));
  loff_t z = 0;
  EXPECT_ERR(ESPIPE, splice(p[0], &z, out, NULL, 1, 0));
  EXPECT_ERR(EINVAL, splice(in, NULL, p[1], NULL, 1, 0x100));
  EXPECT_ERR(EINVAL, splice(p[0], NULL, p[1], NULL, 1, 0));
  EXPECT_ERR(EBADF, splice(-1, NULL, p[1], NULL, 1, 0));
  EXPECT_ERR(EFAULT, splice(in, (loff_t*)g_bad, p[1], NULL, 1, 0));
  EXPECT_ERR(EINVAL, tee(in, q[1], 1, 0));
  close(p[1]);
  CHECK(splice(p[0], NULL, out, NULL, 10, 0) == 0, "no writers: 0");
  close(p[0]);
  close(q[0]);
  close(q[1]);
  close(in);
  close(out);
}

int main(void) {
  enter_temp_dir();
  test_sendfile();
  test_copy_file_range();
  test_splice_tee();
  return finish("splice");
}
