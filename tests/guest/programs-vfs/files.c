/* File system calls over the VFS: files, directories, names, descriptors
 * and pipes. One "FAIL file:line: ..." line per failed check; "PASS files"
 * and exit 0 when all pass. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../include/guest_check.h"
static char* volatile g_bad = (char*)16; /* unmapped */

static void test_file_data(void) {
  int fd = open("/w/a.txt", O_CREAT | O_EXCL | O_RDWR, 0640);
  CHECK(fd >= 0, "create");
  CHECK(write(fd, "hello ", 6) == 6, "write");
  CHECK(write(fd, "world", 5) == 5, "write 2");
  char buf[64] = {0};
  CHECK(lseek(fd, 0, SEEK_CUR) == 11, "offset");
  CHECK(pread(fd, buf, sizeof(buf), 0) == 11 && memcmp(buf, "hello world", 11) == 0, "pread");
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind");
  memset(buf, 0, sizeof(buf));
  CHECK(read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "read");
  CHECK(lseek(fd, -5, SEEK_END) == 6, "seek end");
  CHECK(read(fd, buf, sizeof(buf)) == 5 && memcmp(buf, "world", 5) == 0, "read tail");
  CHECK(read(fd, buf, sizeof(buf)) == 0, "eof");
  EXPECT_ERR(EINVAL, lseek(fd, -100, SEEK_SET));
  CHECK(pwrite(fd, "W", 1, 6) == 1, "pwrite");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == 11 && S_ISREG(st.st_mode), "fstat size %ld", (long)st.st_size);
  CHECK((st.st_mode & 0777) == (0640 & ~022) || (st.st_mode & 0777) == 0640, "mode %o", st.st_mode & 0777);
  CHECK(ftruncate(fd, 3) == 0, "ftruncate");
  CHECK(fstat(fd, &st) == 0 && st.st_size == 3, "size after ftruncate %ld", (long)st.st_size);
  CHECK(ftruncate(fd, 8192) == 0, "ftruncate up");
  CHECK(pread(fd, buf, 4, 4000) == 4 && memcmp(buf, "\0\0\0\0", 4) == 0, "zeros after growing");
  CHECK(truncate("/w/a.txt", 5) == 0, "truncate");
  CHECK(stat("/w/a.txt", &st) == 0 && st.st_size == 5, "stat size %ld", (long)st.st_size);
  close(fd);

  /* O_APPEND */
  fd = open("/w/a.txt", O_WRONLY | O_APPEND);
  CHECK(fd >= 0, "open append");
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "seek");
  CHECK(write(fd, "XY", 2) == 2, "append write");
  CHECK(fstat(fd, &st) == 0 && st.st_size == 7, "size after append %ld", (long)st.st_size);
  CHECK((fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND)) == (O_WRONLY | O_APPEND), "F_GETFL %x", fcntl(fd, F_GETFL));
  EXPECT_ERR(EBADF, read(fd, buf, 1));
  close(fd);
  fd = open("/w/a.txt", O_RDONLY);
  memset(buf, 0, sizeof(buf));
  CHECK(read(fd, buf, sizeof(buf)) == 7 && memcmp(buf, "helXY", 3) == 0 && memcmp(buf + 5, "XY", 2) == 0, "appended");
  EXPECT_ERR(EBADF, write(fd, "x", 1));
  close(fd);

  /* O_TRUNC, O_EXCL, creat, readv/writev */
  EXPECT_ERR(EEXIST, open("/w/a.txt", O_CREAT | O_EXCL | O_WRONLY, 0600));
  fd = open("/w/a.txt", O_RDWR | O_TRUNC);
  CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "O_TRUNC");
  struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
  CHECK(writev(fd, iov, 3) == 5, "writev");
  char x[2], y[3];
  struct iovec riov[2] = {{x, 2}, {y, 3}};
  CHECK(lseek(fd, 0, SEEK_SET) == 0 && readv(fd, riov, 2) == 5 && memcmp(x, "ab", 2) == 0 && memcmp(y, "cde", 3) == 0,
        "readv");
  /* EFAULT for a bad buffer */
  EXPECT_ERR(EFAULT, write(fd, g_bad, 4));
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "seek");
  EXPECT_ERR(EFAULT, read(fd, g_bad, 4));
  close(fd);
  fd = creat("/w/c.txt", 0600);
  CHECK(fd >= 0 && write(fd, "c", 1) == 1, "creat");
  close(fd);
  EXPECT_ERR(ENOENT, open("/w/none", O_RDONLY));
  EXPECT_ERR(ENOTDIR, open("/w/a.txt/x", O_RDONLY));
  EXPECT_ERR(ENOTDIR, open("/w/a.txt", O_RDONLY | O_DIRECTORY));
  EXPECT_ERR(EISDIR, open("/w", O_WRONLY));
  EXPECT_ERR(EFAULT, open(g_bad, O_RDONLY));
}

static void test_names(void) {
  struct stat st;
  EXPECT_ERR(EEXIST, mkdir("/w", 0755));
  EXPECT_ERR(ENOENT, mkdir("/w/no/sub", 0755));
  EXPECT_ERR(ENOTDIR, mkdir("/w/a.txt/sub", 0755));
  CHECK(mkdir("/w/d", 0750) == 0, "mkdir");
  CHECK(stat("/w/d", &st) == 0 && S_ISDIR(st.st_mode), "dir stat");
  int fd = open("/w/d/f", O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0, "create in dir");
  close(fd);
  EXPECT_ERR(ENOTEMPTY, rmdir("/w/d"));
  EXPECT_ERR(ENOTDIR, rmdir("/w/a.txt"));
  EXPECT_ERR(EISDIR, unlink("/w/d"));
  EXPECT_ERR(ENOENT, unlink("/w/d/none"));
  CHECK(rename("/w/d/f", "/w/d/g") == 0, "rename");
  EXPECT_ERR(ENOENT, stat("/w/d/f", &st));
  CHECK(stat("/w/d/g", &st) == 0, "renamed exists");
  EXPECT_ERR(ENOENT, rename("/w/d/f", "/w/d/h"));
  EXPECT_ERR(EISDIR, rename("/w/a.txt", "/w/d"));
  EXPECT_ERR(ENOTDIR, rename("/w/d", "/w/a.txt"));
  CHECK(syscall(SYS_renameat2, AT_FDCWD, "/w/c.txt", AT_FDCWD, "/w/d/c.txt", 0) == 0, "renameat2");

  /* getdents64 */
  fd = open("/w/d", O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0, "open dir");
  char buf[1024];
  int seen_dot = 0, seen_g = 0, seen_c = 0, other = 0;
  long n;
  while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
    for (long off = 0; off < n;) {
      struct {
        uint64_t ino;
        int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[];
      }* d = (void*)(buf + off);
      if (!strcmp(d->name, ".") || !strcmp(d->name, "..")) seen_dot++;
      else if (!strcmp(d->name, "g")) seen_g += d->type == DT_REG;
      else if (!strcmp(d->name, "c.txt")) seen_c++;
      else other++;
      off += d->reclen;
    }
  }
  CHECK(n == 0 && seen_dot == 2 && seen_g == 1 && seen_c == 1 && other == 0, "getdents %d %d %d %d", seen_dot, seen_g,
        seen_c, other);
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind dir");
  EXPECT_ERR(EINVAL, syscall(SYS_getdents64, fd, buf, 8));
  EXPECT_ERR(EISDIR, read(fd, buf, 1));
  /* fchdir/getcwd/relative paths */
  CHECK(fchdir(fd) == 0, "fchdir");
  char cwd[256];
  CHECK(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, "/w/d"), "getcwd %s", cwd);
  CHECK(stat("g", &st) == 0, "relative stat");
  CHECK(chdir("..") == 0 && getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, "/w"), "chdir .. %s", cwd);
  CHECK(faccessat(fd, "g", R_OK, 0) == 0, "faccessat with dirfd");
  EXPECT_ERR(ENOTDIR, chdir("/w/a.txt"));
  CHECK(chdir("/") == 0, "chdir /");
  close(fd);
  CHECK(unlink("/w/d/g") == 0 && unlink("/w/d/c.txt") == 0, "unlink");
  CHECK(rmdir("/w/d") == 0, "rmdir");
  EXPECT_ERR(ENOENT, rmdir("/w/d"));

  /* symlinks and hard links */
  CHECK(symlink("a.txt", "/w/link") == 0, "symlink");
  char target[64] = {0};
  CHECK(readlink("/w/link", target, sizeof(target)) == 5 && !memcmp(target, "a.txt", 5), "readlink %s", target);
  CHECK(lstat("/w/link", &st) == 0 && S_ISLNK(st.st_mode), "lstat");
  CHECK(stat("/w/link", &st) == 0 && S_ISREG(st.st_mode), "stat follows");
  CHECK(fstatat(AT_FDCWD, "/w/link", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode), "fstatat nofollow");
  EXPECT_ERR(ELOOP, open("/w/link", O_RDONLY | O_NOFOLLOW));
  EXPECT_ERR(EINVAL, readlink("/w/a.txt", target, sizeof(target)));
  CHECK(link("/w/a.txt", "/w/hard") == 0, "link");
  CHECK(stat("/w/a.txt", &st) == 0 && st.st_nlink == 2, "nlink %ld", (long)st.st_nlink);
  CHECK(unlink("/w/hard") == 0 && unlink("/w/link") == 0, "unlink links");
  CHECK(readlink("/proc/self/exe", target, sizeof(target)) > 0, "/proc/self/exe");
  CHECK(access("/w/a.txt", R_OK | W_OK) == 0, "access");
  EXPECT_ERR(ENOENT, access("/w/none", F_OK));

  /* AT_EMPTY_PATH */
  fd = open("/w/a.txt", O_RDONLY);
  CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && S_ISREG(st.st_mode), "AT_EMPTY_PATH");
  close(fd);
}

static void test_fds(void) {
  int fd = open("/w/a.txt", O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC, "O_CLOEXEC");
  CHECK(fcntl(fd, F_SETFD, 0) == 0 && fcntl(fd, F_GETFD) == 0, "F_SETFD");
  int d = dup(fd);
  CHECK(d >= 0 && fcntl(d, F_GETFD) == 0, "dup");
  char c;
  CHECK(read(fd, &c, 1) == 1 && lseek(d, 0, SEEK_CUR) == 1, "dup shares the offset");
  int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
  CHECK(d2 >= 100 && fcntl(d2, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC %d", d2);
  CHECK(dup2(fd, 50) == 50 && lseek(50, 0, SEEK_CUR) == 1, "dup2");
  CHECK(dup3(fd, 51, O_CLOEXEC) == 51 && fcntl(51, F_GETFD) == FD_CLOEXEC, "dup3");
  EXPECT_ERR(EINVAL, dup3(fd, fd, 0));
  CHECK(dup2(fd, fd) == fd, "dup2 same");
  close(fd);
  CHECK(read(d, &c, 1) == 1, "dup survives close");
  EXPECT_ERR(EBADF, read(fd, &c, 1));
  EXPECT_ERR(EBADF, close(fd));
  close(d), close(d2), close(50), close(51);
  /* /dev/null */
  int null = open("/dev/null", O_RDWR);
  CHECK(null >= 0 && write(null, "xyz", 3) == 3 && read(null, &c, 1) == 0, "/dev/null");
  close(null);
  CHECK(fsync(1) == 0 || errno == EINVAL, "fsync");
}

/* RLIMIT_NOFILE is what the fd table enforces: raised, 3000 descriptors
 * open; lowered, no new one at or above it (the open ones stay). */
static void test_fd_limit(void) {
  struct rlimit old, rl;
  CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit");
  rl.rlim_cur = rl.rlim_max = 4096;
  CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "raise RLIMIT_NOFILE");
  static int fds[3000];
  int n = 0;
  while (n < 3000 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0) ++n;
  CHECK(n == 3000, "3000 descriptors under a 4096 limit: %d", n);
  rl.rlim_cur = 64;
  CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "lower RLIMIT_NOFILE");
  EXPECT_ERR(EMFILE, open("/dev/null", O_RDONLY));
  EXPECT_ERR(EMFILE, dup(0));
  char c;
  CHECK(read(fds[n - 1], &c, 1) == 0, "a descriptor above the new limit still works");
  for (int i = 0; i < n; ++i) close(fds[i]);
  int fd = open("/dev/null", O_RDONLY);
  CHECK(fd >= 0 && fd < 64, "below the limit again: %d", fd);
  close(fd);
  rl.rlim_cur = 65;
  rl.rlim_max = 64;
  EXPECT_ERR(EINVAL, setrlimit(RLIMIT_NOFILE, &rl));
  rl.rlim_cur = rl.rlim_max = (1u << 20) + 1;
  EXPECT_ERR(EPERM, setrlimit(RLIMIT_NOFILE, &rl));
  CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0, "restore");
}

static volatile sig_atomic_t g_sigpipe;
static void on_sigpipe(int sig) { g_sigpipe = 1; }

#define PIPE_BYTES (1 << 20)

static void* pipe_writer(void* arg) {
  int fd = *(int*)arg;
  unsigned char* buf = malloc(7919);
  size_t done = 0;
  while (done < PIPE_BYTES) {
    size_t n = PIPE_BYTES - done < 7919 ? PIPE_BYTES - done : 7919;
    for (size_t i = 0; i < n; ++i) buf[i] = (unsigned char)((done + i) * 31 + 7);
    ssize_t w = write(fd, buf, n);
    if (w <= 0) break;
    done += (size_t)w;
  }
  free(buf);
  close(fd);
  return (void*)done;
}

static void test_pipes(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pthread_t t;
  pthread_create(&t, NULL, pipe_writer, &p[1]);
  unsigned char* buf = malloc(5003);
  size_t got = 0, bad = 0;
  ssize_t n;
  while ((n = read(p[0], buf, 5003)) > 0) {
    for (ssize_t i = 0; i < n; ++i)
      if (buf[i] != (unsigned char)((got + i) * 31 + 7)) ++bad;
    got += (size_t)n;
  }
  void* wrote;
  pthread_join(t, &wrote);
  CHECK(n == 0 && got == PIPE_BYTES && bad == 0 && (size_t)wrote == PIPE_BYTES, "1 MiB through a pipe: got %zu bad %zu",
        got, bad);
  close(p[0]);
  free(buf);

  /* pipe2 flags, EAGAIN, EOF, EPIPE + SIGPIPE, ESPIPE */
  CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2");
  CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && (fcntl(p[0], F_GETFL) & O_NONBLOCK), "pipe2 flags");
  char c;
  EXPECT_ERR(EAGAIN, read(p[0], &c, 1));
  EXPECT_ERR(ESPIPE, lseek(p[0], 0, SEEK_SET));
  CHECK(write(p[1], "z", 1) == 1, "pipe write");
  close(p[1]);
  CHECK(read(p[0], &c, 1) == 1 && c == 'z', "pipe read");
  CHECK(read(p[0], &c, 1) == 0, "EOF after the writer closed");
  close(p[0]);
  CHECK(pipe(p) == 0, "pipe");
  signal(SIGPIPE, on_sigpipe);
  close(p[0]);
  EXPECT_ERR(EPIPE, write(p[1], "x", 1));
  CHECK(g_sigpipe == 1, "SIGPIPE raised");
  close(p[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (mkdir("/w", 0755) != 0) {
    printf("FAIL mkdir /w: %s\n", strerror(errno));
    return 1;
  }
  test_file_data();
  test_names();
  test_fds();
  test_fd_limit();
  test_pipes();
  if (g_failures) return 1;
  printf("PASS files\n");
  return 0;
}
