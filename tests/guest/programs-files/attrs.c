/* statx vs stat, statfs/fstatfs, chmod/chown/utimensat and friends round
 * tripping through stat, ctime moves, and the errors Linux gives. */
#include "check.h"

#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <utime.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static void test_xstatx(void) {
  int fd = open("sx", O_CREAT | O_RDWR, 0640);
  CHECK(fd >= 0, "create");
  CHECK(write(fd, "0123456789", 10) == 10, "write");
  struct stat st;
  struct xstatx sx;
  CHECK(fstat(fd, &st) == 0, "fstat");
  CHECK(xstatx(AT_FDCWD, "sx", 0, X_STATX_BASIC_STATS, &sx) == 0, "statx");
  CHECK((sx.stx_mask & X_STATX_BASIC_STATS) == X_STATX_BASIC_STATS, "mask %#x", sx.stx_mask);
  CHECK(sx.stx_ino == st.st_ino, "ino");
  CHECK(sx.stx_size == 10 && (off_t)sx.stx_size == st.st_size, "size %llu", (unsigned long long)sx.stx_size);
  CHECK(sx.stx_mode == st.st_mode, "mode %o vs %o", sx.stx_mode, st.st_mode);
  CHECK(sx.stx_nlink == st.st_nlink && sx.stx_uid == st.st_uid && sx.stx_gid == st.st_gid, "nlink/uid/gid");
  CHECK(sx.stx_blocks == (unsigned long long)st.st_blocks, "blocks");
  CHECK(sx.stx_blksize == (unsigned)st.st_blksize, "blksize");
  CHECK(makedev(sx.stx_dev_major, sx.stx_dev_minor) == st.st_dev, "dev %u:%u vs %#lx", sx.stx_dev_major,
        sx.stx_dev_minor, (unsigned long)st.st_dev);
  CHECK(sx.stx_mtime.tv_sec == st.st_mtim.tv_sec && sx.stx_mtime.tv_nsec == st.st_mtim.tv_nsec, "mtime");
  CHECK(sx.stx_ctime.tv_sec == st.st_ctim.tv_sec && sx.stx_ctime.tv_nsec == st.st_ctim.tv_nsec, "ctime");
  /* AT_EMPTY_PATH on the descriptor, with the sync flags accepted. */
  struct xstatx sx2;
  CHECK(xstatx(fd, "", AT_EMPTY_PATH | X_AT_STATX_FORCE_SYNC, X_STATX_BASIC_STATS, &sx2) == 0, "statx empty path");
  CHECK(sx2.stx_ino == sx.stx_ino && sx2.stx_size == 10, "same file");
  CHECK(xstatx(fd, "", AT_EMPTY_PATH | X_AT_STATX_DONT_SYNC, X_STATX_SIZE, &sx2) == 0, "dont sync");
  /* A symlink: NOFOLLOW sees the link, the default its target. */
  CHECK(symlink("sx", "sx.link") == 0, "symlink");
  CHECK(xstatx(AT_FDCWD, "sx.link", AT_SYMLINK_NOFOLLOW, X_STATX_BASIC_STATS, &sx2) == 0 && S_ISLNK(sx2.stx_mode),
        "lstat-like");
  CHECK(xstatx(AT_FDCWD, "sx.link", 0, X_STATX_BASIC_STATS, &sx2) == 0 && sx2.stx_ino == sx.stx_ino, "follows");
  /* xstatx(2): EINVAL for both sync flags, a reserved mask bit, unknown
   * flags; EFAULT for a bad buffer or path; ENOENT for "" without
   * AT_EMPTY_PATH. */
  EXPECT_ERR(EINVAL, xstatx(AT_FDCWD, "sx", X_AT_STATX_FORCE_SYNC | X_AT_STATX_DONT_SYNC, X_STATX_BASIC_STATS, &sx2));
  EXPECT_ERR(EINVAL, xstatx(AT_FDCWD, "sx", 0, 0x80000000u, &sx2));
  EXPECT_ERR(EINVAL, xstatx(AT_FDCWD, "sx", 0x10000000, X_STATX_BASIC_STATS, &sx2));
  EXPECT_ERR(EFAULT, syscall(SYS_statx, AT_FDCWD, "sx", 0, X_STATX_BASIC_STATS, g_bad));
  EXPECT_ERR(EFAULT, syscall(SYS_statx, AT_FDCWD, g_bad, 0, X_STATX_BASIC_STATS, &sx2));
  EXPECT_ERR(ENOENT, xstatx(AT_FDCWD, "", 0, X_STATX_BASIC_STATS, &sx2));
  EXPECT_ERR(EBADF, xstatx(9999, "", AT_EMPTY_PATH, X_STATX_BASIC_STATS, &sx2));
  close(fd);
}

static void test_statfs(void) {
  struct statfs a, b;
  CHECK(statfs(".", &a) == 0, "statfs");
  CHECK(a.f_bsize > 0 && a.f_namelen == 255, "bsize %ld namelen %ld", (long)a.f_bsize, (long)a.f_namelen);
  CHECK(a.f_bfree <= a.f_blocks && a.f_bavail <= a.f_blocks, "blocks");
  int fd = open(".", O_RDONLY | O_DIRECTORY);
  CHECK(fstatfs(fd, &b) == 0 && b.f_type == a.f_type, "fstatfs agrees");
  close(fd);
  /* A memfd lives on tmpfs (shmem) on Linux: TMPFS_MAGIC. */
  int m = memfd_create("statfs", 0);
  CHECK(m >= 0 && fstatfs(m, &b) == 0 && b.f_type == TMPFS_MAGIC, "memfd f_type %#lx", (long)b.f_type);
  close(m);
  EXPECT_ERR(ENOENT, statfs("no/such", &a));
  EXPECT_ERR(EFAULT, syscall(SYS_statfs, ".", g_bad));
  EXPECT_ERR(EBADF, fstatfs(-1, &a));
}

static void sleep_a_bit(void) { usleep(20000); }

static void test_chmod_chown(void) {
  int fd = open("m", O_CREAT | O_RDWR, 0600);
  CHECK(fd >= 0, "create");
  struct stat st, st2;
  CHECK(fstat(fd, &st) == 0, "fstat");
  sleep_a_bit();
  CHECK(chmod("m", 0754) == 0, "chmod");
  CHECK(stat("m", &st2) == 0 && (st2.st_mode & 07777) == 0754 && S_ISREG(st2.st_mode), "mode %o", st2.st_mode);
  CHECK(st2.st_ctim.tv_sec > st.st_ctim.tv_sec ||
            (st2.st_ctim.tv_sec == st.st_ctim.tv_sec && st2.st_ctim.tv_nsec > st.st_ctim.tv_nsec),
        "chmod moves ctime");
  CHECK(fchmod(fd, 04711) == 0 && fstat(fd, &st2) == 0 && (st2.st_mode & 07777) == 04711, "fchmod %o",
        st2.st_mode);
  CHECK(fchmodat(AT_FDCWD, "m", 0640, 0) == 0 && stat("m", &st2) == 0 && (st2.st_mode & 07777) == 0640,
        "fchmodat");
  /* fchmodat2 (452): AT_SYMLINK_NOFOLLOW on a symlink EOPNOTSUPP, on a
   * file fine; unknown flags EINVAL. */
  CHECK(symlink("m", "m.sym") == 0, "symlink");
  EXPECT_ERR(EOPNOTSUPP, syscall(452, AT_FDCWD, "m.sym", 0600, AT_SYMLINK_NOFOLLOW));
  CHECK(syscall(452, AT_FDCWD, "m", 0604, AT_SYMLINK_NOFOLLOW) == 0 && stat("m", &st2) == 0 &&
            (st2.st_mode & 07777) == 0604,
        "fchmodat2 %o", st2.st_mode);
  CHECK(syscall(452, AT_FDCWD, "m.sym", 0640, 0) == 0 && stat("m", &st2) == 0 && (st2.st_mode & 07777) == 0640,
        "fchmodat2 follows");
  EXPECT_ERR(EINVAL, syscall(452, AT_FDCWD, "m", 0600, 0x8000));
  EXPECT_ERR(ENOENT, chmod("nothing", 0644));
  EXPECT_ERR(EFAULT, syscall(SYS_chmod, g_bad, 0644));
  EXPECT_ERR(EBADF, fchmod(-1, 0644));
  if (geteuid() == 0) {
    CHECK(chown("m", 1234, 5678) == 0 && stat("m", &st2) == 0 && st2.st_uid == 1234 && st2.st_gid == 5678,
          "chown %u:%u", st2.st_uid, st2.st_gid);
    CHECK(fchown(fd, -1, 42) == 0 && fstat(fd, &st2) == 0 && st2.st_uid == 1234 && st2.st_gid == 42,
          "fchown keeps uid");
    /* chown(2): set-user-ID goes when the owner changes. */
    CHECK(fchmod(fd, 04755) == 0 && fchown(fd, 0, 0) == 0 && fstat(fd, &st2) == 0 &&
              (st2.st_mode & 07777) == 0755,
          "suid cleared: %o", st2.st_mode);
    /* lchown and AT_SYMLINK_NOFOLLOW change the link, not its target. */
    CHECK(symlink("m", "m.link") == 0, "symlink");
    CHECK(lchown("m.link", 7, 8) == 0, "lchown");
    CHECK(lstat("m.link", &st2) == 0 && st2.st_uid == 7 && st2.st_gid == 8, "link owner");
    CHECK(stat("m", &st2) == 0 && st2.st_uid == 0, "target untouched");
    CHECK(fchownat(AT_FDCWD, "m.link", 9, 9, 0) == 0 && stat("m", &st2) == 0 && st2.st_uid == 9, "follows");
    CHECK(fchownat(fd, "", 3, 3, AT_EMPTY_PATH) == 0 && fstat(fd, &st2) == 0 && st2.st_uid == 3,
          "AT_EMPTY_PATH");
    EXPECT_ERR(EINVAL, fchownat(AT_FDCWD, "m", 0, 0, 0x8000));
  }
  close(fd);
}

static void test_times(void) {
  int fd = open("t", O_CREAT | O_RDWR, 0644);
  CHECK(fd >= 0, "create");
  struct timespec ts[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
  struct stat st, st2;
  CHECK(utimensat(AT_FDCWD, "t", ts, 0) == 0, "utimensat");
  CHECK(stat("t", &st) == 0, "stat");
  CHECK(st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789, "atime %ld.%ld",
        (long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
  CHECK(st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 987654321, "mtime");
  /* UTIME_OMIT keeps a time; both omitted changes nothing, not even ctime. */
  sleep_a_bit();
  struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  CHECK(futimens(fd, omit) == 0 && fstat(fd, &st2) == 0, "omit both");
  CHECK(st2.st_ctim.tv_sec == st.st_ctim.tv_sec && st2.st_ctim.tv_nsec == st.st_ctim.tv_nsec, "ctime unchanged");
  struct timespec now_m[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  time_t before = time(NULL);
  CHECK(futimens(fd, now_m) == 0 && fstat(fd, &st2) == 0, "now for mtime");
  CHECK(st2.st_atim.tv_sec == 1000000000, "atime kept");
  CHECK(st2.st_mtim.tv_sec >= before - 1 && st2.st_mtim.tv_sec <= time(NULL) + 1, "mtime now");
  CHECK(st2.st_ctim.tv_sec >= before - 1, "ctime moved");
  /* NULL times: both now. */
  CHECK(utimensat(AT_FDCWD, "t", NULL, 0) == 0 && stat("t", &st2) == 0 && st2.st_atim.tv_sec >= before - 1,
        "null times");
  /* utime, utimes, futimesat. */
  struct utimbuf ub = {111, 222};
  CHECK(utime("t", &ub) == 0 && stat("t", &st2) == 0 && st2.st_atime == 111 && st2.st_mtime == 222, "utime");
  struct timeval tv[2] = {{333, 5}, {444, 6}};
  CHECK(utimes("t", tv) == 0 && stat("t", &st2) == 0 && st2.st_atime == 333 && st2.st_atim.tv_nsec == 5000 &&
            st2.st_mtime == 444 && st2.st_mtim.tv_nsec == 6000,
        "utimes");
  CHECK(syscall(SYS_futimesat, AT_FDCWD, "t", tv) == 0, "futimesat");
  /* A symlink's own times with AT_SYMLINK_NOFOLLOW. */
  CHECK(symlink("t", "t.link") == 0, "symlink");
  CHECK(utimensat(AT_FDCWD, "t.link", ts, AT_SYMLINK_NOFOLLOW) == 0, "nofollow");
  CHECK(lstat("t.link", &st2) == 0 && st2.st_mtim.tv_sec == 1500000000, "link mtime");
  CHECK(stat("t", &st2) == 0 && st2.st_mtime == 444, "target kept");
  /* futimesat(fd, NULL, ...) sets the descriptor's file. */
  struct timeval tv2[2] = {{555, 0}, {666, 0}};
  CHECK(syscall(SYS_futimesat, fd, NULL, tv2) == 0 && fstat(fd, &st2) == 0 && st2.st_mtime == 666,
        "futimesat on the fd");
  /* Errors: nsec out of range EINVAL, bad flags EINVAL, bad pointers EFAULT,
   * tv_usec out of range EINVAL. */
  struct timespec bad_ns[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_ERR(EINVAL, utimensat(AT_FDCWD, "t", bad_ns, 0));
  EXPECT_ERR(EINVAL, utimensat(AT_FDCWD, "t", ts, 0x8000));
  EXPECT_ERR(EFAULT, syscall(SYS_utimensat, AT_FDCWD, "t", g_bad, 0));
  EXPECT_ERR(EFAULT, syscall(SYS_utimensat, AT_FDCWD, g_bad, ts, 0));
  struct timeval bad_tv[2] = {{0, 1000000}, {0, 0}};
  EXPECT_ERR(EINVAL, utimes("t", bad_tv));
  EXPECT_ERR(ENOENT, utimensat(AT_FDCWD, "none", ts, 0));
  close(fd);
}

int main(void) {
  enter_temp_dir();
  test_xstatx();
  test_statfs();
  test_chmod_chown();
  test_times();
  return finish("attrs");
}
