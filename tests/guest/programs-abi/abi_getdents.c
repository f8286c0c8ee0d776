/* The legacy getdents (syscall 78) next to getdents64 (issue 18): struct
 * linux_dirent {d_ino, d_off, d_reclen, d_name} with d_type in the
 * record's last byte, records 8-byte aligned, the same entries and inode
 * numbers as getdents64, resuming at d_off with lseek; EINVAL when the
 * first entry does not fit, EFAULT for a bad buffer, ENOTDIR for a file,
 * EBADF for a bad or O_PATH descriptor. */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>

struct old_dirent {
  unsigned long d_ino;
  unsigned long d_off;
  unsigned short d_reclen;
  char d_name[];
};
struct new_dirent {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static char dir[64];

static const struct {
  const char* name;
  int type;
} want[] = {
    {"file", DT_REG}, {"sub", DT_DIR}, {"link", DT_LNK}, {"fifo", DT_FIFO},
    {"a-rather-long-name-to-need-more-than-one-eight-byte-word-0123456789", DT_REG},
};
#define NWANT (int)(sizeof want / sizeof want[0])

static void setup(void) {
  mkdir("/tmp", 01777); /* the VM's root may lack it */
  snprintf(dir, sizeof dir, "/tmp/abi_getdents.%d", (int)getpid());
  CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
  char p[256];
  for (int i = 0; i < NWANT; ++i) {
    snprintf(p, sizeof p, "%s/%s", dir, want[i].name);
    if (want[i].type == DT_REG) close(open(p, O_CREAT | O_WRONLY, 0644));
    else if (want[i].type == DT_DIR) mkdir(p, 0755);
    else if (want[i].type == DT_LNK) CHECK(symlink("file", p) == 0, "symlink");
    else CHECK(mkfifo(p, 0644) == 0, "mkfifo");
  }
}

static void cleanup(void) {
  char p[256];
  for (int i = 0; i < NWANT; ++i) {
    snprintf(p, sizeof p, "%s/%s", dir, want[i].name);
    if (want[i].type == DT_DIR) rmdir(p);
    else unlink(p);
  }
  rmdir(dir);
}

static int find(const char* name) {
  if (!strcmp(name, ".") || !strcmp(name, "..")) return -2;
  for (int i = 0; i < NWANT; ++i)
    if (!strcmp(name, want[i].name)) return i;
  return -1;
}

static void test_listing(void) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0, "open dir");
  char buf[4096] __attribute__((aligned(8)));
  unsigned long ino_old[NWANT] = {0};
  int seen = 0, dots = 0;
  for (int round = 0; round < 10; ++round) {
    long n = syscall(SYS_getdents, fd, buf, sizeof buf);
    CHECK(n >= 0, "getdents %ld errno %d", n, errno);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct old_dirent* d = (struct old_dirent*)(buf + off);
      CHECK(d->d_reclen % 8 == 0 && d->d_reclen >= 24 && off + d->d_reclen <= n, "reclen %u", d->d_reclen);
      size_t len = strlen(d->d_name);
      CHECK(offsetof(struct old_dirent, d_name) + len + 2 <= d->d_reclen, "name %s fits its record", d->d_name);
      CHECK(d->d_reclen == ((18 + len + 2 + 7) & ~7ul), "reclen %u for a %zu-byte name", d->d_reclen, len);
      unsigned char type = (unsigned char)buf[off + d->d_reclen - 1];
      int i = find(d->d_name);
      CHECK(i != -1, "unexpected entry %s", d->d_name);
      if (i == -2) {
        ++dots;
        CHECK(type == DT_DIR, "%s is a directory: type %u", d->d_name, type);
      } else if (i >= 0) {
        ++seen;
        ino_old[i] = d->d_ino;
        CHECK(type == want[i].type, "%s: type %u, expected %d", d->d_name, type, want[i].type);
      }
      off += d->d_reclen ? d->d_reclen : n;
    }
  }
  CHECK(seen == NWANT && dots == 2, "saw %d entries and %d dots", seen, dots);

  /* getdents64 lists the same inode numbers. */
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind");
  long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
  CHECK(n > 0, "getdents64 %ld", n);
  int same = 0;
  for (long off = 0; off < n;) {
    struct new_dirent* d = (struct new_dirent*)(buf + off);
    int i = find(d->d_name);
    if (i >= 0 && ino_old[i] == d->d_ino) ++same;
    off += d->d_reclen ? d->d_reclen : n;
  }
  CHECK(same == NWANT, "%d inode numbers agree", same);

  /* One record at a time: a buffer for exactly the first entry returns
   * it, d_off resumes after it, one byte less is EINVAL. */
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind");
  n = syscall(SYS_getdents, fd, buf, sizeof buf);
  struct old_dirent* first = (struct old_dirent*)buf;
  unsigned short rl = first->d_reclen;
  unsigned long next = first->d_off;
  char second[300];
  struct old_dirent* d2 = (struct old_dirent*)(buf + rl);
  snprintf(second, sizeof second, "%s", d2->d_name);
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind");
  EXPECT_ERR(EINVAL, syscall(SYS_getdents, fd, buf, rl - 1));
  EXPECT_ERR(EINVAL, syscall(SYS_getdents, fd, buf, 0));
  CHECK(syscall(SYS_getdents, fd, buf, rl) == rl, "exactly one record");
  CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)next, "position is d_off");
  CHECK(syscall(SYS_getdents, fd, buf, sizeof buf) > 0 && !strcmp(((struct old_dirent*)buf)->d_name, second),
        "resumes at the second entry %s", second);
  CHECK(lseek(fd, (off_t)next, SEEK_SET) == (off_t)next, "seek to d_off");
  CHECK(syscall(SYS_getdents, fd, buf, sizeof buf) > 0 && !strcmp(((struct old_dirent*)buf)->d_name, second),
        "seeking to d_off resumes there");
  /* At the end: 0. */
  while (syscall(SYS_getdents, fd, buf, sizeof buf) > 0) {
  }
  CHECK(syscall(SYS_getdents, fd, buf, sizeof buf) == 0, "0 at the end");

  CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind");
  EXPECT_ERR(EFAULT, syscall(SYS_getdents, fd, BAD_PTR, 4096));
  EXPECT_ERR(EFAULT, syscall(SYS_getdents, fd, KERNEL_PTR, 4096));
  close(fd);
}

static void test_bad_fds(void) {
  char buf[512] __attribute__((aligned(8)));
  char p[256];
  snprintf(p, sizeof p, "%s/file", dir);
  int f = open(p, O_RDONLY);
  EXPECT_ERR(ENOTDIR, syscall(SYS_getdents, f, buf, sizeof buf));
  EXPECT_ERR(ENOTDIR, syscall(SYS_getdents64, f, buf, sizeof buf));
  close(f);
  EXPECT_ERR(EBADF, syscall(SYS_getdents, f, buf, sizeof buf));
  EXPECT_ERR(EBADF, syscall(SYS_getdents, -1, buf, sizeof buf));
  int pf = open(dir, O_PATH | O_DIRECTORY);
  CHECK(pf >= 0, "O_PATH open");
  EXPECT_ERR(EBADF, syscall(SYS_getdents, pf, buf, sizeof buf));
  close(pf);
}

int main(void) {
  setup();
  test_listing();
  test_bad_fds();
  cleanup();
  return finish("abi_getdents");
}
