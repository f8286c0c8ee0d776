/* /dev as programs use it: the memory devices (null, zero, full, random,
 * urandom), their device numbers, the stdin/stdout/stderr/fd links, a
 * tmpfs on /dev/shm for shm_open, and mknod/mkdir/symlink by the user.
 * Runs natively on Linux too. "PASS devfs" when every check passed. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "check.h"

static char* volatile g_bad = (char*)16; /* unmapped */

static void check_node(const char* path, unsigned maj, unsigned min) {
  struct stat st;
  CHECK(stat(path, &st) == 0, "stat %s", path);
  CHECK(S_ISCHR(st.st_mode), "%s is a character device", path);
  CHECK(major(st.st_rdev) == maj && minor(st.st_rdev) == min, "%s is %u:%u, not %u:%u", path, major(st.st_rdev),
        minor(st.st_rdev), maj, min);
}

static void test_nodes(void) {
  check_node("/dev/null", 1, 3);
  check_node("/dev/zero", 1, 5);
  check_node("/dev/full", 1, 7);
  check_node("/dev/random", 1, 8);
  check_node("/dev/urandom", 1, 9);
  check_node("/dev/tty", 5, 0);
  check_node("/dev/console", 5, 1);
  struct stat st;
  CHECK(stat("/dev/null", &st) == 0 && (st.st_mode & 0777) == 0666, "null mode %o", st.st_mode & 0777);
  char link[64];
  const char* names[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr"};
  for (int i = 0; i < 3; ++i) {
    ssize_t n = readlink(names[i], link, sizeof(link) - 1);
    if (n > 0) link[n] = 0;
    char want[32];
    snprintf(want, sizeof(want), "/proc/self/fd/%d", i);
    CHECK(n > 0 && strcmp(link, want) == 0, "%s -> %s", names[i], n > 0 ? link : "");
  }
  ssize_t n = readlink("/dev/fd", link, sizeof(link) - 1);
  if (n > 0) link[n] = 0;
  CHECK(n > 0 && strcmp(link, "/proc/self/fd") == 0, "/dev/fd -> %s", n > 0 ? link : "");
  /* /dev/fd/N through the links: fd 2 again. */
  struct stat a, b;
  CHECK(stat("/dev/fd/2", &a) == 0 && fstat(2, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
        "/dev/fd/2 is fd 2");
  int fd = open("/dev/stderr", O_WRONLY);
  CHECK(fd >= 0, "open /dev/stderr");
  if (fd >= 0) close(fd);
}

static void test_null_zero_full(void) {
  char buf[4096];
  int fd = open("/dev/null", O_RDWR);
  CHECK(fd >= 0, "open null");
  CHECK(read(fd, buf, sizeof(buf)) == 0, "null reads EOF");
  CHECK(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf), "null takes everything");
  close(fd);

  fd = open("/dev/zero", O_RDWR);
  CHECK(fd >= 0, "open zero");
  memset(buf, 0xaa, sizeof(buf));
  CHECK(read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf), "zero read");
  int zeros = 1;
  for (size_t i = 0; i < sizeof(buf); ++i) zeros &= buf[i] == 0;
  CHECK(zeros, "zero reads zeros");
  CHECK(write(fd, buf, 100) == 100, "zero takes writes");
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "zero seeks");
  EXPECT_ERR(EFAULT, read(fd, g_bad, 10));
  close(fd);

  fd = open("/dev/full", O_RDWR);
  CHECK(fd >= 0, "open full");
  EXPECT_ERR(ENOSPC, write(fd, "x", 1));
  memset(buf, 0xaa, 64);
  CHECK(read(fd, buf, 64) == 64 && buf[0] == 0 && buf[63] == 0, "full reads zeros");
  close(fd);
}

static void test_random(void) {
  size_t len = 1 << 20;
  unsigned char* a = malloc(len);
  unsigned char* b = malloc(len);
  int fd = open("/dev/urandom", O_RDONLY);
  CHECK(fd >= 0, "open urandom");
  ssize_t n1 = read(fd, a, len), n2 = read(fd, b, len);
  CHECK(n1 == (ssize_t)len && n2 == (ssize_t)len, "1 MiB reads: %zd %zd", n1, n2);
  CHECK(memcmp(a, b, len) != 0, "two reads differ");
  /* Every byte value turns up in a MiB of random bytes; none dominates. */
  size_t count[256] = {0};
  for (size_t i = 0; i < len; ++i) ++count[a[i]];
  int all = 1, sane = 1;
  for (int i = 0; i < 256; ++i) {
    all &= count[i] > 0;
    sane &= count[i] > len / 256 / 2 && count[i] < len / 256 * 2;
  }
  CHECK(all && sane, "byte distribution");
  EXPECT_ERR(EFAULT, read(fd, g_bad, 16));
  close(fd);
  fd = open("/dev/urandom", O_WRONLY);
  CHECK(fd >= 0 && write(fd, "entropy", 7) == 7, "urandom takes writes");
  close(fd);
  fd = open("/dev/random", O_RDONLY);
  CHECK(fd >= 0 && read(fd, a, 64) == 64, "random");
  close(fd);
  free(a);
  free(b);
}

static void test_shm(void) {
  struct stat st;
  CHECK(stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 01777, "/dev/shm mode %o",
        st.st_mode & 07777);
  shm_unlink("/capsule-shm-test");
  int fd = shm_open("/capsule-shm-test", O_CREAT | O_EXCL | O_RDWR, 0600);
  CHECK(fd >= 0, "shm_open");
  if (fd < 0) return;
  CHECK(ftruncate(fd, 8192) == 0, "ftruncate");
  CHECK(pwrite(fd, "shared", 6, 4096) == 6, "write");
  char buf[8] = {0};
  CHECK(pread(fd, buf, 6, 4096) == 6 && memcmp(buf, "shared", 6) == 0, "read back");
  CHECK(fstat(fd, &st) == 0 && st.st_size == 8192, "size %ld", (long)st.st_size);
  CHECK(stat("/dev/shm/capsule-shm-test", &st) == 0 && S_ISREG(st.st_mode), "visible in /dev/shm");
  int fd2 = shm_open("/capsule-shm-test", O_RDONLY, 0);
  CHECK(fd2 >= 0 && pread(fd2, buf, 6, 4096) == 6, "second shm_open");
  close(fd2);
  EXPECT_ERR(EEXIST, shm_open("/capsule-shm-test", O_CREAT | O_EXCL | O_RDWR, 0600));
  CHECK(shm_unlink("/capsule-shm-test") == 0, "shm_unlink");
  EXPECT_ERR(ENOENT, shm_open("/capsule-shm-test", O_RDWR, 0));
  close(fd);
}

static void test_user_nodes(void) {
  unlink("/dev/capsule-null");
  if (mknod("/dev/capsule-null", S_IFCHR | 0666, makedev(1, 3)) != 0) {
    CHECK(errno == EPERM, "mknod as non-root");
    return;
  }
  int fd = open("/dev/capsule-null", O_RDWR);
  char buf[8];
  CHECK(fd >= 0 && write(fd, "abc", 3) == 3 && read(fd, buf, sizeof(buf)) == 0, "a user's null node");
  if (fd >= 0) close(fd);
  CHECK(unlink("/dev/capsule-null") == 0, "unlink");
  rmdir("/dev/capsule-dir");
  CHECK(mkdir("/dev/capsule-dir", 0755) == 0, "mkdir in /dev");
  CHECK(mknod("/dev/capsule-dir/zero", S_IFCHR | 0600, makedev(1, 5)) == 0, "mknod zero");
  fd = open("/dev/capsule-dir/zero", O_RDONLY);
  memset(buf, 1, sizeof(buf));
  CHECK(fd >= 0 && read(fd, buf, 8) == 8 && buf[0] == 0 && buf[7] == 0, "a user's zero node");
  if (fd >= 0) close(fd);
  CHECK(symlink("zero", "/dev/capsule-dir/link") == 0, "symlink in /dev");
  fd = open("/dev/capsule-dir/link", O_RDONLY);
  CHECK(fd >= 0 && read(fd, buf, 8) == 8, "through the link");
  if (fd >= 0) close(fd);
  unlink("/dev/capsule-dir/link");
  unlink("/dev/capsule-dir/zero");
  CHECK(rmdir("/dev/capsule-dir") == 0, "rmdir");
  /* The rest of the tree is untouched. */
  struct stat st;
  CHECK(stat("/dev/null", &st) == 0, "null still there");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  test_nodes();
  test_null_zero_full();
  test_random();
  test_shm();
  test_user_nodes();
  if (g_failures) {
    printf("%d checks failed\n", g_failures);
    return 1;
  }
  printf("PASS devfs\n");
  return 0;
}
