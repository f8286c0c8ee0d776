/* openat2(2) with struct open_how and RESOLVE_*, O_TMPFILE with
 * linkat(AT_EMPTY_PATH) giving the file a name, and renameat/linkat with a
 * directory descriptor on each side. */
#include "check.h"

#include <stdint.h>

struct xopen_how {
  uint64_t flags, mode, resolve;
};
#define X_RESOLVE_NO_XDEV 0x01
#define X_RESOLVE_NO_MAGICLINKS 0x02
#define X_RESOLVE_NO_SYMLINKS 0x04
#define X_RESOLVE_BENEATH 0x08
#define X_RESOLVE_IN_ROOT 0x10
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

static long openat2_(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct xopen_how how = {flags, mode, resolve};
  return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

static void make(const char* path, const char* data) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  CHECK(fd >= 0 && write(fd, data, strlen(data)) == (ssize_t)strlen(data), "make %s", path);
  close(fd);
}

static void test_openat2(void) {
  CHECK(mkdir("root", 0755) == 0 && mkdir("root/sub", 0755) == 0, "dirs");
  make("root/inner", "inner");
  make("outer", "outer");
  CHECK(symlink("inner", "root/rel.link") == 0, "relative link");
  CHECK(symlink("/", "root/abs.link") == 0, "absolute link");
  CHECK(symlink("../outer", "root/up.link") == 0, "escaping link");
  int root = open("root", O_RDONLY | O_DIRECTORY);
  CHECK(root >= 0, "open root");

  long fd = openat2_(root, "inner", O_RDONLY, 0, 0);
  char buf[16] = {0};
  CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 5 && memcmp(buf, "inner", 5) == 0, "plain openat2");
  close(fd);
  fd = openat2_(root, "new", O_CREAT | O_WRONLY, 0600, 0);
  struct stat st;
  CHECK(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600, "create with mode");
  close(fd);

  /* RESOLVE_NO_SYMLINKS: any symlink is ELOOP. */
  EXPECT_ERR(ELOOP, openat2_(root, "rel.link", O_RDONLY, 0, X_RESOLVE_NO_SYMLINKS));
  fd = openat2_(root, "rel.link", O_RDONLY, 0, 0);
  CHECK(fd >= 0, "without the flag it follows");
  close(fd);
  /* RESOLVE_BENEATH: no absolute paths, no "..", no link leaving dirfd
   * (EXDEV); staying inside is fine. */
  EXPECT_ERR(EXDEV, openat2_(root, "../outer", O_RDONLY, 0, X_RESOLVE_BENEATH));
  EXPECT_ERR(EXDEV, openat2_(root, "/", O_RDONLY, 0, X_RESOLVE_BENEATH));
  EXPECT_ERR(EXDEV, openat2_(root, "abs.link", O_RDONLY, 0, X_RESOLVE_BENEATH));
  EXPECT_ERR(EXDEV, openat2_(root, "up.link", O_RDONLY, 0, X_RESOLVE_BENEATH));
  fd = openat2_(root, "sub/../inner", O_RDONLY, 0, X_RESOLVE_BENEATH);
  CHECK(fd >= 0, "sub/.. stays beneath");
  close(fd);
  fd = openat2_(root, "rel.link", O_RDONLY, 0, X_RESOLVE_BENEATH);
  CHECK(fd >= 0, "a link inside is fine");
  close(fd);
  /* RESOLVE_IN_ROOT: dirfd is "/": absolute paths and ".." stay inside. */
  fd = openat2_(root, "/inner", O_RDONLY, 0, X_RESOLVE_IN_ROOT);
  memset(buf, 0, sizeof(buf));
  CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 5 && memcmp(buf, "inner", 5) == 0, "/inner in root");
  close(fd);
  fd = openat2_(root, "../../../inner", O_RDONLY, 0, X_RESOLVE_IN_ROOT);
  CHECK(fd >= 0, ".. stops at the root");
  close(fd);
  EXPECT_ERR(ENOENT, openat2_(root, "up.link", O_RDONLY, 0, X_RESOLVE_IN_ROOT));
  fd = openat2_(root, "sub", O_RDONLY | O_DIRECTORY, 0, X_RESOLVE_NO_XDEV | X_RESOLVE_NO_MAGICLINKS);
  CHECK(fd >= 0, "NO_XDEV inside one file system");
  close(fd);

  /* openat2(2)'s errors: size below version 0 EINVAL, above a page E2BIG,
   * non-zero bytes past the known structure E2BIG; unknown flags or
   * resolve bits, a mode without O_CREAT, bits outside 07777, BENEATH with
   * IN_ROOT: EINVAL; a bad pointer EFAULT. */
  struct {
    struct xopen_how how;
    uint64_t extra;
  } big = {{O_RDONLY, 0, 0}, 0};
  CHECK((fd = syscall(SYS_openat2, root, "inner", &big, sizeof(big))) >= 0, "larger, zero tail");
  close(fd);
  big.extra = 1;
  EXPECT_ERR(E2BIG, syscall(SYS_openat2, root, "inner", &big, sizeof(big)));
  EXPECT_ERR(EINVAL, syscall(SYS_openat2, root, "inner", &big, 16));
  EXPECT_ERR(E2BIG, syscall(SYS_openat2, root, "inner", &big, 8192));
  EXPECT_ERR(EINVAL, openat2_(root, "inner", (uint64_t)1 << 40, 0, 0));
  EXPECT_ERR(EINVAL, openat2_(root, "inner", O_RDONLY, 0, 0x1000));
  EXPECT_ERR(EINVAL, openat2_(root, "inner", O_RDONLY, 0644, 0));
  EXPECT_ERR(EINVAL, openat2_(root, "x", O_CREAT | O_WRONLY, 010000, 0));
  EXPECT_ERR(EINVAL, openat2_(root, "inner", O_RDONLY, 0, X_RESOLVE_BENEATH | X_RESOLVE_IN_ROOT));
  EXPECT_ERR(EFAULT, syscall(SYS_openat2, root, "inner", g_bad, 24));
  EXPECT_ERR(EFAULT, openat2_(root, g_bad, O_RDONLY, 0, 0));
  close(root);
}

static void test_tmpfile(void) {
  int fd = open(".", O_TMPFILE | O_RDWR, 0600);
  CHECK(fd >= 0, "O_TMPFILE");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 0 && (st.st_mode & 0777) == 0600,
        "unnamed regular file, nlink %ld", (long)st.st_nlink);
  CHECK(write(fd, "tmpdata", 7) == 7, "write");
  /* linkat(AT_EMPTY_PATH) names it. */
  CHECK(linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH) == 0, "linkat");
  CHECK(stat("named", &st) == 0 && st.st_nlink == 1 && st.st_size == 7, "named, nlink 1");
  int again = open("named", O_RDONLY);
  char buf[8] = {0};
  CHECK(read(again, buf, 7) == 7 && memcmp(buf, "tmpdata", 7) == 0, "contents");
  close(again);
  close(fd);
  /* O_EXCL: never linkable (ENOENT). */
  fd = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
  CHECK(fd >= 0, "O_TMPFILE|O_EXCL");
  EXPECT_ERR(ENOENT, linkat(fd, "", AT_FDCWD, "named2", AT_EMPTY_PATH));
  close(fd);
  /* open(2): O_TMPFILE read-only EINVAL, with O_CREAT EINVAL; on a file
   * ENOTDIR. An unlinked regular file cannot be linked back (ENOENT). */
  EXPECT_ERR(EINVAL, open(".", O_TMPFILE | O_RDONLY, 0600));
  EXPECT_ERR(EINVAL, open(".", O_TMPFILE | O_RDWR | O_CREAT, 0600));
  EXPECT_ERR(ENOTDIR, open("named", O_TMPFILE | O_RDWR, 0600));
  fd = open("gone", O_CREAT | O_RDWR, 0644);
  CHECK(unlink("gone") == 0, "unlink");
  EXPECT_ERR(ENOENT, linkat(fd, "", AT_FDCWD, "back", AT_EMPTY_PATH));
  close(fd);
}

/* Each side of renameat2/linkat walks from its own dirfd. */
static void test_two_dirfds(void) {
  CHECK(mkdir("left", 0755) == 0 && mkdir("right", 0755) == 0, "dirs");
  make("left/f", "two");
  int l = open("left", O_RDONLY | O_DIRECTORY), r = open("right", O_RDONLY | O_DIRECTORY);
  CHECK(l >= 0 && r >= 0, "dirfds");
  CHECK(linkat(l, "f", r, "g", 0) == 0, "linkat across dirfds");
  struct stat st;
  CHECK(stat("right/g", &st) == 0 && st.st_nlink == 2 && st.st_size == 3, "linked, nlink 2");
  CHECK(renameat(r, "g", l, "h") == 0, "renameat across dirfds");
  CHECK(stat("left/h", &st) == 0 && st.st_nlink == 2, "renamed");
  EXPECT_ERR(ENOENT, stat("right/g", &st));
  EXPECT_ERR(EEXIST, linkat(l, "f", l, "h", 0));
  EXPECT_ERR(ENOENT, renameat(r, "missing", l, "x"));
  close(l);
  close(r);
}

int main(void) {
  enter_temp_dir();
  test_openat2();
  test_tmpfile();
  test_two_dirfds();
  return finish("paths");
}
