/* O_PATH descriptors (issue 18): they name a file without opening it for
 * I/O. Linux allows fstat, fstatat(AT_EMPTY_PATH), fstatfs, fchdir, close,
 * dup/dup2/dup3, fcntl F_DUPFD/F_GETFD/F_SETFD/F_GETFL, use as the dirfd of
 * the *at() calls, readlinkat(fd, "") on a symlink opened
 * O_PATH|O_NOFOLLOW, linkat(fd, "", AT_EMPTY_PATH) (with
 * CAP_DAC_READ_SEARCH), reopening through /proc/self/fd; everything that
 * touches the open file is EBADF: read, write, pread, readv, lseek, fsync,
 * ftruncate, fchmod, fchown, ioctl, mmap, f*xattr, flock, fcntl locks and
 * F_SETFL, getdents, fallocate, fadvise, sendfile, epoll_ctl; poll reports
 * POLLNVAL. */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>

#ifndef O_PATH
#define O_PATH 010000000
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

static char g_dir[64];

static void path_of(char* out, const char* name) { snprintf(out, 128, "%s/%s", g_dir, name); }

static void test_file(void) {
  char file[128];
  path_of(file, "file");
  int w = open(file, O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK(w >= 0, "create");
  CHECK(write(w, "hello", 5) == 5, "write");
  close(w);
  /* O_CREAT and O_TRUNC are ignored with O_PATH (only CLOEXEC, DIRECTORY,
   * NOFOLLOW count): the file stays as it is. */
  int fd = open(file, O_PATH | O_RDWR | O_TRUNC);
  CHECK(fd >= 0, "open O_PATH");
  if (fd < 0) return;
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 5, "fstat: size %ld", (long)st.st_size);
  CHECK(syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH) == 0 && st.st_size == 5, "fstatat AT_EMPTY_PATH");
  struct statfs sf;
  CHECK(fstatfs(fd, &sf) == 0, "fstatfs");
  int flags = fcntl(fd, F_GETFL);
  CHECK(flags >= 0 && (flags & O_PATH) && (flags & 3) == O_RDONLY, "F_GETFL = %#o", flags);
  CHECK(fcntl(fd, F_GETFD) == 0, "F_GETFD");
  CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC, "F_SETFD");
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  CHECK(d >= 10, "F_DUPFD_CLOEXEC");
  if (d >= 0) close(d);
  d = dup(fd);
  CHECK(d >= 0 && (fcntl(d, F_GETFL) & O_PATH), "dup keeps O_PATH");
  CHECK(dup2(fd, d) == d && dup3(fd, d, O_CLOEXEC) == d, "dup2, dup3");
  CHECK(close(d) == 0, "close");

  char buf[16];
  struct iovec iov = {buf, sizeof buf};
  EXPECT_ERR(EBADF, read(fd, buf, sizeof buf));
  EXPECT_ERR(EBADF, write(fd, "x", 1));
  EXPECT_ERR(EBADF, pread(fd, buf, 1, 0));
  EXPECT_ERR(EBADF, pwrite(fd, "x", 1, 0));
  EXPECT_ERR(EBADF, readv(fd, &iov, 1));
  EXPECT_ERR(EBADF, writev(fd, &iov, 1));
  EXPECT_ERR(EBADF, lseek(fd, 0, SEEK_SET));
  EXPECT_ERR(EBADF, fsync(fd));
  EXPECT_ERR(EBADF, fdatasync(fd));
  EXPECT_ERR(EBADF, ftruncate(fd, 0));
  /* (raw: musl's fchmod and fchown retry through /proc/self/fd on EBADF) */
  EXPECT_ERR(EBADF, syscall(SYS_fchmod, fd, 0600));
  EXPECT_ERR(EBADF, syscall(SYS_fchown, fd, 0, 0));
  int n;
  EXPECT_ERR(EBADF, ioctl(fd, FIONREAD, &n));
  EXPECT_ERR(EBADF, syscall(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, fd, 0));
  EXPECT_ERR(EBADF, syscall(SYS_fsetxattr, fd, "user.x", "v", 1, 0));
  EXPECT_ERR(EBADF, syscall(SYS_fremovexattr, fd, "user.x"));
  EXPECT_ERR(EBADF, syscall(SYS_fgetxattr, fd, "user.x", buf, sizeof buf));
  EXPECT_ERR(EBADF, syscall(SYS_flistxattr, fd, buf, sizeof buf));
  /* The path-based forms take it with AT_EMPTY_PATH. */
  CHECK(syscall(SYS_fchownat, fd, "", getuid(), getgid(), AT_EMPTY_PATH) == 0, "fchownat(fd, \"\", AT_EMPTY_PATH)");
  EXPECT_ERR(EBADF, flock(fd, LOCK_SH));
  struct flock lk = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
  EXPECT_ERR(EBADF, fcntl(fd, F_GETLK, &lk));
  EXPECT_ERR(EBADF, fcntl(fd, F_SETLK, &lk));
  EXPECT_ERR(EBADF, fcntl(fd, F_SETFL, O_NONBLOCK));
  EXPECT_ERR(EBADF, syscall(SYS_fallocate, fd, 0, 0, 4096));
  EXPECT_ERR(EBADF, syscall(SYS_fadvise64, fd, 0, 0, 0));
  EXPECT_ERR(EBADF, syscall(SYS_sendfile, 1, fd, NULL, 1));
  EXPECT_ERR(EBADF, syscall(SYS_utimensat, fd, NULL, NULL, 0));
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN};
  EXPECT_ERR(EBADF, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
  close(ep);
  struct pollfd pfd = {fd, POLLIN, 0};
  CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLNVAL, "poll: revents %#x (POLLNVAL)", pfd.revents);
  /* The file was not changed by any of it. */
  CHECK(stat(file, &st) == 0 && st.st_size == 5 && (st.st_mode & 0777) == 0644, "unchanged: %ld %o",
        (long)st.st_size, st.st_mode & 0777);

  /* Reopening through /proc/self/fd gives a real descriptor. */
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  int r = open(proc, O_RDONLY);
  CHECK(r >= 0 && read(r, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "reopen via /proc/self/fd");
  if (r >= 0) close(r);
  char link[256] = {0};
  CHECK(readlink(proc, link, sizeof link - 1) > 0 && strcmp(link, file) == 0, "/proc/self/fd link: %s", link);

  /* linkat(fd, "", AT_EMPTY_PATH): needs CAP_DAC_READ_SEARCH (else ENOENT). */
  char other[128];
  path_of(other, "hardlink");
  long lr = syscall(SYS_linkat, fd, "", AT_FDCWD, other, AT_EMPTY_PATH);
  if (geteuid() == 0) {
    CHECK(lr == 0, "linkat AT_EMPTY_PATH as root: errno %d", errno);
    CHECK(stat(other, &st) == 0 && st.st_nlink == 2, "the new link");
    unlink(other);
  } else {
    CHECK(lr == -1 && errno == ENOENT, "linkat AT_EMPTY_PATH without the capability: errno %d", errno);
  }
  EXPECT_ERR(ENOTDIR, syscall(SYS_openat, fd, "x", O_RDONLY));  /* not a directory */
  EXPECT_ERR(ENOENT, syscall(SYS_newfstatat, fd, "", &st, 0));   /* no AT_EMPTY_PATH */
  close(fd);
  EXPECT_ERR(EBADF, fstat(fd, &st));
  /* O_PATH|O_CREAT of a missing file: O_CREAT is ignored. */
  char missing[128];
  path_of(missing, "missing");
  EXPECT_ERR(ENOENT, open(missing, O_PATH | O_CREAT, 0644));
}

static void test_dir(void) {
  int dfd = open(g_dir, O_PATH | O_DIRECTORY);
  CHECK(dfd >= 0, "O_PATH|O_DIRECTORY");
  if (dfd < 0) return;
  /* As a dirfd: every *at() call works. */
  int f = openat(dfd, "file", O_RDONLY);
  CHECK(f >= 0, "openat(O_PATH dir)");
  if (f >= 0) close(f);
  CHECK(mkdirat(dfd, "sub", 0755) == 0, "mkdirat");
  struct stat st;
  CHECK(fstatat(dfd, "sub", &st, 0) == 0 && S_ISDIR(st.st_mode), "fstatat");
  CHECK(symlinkat("file", dfd, "sym") == 0, "symlinkat");
  CHECK(unlinkat(dfd, "sub", AT_REMOVEDIR) == 0, "unlinkat");
  CHECK(faccessat(dfd, "file", R_OK, 0) == 0, "faccessat");
  char buf[64];
  EXPECT_ERR(EBADF, syscall(SYS_getdents64, dfd, buf, sizeof buf));
  /* fchdir works. */
  int cwd = open(".", O_PATH | O_DIRECTORY);
  CHECK(fchdir(dfd) == 0, "fchdir(O_PATH dir)");
  CHECK(access("file", F_OK) == 0, "relative lookup after fchdir");
  CHECK(fchdir(cwd) == 0, "fchdir back (O_PATH)");
  close(cwd);
  /* A symlink opened O_PATH|O_NOFOLLOW: the link itself. */
  int lfd = openat(dfd, "sym", O_PATH | O_NOFOLLOW);
  CHECK(lfd >= 0, "O_PATH|O_NOFOLLOW on a symlink");
  if (lfd >= 0) {
    CHECK(fstat(lfd, &st) == 0 && S_ISLNK(st.st_mode), "fstat says symlink: %o", st.st_mode);
    memset(buf, 0, sizeof buf);
    CHECK(readlinkat(lfd, "", buf, sizeof buf) == 4 && memcmp(buf, "file", 4) == 0, "readlinkat(fd, \"\"): %s",
          buf);
    EXPECT_ERR(EBADF, read(lfd, buf, 1));
    close(lfd);
  }
  /* Without O_NOFOLLOW the link is followed. */
  lfd = openat(dfd, "sym", O_PATH);
  CHECK(lfd >= 0 && fstat(lfd, &st) == 0 && S_ISREG(st.st_mode), "O_PATH follows a symlink");
  if (lfd >= 0) {
    EXPECT_ERR(ENOENT, readlinkat(lfd, "", buf, sizeof buf));  /* not a link */
    close(lfd);
  }
  /* O_NOFOLLOW without O_PATH on a symlink is ELOOP. */
  EXPECT_ERR(ELOOP, openat(dfd, "sym", O_RDONLY | O_NOFOLLOW));
  unlinkat(dfd, "sym", 0);
  close(dfd);
}

int main(void) {
  mkdir("/tmp", 01777);  /* a VM may have no /tmp yet */
  snprintf(g_dir, sizeof g_dir, "/tmp/abi_opath.%d", getpid());
  CHECK(mkdir(g_dir, 0755) == 0, "mkdir %s", g_dir);
  test_file();
  test_dir();
  char file[128];
  path_of(file, "file");
  unlink(file);
  rmdir(g_dir);
  return finish("abi_opath");
}
