/* disk_write ROOT [fill|loop|threads|touch]: changes the tree under ROOT the same way every
 * run (tests/guest/disk_test.py runs it in the VM over a read-write ext4
 * disk and on the host over a tmpfs directory, then compares the two
 * trees with debugfs and e2fsck -fn): files created, written (in order,
 * at offsets past the end, appended), extended and shrunk, renamed
 * within and across directories and over other files, unlinked (one
 * while still open), directories made, moved and removed, hard and
 * symbolic links, modes and times; fsync and sync on the way.
 *
 * ROOT must hold a.txt and sub/ (the image's starting tree).
 *
 * With "fill": then writes ROOT/fill until the disk is full, which must
 * end in ENOSPC (never another error), reads every byte back, and
 * removes it.
 * With "threads": then 4 threads at once, each in its own directory,
 * create, write, extend, rename over each other and remove files (the
 * volume's lock, the inode cache and the journal under contention); what
 * is left is the same on every run.
 * With "htree": then, in ROOT/big (an htree directory made by the host's
 * e2fsck -D), 6,000 names made (files, some with bytes, some
 * directories; names of many lengths, some with bytes past 0x7f), every
 * one looked up, half removed, some renamed within, out of and into it,
 * a directory moved out; then the directory is read back and its count
 * checked (the index's leaf splits and second level on 1 KiB blocks).
 * With "frag": then ROOT/frag, 16 MiB written every other 4 KiB (each
 * block its own extent: the tree grows past depth 1), the holes filled,
 * read back, and truncated in steps to 5,000 bytes.
 * With "falloc": then fallocate: mode 0 and KEEP_SIZE ranges (read as
 * zeros, sizes), writes into them, holes punched (PUNCH_HOLE|KEEP_SIZE)
 * in written and allocated ranges, and the modes both answer EOPNOTSUPP
 * (PUNCH_HOLE without KEEP_SIZE, COLLAPSE_RANGE, ZERO_RANGE).
 * With "xattr": then extended attributes: the one the image's a.txt
 * brought from the host (user.origin) read, others set (small, and 800
 * bytes: the ext4 block), replaced, removed, with Linux's errors, and
 * each file's attributes printed as "xattr FILE NAME LENGTH SUM" lines
 * (the host's run must print the same).
 * With "touch": only writes ROOT/after_crash (the crash test's second
 * boot, on the image the kill left).
 * With "loop": after printing "looping", creates, writes, renames and
 * removes files for ever, and appends numbered, checksummed records to
 * ROOT/loop/records, printing "fsynced N" after each fsync/fdatasync
 * that made record N durable (the host kills the VM part way and checks
 * the records: the crash test).
 * Prints "PASS disk_write" when every step held. */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

static char g_root[2048];
static int g_failed;

#define CHECK(cond, ...)                 \
  do {                                   \
    if (!(cond)) {                       \
      printf("FAIL line %d: ", __LINE__); \
      printf(__VA_ARGS__);               \
      printf(" (errno %d)\n", errno);    \
      g_failed = 1;                      \
    }                                    \
  } while (0)

static const char* P(const char* rel) {
  /* Per thread: the threads test's workers call it at once (shared
   * buffers gave one worker another's path: rename ENOENT on the host). */
  static __thread char bufs[4][4096];
  static __thread int k;
  char* b = bufs[k++ % 4];
  snprintf(b, 4096, "%s/%s", g_root, rel);
  return b;
}

static void fill_pattern(unsigned char* b, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) b[i] = (unsigned char)((i * 131 + seed * 7 + i / 4096) & 0xff);
}

static void write_file(const char* rel, const void* data, size_t n, off_t at, int flags) {
  int fd = open(P(rel), O_WRONLY | O_CREAT | flags, 0644);
  CHECK(fd >= 0, "open %s", rel);
  if (fd < 0) return;
  ssize_t w = pwrite(fd, data, n, at);
  CHECK(w == (ssize_t)n, "pwrite %s: %zd", rel, w);
  CHECK(close(fd) == 0, "close %s", rel);
}

static void append(const char* rel, const char* text) {
  int fd = open(P(rel), O_WRONLY | O_APPEND);
  CHECK(fd >= 0, "open append %s", rel);
  if (fd < 0) return;
  CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "append %s", rel);
  close(fd);
}

static void changes(void) {
  static unsigned char big[1 << 20];
  /* An existing file rewritten in place and appended to. */
  write_file("a.txt", "HELLO", 5, 0, 0);
  append("a.txt", "appended line\n");
  /* New files: 1 MiB in one write, odd sizes, a sparse one. */
  CHECK(mkdir(P("d1"), 0755) == 0, "mkdir d1");
  fill_pattern(big, sizeof big, 1);
  write_file("d1/big", big, sizeof big, 0, O_TRUNC);
  fill_pattern(big, 12345, 2);
  write_file("d1/odd", big, 12345, 0, 0);
  write_file("d1/sparse", "start", 5, 0, 0);
  write_file("d1/sparse", "end", 3, 5 << 20, 0);
  /* A file written backwards, one block at a time, with gaps: many extents. */
  for (int i = 40; i >= 0; --i) {
    fill_pattern(big, 4096, (unsigned)i);
    write_file("frag", big, 4096, (off_t)i * 8192, 0);
  }
  /* Many names in one directory; every third goes again. */
  CHECK(mkdir(P("many"), 0700) == 0, "mkdir many");
  char name[128];
  for (int i = 0; i < 120; ++i) {
    snprintf(name, sizeof name, "many/entry_%03d_with_a_fairly_long_name", i);
    write_file(name, name, strlen(name), 0, 0);
  }
  for (int i = 0; i < 120; i += 3) {
    snprintf(name, sizeof name, "many/entry_%03d_with_a_fairly_long_name", i);
    CHECK(unlink(P(name)) == 0, "unlink %s", name);
  }
  /* Renames: in one directory, across, over an existing file, a directory. */
  CHECK(rename(P("d1/odd"), P("d1/odd_renamed")) == 0, "rename in dir");
  CHECK(rename(P("many/entry_001_with_a_fairly_long_name"), P("d1/moved")) == 0, "rename across");
  write_file("d1/victim", "victim", 6, 0, 0);
  CHECK(rename(P("d1/moved"), P("d1/victim")) == 0, "rename over a file");
  CHECK(mkdir(P("d1/sub"), 0750) == 0, "mkdir d1/sub");
  write_file("d1/sub/inside", "inside\n", 7, 0, 0);
  CHECK(rename(P("d1/sub"), P("many/sub_moved")) == 0, "rename a directory across");
  CHECK(rename(P("d1"), P("d1/sub2")) == -1 && errno == EINVAL, "rename into itself: EINVAL");
  /* Links. */
  CHECK(link(P("d1/big"), P("hard")) == 0, "link");
  CHECK(symlink("a.txt", P("fast")) == 0, "symlink fast");
  char target[200];
  memset(target, 'z', 150);
  strcpy(target + 150, "/../a.txt");
  CHECK(symlink(target, P("slow")) == 0, "symlink slow");
  /* Truncation: shrink into a block, grow over a hole, O_TRUNC. */
  CHECK(truncate(P("d1/big"), 70000) == 0, "truncate shrink");
  CHECK(truncate(P("d1/sparse"), 3) == 0, "truncate sparse");
  CHECK(truncate(P("d1/sparse"), 100000) == 0, "truncate grow");
  write_file("d1/sparse", "tail", 4, 99996, 0);
  write_file("d1/victim", "new", 3, 0, O_TRUNC);
  int fd = open(P("frag"), O_RDWR);
  CHECK(fd >= 0 && ftruncate(fd, 20 * 8192 + 100) == 0, "ftruncate frag");
  CHECK(fd >= 0 && fsync(fd) == 0, "fsync frag");
  close(fd);
  /* Removed while open: readable until closed, then gone. */
  fill_pattern(big, 200000, 5);
  write_file("doomed", big, 200000, 0, 0);
  fd = open(P("doomed"), O_RDONLY);
  CHECK(unlink(P("doomed")) == 0, "unlink open file");
  unsigned char c = 0;
  CHECK(fd >= 0 && pread(fd, &c, 1, 199999) == 1 && c == big[199999], "read after unlink");
  close(fd);
  /* Directories made and removed; a non-empty one refused. */
  CHECK(mkdir(P("gone"), 0755) == 0 && rmdir(P("gone")) == 0, "mkdir+rmdir");
  CHECK(rmdir(P("many")) == -1 && errno == ENOTEMPTY, "rmdir non-empty: ENOTEMPTY");
  CHECK(rmdir(P("sub")) == 0, "rmdir an image's directory");
  /* Modes and times. */
  CHECK(chmod(P("d1/odd_renamed"), 0600) == 0, "chmod");
  struct timeval tv[2] = {{1600000000, 0}, {1600000000, 500000}};
  CHECK(utimes(P("d1/odd_renamed"), tv) == 0, "utimes");
  struct stat st;
  CHECK(stat(P("d1/odd_renamed"), &st) == 0 && st.st_mtime == 1600000000 && (st.st_mode & 07777) == 0600,
        "stat after chmod/utimes");
  CHECK(stat(P("d1/big"), &st) == 0 && st.st_nlink == 2 && st.st_size == 70000, "stat big");
  /* A shared mapping written through and msync'ed (into holes), then the
   * file shrunk while mapped. */
  fd = open(P("mapped"), O_RDWR | O_CREAT, 0644);
  CHECK(fd >= 0 && ftruncate(fd, 12288) == 0, "ftruncate mapped");
  char* m = fd >= 0 ? mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
  CHECK(m != MAP_FAILED, "mmap shared");
  if (m != MAP_FAILED) {
    memcpy(m, "written via mmap", 16);
    memcpy(m + 5000, "second page", 11);
    memcpy(m + 9000, "third page", 10);
    CHECK(msync(m, 12288, MS_SYNC) == 0, "msync");
    CHECK(ftruncate(fd, 6000) == 0, "ftruncate while mapped");
    CHECK(m[5000] == 's', "the page still inside reads");
    munmap(m, 12288);
  }
  if (fd >= 0) close(fd);
  sync();
}

static void fill(void) {
  static unsigned char buf[65536];
  int fd = open(P("fill"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open fill");
  if (fd < 0) return;
  long long total = 0;
  for (unsigned i = 0;; ++i) {
    fill_pattern(buf, sizeof buf, i);
    ssize_t w = write(fd, buf, sizeof buf);
    if (w < 0) {
      CHECK(errno == ENOSPC, "fill ended with errno %d, not ENOSPC", errno);
      break;
    }
    total += w;
    if (w < (ssize_t)sizeof buf) continue;
    if (total > (1ll << 30)) break;
  }
  CHECK(fsync(fd) == 0, "fsync fill");
  close(fd);
  struct statfs sf;
  CHECK(statfs(g_root, &sf) == 0, "statfs");
  printf("fill: %lld bytes, %llu blocks free\n", total, (unsigned long long)sf.f_bfree);
  CHECK(sf.f_bfree < 16, "free blocks after filling: %llu", (unsigned long long)sf.f_bfree);
  /* Everything written reads back. */
  fd = open(P("fill"), O_RDONLY);
  unsigned char want[65536];
  for (unsigned i = 0; (long long)i * 65536 < total; ++i) {
    ssize_t n = read(fd, buf, sizeof buf);
    fill_pattern(want, sizeof want, i);
    if (n <= 0 || memcmp(buf, want, (size_t)n) != 0) {
      CHECK(0, "fill reads back wrong at chunk %u", i);
      break;
    }
  }
  close(fd);
  CHECK(unlink(P("fill")) == 0, "unlink fill");
  CHECK(statfs(g_root, &sf) == 0 && sf.f_bfree > 100, "space back after unlink: %llu",
        (unsigned long long)sf.f_bfree);
}

static void* worker(void* arg) {
  int t = (int)(intptr_t)arg;
  static unsigned char bufs[4][30000];
  unsigned char* buf = bufs[t];
  char dir[64], a[96], b[96];
  snprintf(dir, sizeof dir, "par%d", t);
  CHECK(mkdir(P(dir), 0755) == 0, "mkdir %s", dir);
  for (unsigned i = 0; i < 60; ++i) {
    snprintf(a, sizeof a, "%s/f%u", dir, i % 10);
    snprintf(b, sizeof b, "%s/g%u", dir, i % 7);
    fill_pattern(buf, sizeof buf, i + 100 * (unsigned)t);
    write_file(a, buf, 1000 + (i * 997) % 29000, 0, O_TRUNC);
    write_file(a, buf, 500, 40000 + i, 0);
    CHECK(rename(P(a), P(b)) == 0, "rename %s %s", a, b);
    if (i % 4 == 0) CHECK(unlink(P(b)) == 0, "unlink %s", b);
  }
  return NULL;
}

static void threads(void) {
  pthread_t th[4];
  for (int t = 0; t < 4; ++t) pthread_create(&th[t], NULL, worker, (void*)(intptr_t)t);
  for (int t = 0; t < 4; ++t) pthread_join(th[t], NULL);
  sync();
}

static void htree_name(char* out, size_t cap, unsigned i) {
  int n = snprintf(out, cap, "big/h%u", i);
  if (i % 3 == 0) n += snprintf(out + n, cap - (size_t)n, "_\xc3\xa9t\xc3\xa9");
  for (unsigned k = 0; i % 7 == 0 && k < i % 150 && (size_t)n + 2 < cap; ++k) out[n++] = 'x';
  out[n] = 0;
}

static void htree(void) {
  enum { N = 6000 };
  char a[256], b[256];
  struct stat st;
  for (unsigned i = 0; i < N; ++i) {
    htree_name(a, sizeof a, i);
    CHECK(lstat(P(a), &st) != 0 && errno == ENOENT, "%s before it was made", a);
    if (i % 500 == 7) {
      CHECK(mkdir(P(a), 0755) == 0, "mkdir %s", a);
    } else if (i % 10 == 0) {
      write_file(a, a, strlen(a), 0, O_TRUNC);
    } else {
      int fd = open(P(a), O_CREAT | O_EXCL | O_WRONLY, 0644);
      CHECK(fd >= 0, "create %s", a);
      if (fd >= 0) close(fd);
    }
  }
  for (unsigned i = 0; i < N; i += 13) {
    htree_name(a, sizeof a, i);
    CHECK(lstat(P(a), &st) == 0, "lookup %s", a);
  }
  for (unsigned i = 0; i < N; i += 2) {
    htree_name(a, sizeof a, i);
    CHECK((i % 500 == 7 ? rmdir(P(a)) : unlink(P(a))) == 0, "remove %s", a);
  }
  for (unsigned i = 1; i < 1500; i += 10) {
    htree_name(a, sizeof a, i);
    snprintf(b, sizeof b, "big/renamed_%u", i);
    CHECK(rename(P(a), P(b)) == 0, "rename %s", a);
  }
  CHECK(rename(P("big/renamed_11"), P("big/renamed_21")) == 0, "rename over");
  CHECK(rename(P("big/renamed_31"), P("many/moved_out")) == 0, "rename out");
  CHECK(rename(P("a.txt"), P("big/moved_in")) == 0, "rename in");
  htree_name(a, sizeof a, 507);
  CHECK(rename(P(a), P("many/dir_out")) == 0, "directory out");
  /* Read back: 400 names from the image, N/2 made and kept, one in, one
   * out, one renamed over another, one directory out. */
  char cmd[64];
  snprintf(cmd, sizeof cmd, "%s", P("big"));
  unsigned count = 0;
  DIR* d = opendir(cmd);
  CHECK(d != NULL, "opendir big");
  struct dirent* e;
  while (d && (e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) ++count;
  if (d) closedir(d);
  CHECK(count == 400 + N / 2 - 1 - 1, "big holds %u names", count);
  printf("htree: %u names in big\n", count);
  sync();
}

static void frag(void) {
  enum { BLK = 4096, COUNT = 4096 };
  static unsigned char b[BLK], r[BLK];
  int fd = open(P("frag"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open frag");
  if (fd < 0) return;
  for (unsigned pass = 0; pass < 2; ++pass)
    for (unsigned i = pass; i < COUNT; i += 2) {
      fill_pattern(b, BLK, i);
      CHECK(pwrite(fd, b, BLK, (off_t)i * BLK) == BLK, "pwrite frag block %u", i);
    }
  for (unsigned i = 0; i < COUNT; i += 37) {
    fill_pattern(b, BLK, i);
    CHECK(pread(fd, r, BLK, (off_t)i * BLK) == BLK && memcmp(b, r, BLK) == 0, "frag block %u reads back", i);
  }
  CHECK(ftruncate(fd, (off_t)COUNT * BLK / 3 + 100) == 0, "truncate frag to a third");
  CHECK(ftruncate(fd, 5000) == 0, "truncate frag to 5000");
  CHECK(fsync(fd) == 0, "fsync frag");
  close(fd);
}

static void falloc(void) {
  static unsigned char b[300000];
  struct stat st;
  /* Mode 0: the size grows, the range reads as zeros. */
  int fd = open(P("pre"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open pre");
  CHECK(fallocate(fd, 0, 0, 1 << 20) == 0, "fallocate pre");
  CHECK(fstat(fd, &st) == 0 && st.st_size == (1 << 20), "pre size %lld", (long long)st.st_size);
  CHECK(pread(fd, b, sizeof b, 4096) == (ssize_t)sizeof b, "pread pre");
  int zeros = 1;
  for (size_t i = 0; i < sizeof b; ++i) zeros &= b[i] == 0;
  CHECK(zeros, "allocated range reads as zeros");
  fill_pattern(b, 70000, 7);
  CHECK(pwrite(fd, b, 100, 5 * 4096 + 17) == 100, "pwrite into pre");
  CHECK(pwrite(fd, b, 70000, 200000) == 70000, "pwrite run into pre");
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100 * 4096, 50 * 4096) == 0, "punch pre");
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 210000, 1000) == 0, "punch into the run");
  close(fd);
  /* KEEP_SIZE: the size stays; appends go into the blocks. */
  fd = open(P("keep"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  fill_pattern(b, 8000, 8);
  CHECK(pwrite(fd, b, 3000, 0) == 3000, "pwrite keep");
  CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 256 * 1024) == 0, "fallocate keep");
  CHECK(fstat(fd, &st) == 0 && st.st_size == 3000, "keep size %lld", (long long)st.st_size);
  CHECK(pwrite(fd, b + 3000, 5000, 3000) == 5000, "append into keep");
  close(fd);
  /* A written file punched: partial blocks zeroed, the size kept. */
  fd = open(P("punched"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  fill_pattern(b, sizeof b, 9);
  CHECK(pwrite(fd, b, sizeof b, 0) == (ssize_t)sizeof b, "pwrite punched");
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5000, 200000) == 0, "punch punched");
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 400000, 1000) == 0, "punch past the end");
  CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof b, "punched size %lld", (long long)st.st_size);
  CHECK(pread(fd, b, 300, 4900) == 300 && b[100] == 0 && b[299] == 0, "punched reads zeros");
  /* Modes neither tmpfs nor this kernel's ext4 does. */
  errno = 0;
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096) == -1 && errno == EOPNOTSUPP, "punch without KEEP_SIZE");
  errno = 0;
  CHECK(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096) == -1 && errno == EOPNOTSUPP, "collapse");
  errno = 0;
  CHECK(fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096) == -1 && errno == EOPNOTSUPP, "zero range");
  errno = 0;
  CHECK(fallocate(fd, 0, 0, 0) == -1 && errno == EINVAL, "zero length: EINVAL");
  close(fd);
}

static void print_xattrs(const char* rel) {
  char names[4096], value[4096];
  ssize_t n = llistxattr(P(rel), names, sizeof names);
  CHECK(n >= 0, "listxattr %s", rel);
  /* Sorted: file systems list in their own order. */
  const char* sorted[64];
  int count = 0;
  for (ssize_t at = 0; n > 0 && at < n && count < 64; at += (ssize_t)strlen(names + at) + 1) sorted[count++] = names + at;
  for (int i = 1; i < count; ++i)
    for (int j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; --j) {
      const char* t = sorted[j];
      sorted[j] = sorted[j - 1];
      sorted[j - 1] = t;
    }
  for (int i = 0; i < count; ++i) {
    ssize_t len = lgetxattr(P(rel), sorted[i], value, sizeof value);
    unsigned sum = 0;
    for (ssize_t k = 0; k < len; ++k) sum = sum * 31 + (unsigned char)value[k];
    printf("xattr %s %s %zd %u\n", rel, sorted[i], len, sum);
  }
}

static void xattrs(void) {
  char v[1000];
  CHECK(getxattr(P("x_src"), "user.origin", v, sizeof v) == 4 && memcmp(v, "host", 4) == 0,
        "user.origin copied by mke2fs -d");
  write_file("x1", "x", 1, 0, O_TRUNC);
  write_file("x2", "y", 1, 0, O_TRUNC);
  CHECK(setxattr(P("x1"), "user.small", "v", 1, 0) == 0, "set small");
  memset(v, 'b', 800);
  CHECK(setxattr(P("x1"), "user.big", v, 800, XATTR_CREATE) == 0, "set big");
  CHECK(setxattr(P("x1"), "user.big", v, 10, XATTR_CREATE) == -1 && errno == EEXIST, "create existing: EEXIST");
  CHECK(setxattr(P("x1"), "user.none", v, 10, XATTR_REPLACE) == -1 && errno == ENODATA, "replace missing: ENODATA");
  CHECK(setxattr(P("x1"), "user.small", "replaced", 8, XATTR_REPLACE) == 0, "replace small");
  CHECK(getxattr(P("x1"), "user.big", v, 10) == -1 && errno == ERANGE, "small buffer: ERANGE");
  CHECK(getxattr(P("x1"), "user.big", NULL, 0) == 800, "size query");
  CHECK(getxattr(P("x1"), "user.none", v, sizeof v) == -1 && errno == ENODATA, "missing: ENODATA");
  CHECK(removexattr(P("x1"), "user.none") == -1 && errno == ENODATA, "remove missing: ENODATA");
  CHECK(setxattr(P("x2"), "user.empty", "", 0, 0) == 0, "set empty");
  for (int i = 0; i < 10; ++i) {
    char name[32];
    snprintf(name, sizeof name, "user.n%d", i);
    memset(v, 'a' + i, 30 + (size_t)i);
    CHECK(setxattr(P("x2"), name, v, 30 + (size_t)i, 0) == 0, "set %s", name);
  }
  CHECK(removexattr(P("x2"), "user.n3") == 0, "remove n3");
  int fd = open(P("x2"), O_RDONLY);
  CHECK(fsetxattr(fd, "user.by_fd", "fd", 2, 0) == 0 && fgetxattr(fd, "user.by_fd", v, sizeof v) == 2, "f-forms");
  close(fd);
  write_file("x3", "z", 1, 0, O_TRUNC);
  CHECK(setxattr(P("x3"), "user.big", v, 800, 0) == 0, "set on x3");
  CHECK(unlink(P("x3")) == 0, "unlink a file with attributes");
  print_xattrs("x_src");
  print_xattrs("x1");
  print_xattrs("x2");
}

/* The crash test's record log: RECORD_SIZE bytes each (not a divisor of
 * the block size, so records straddle blocks): "REC!", the sequence
 * number, a payload derived from it, an FNV-1a checksum of the rest.
 * tests/guest/disk_test.py checks every record up to the last one
 * reported fsync'd. */
#define RECORD_SIZE 100

static uint32_t fnv1a(const unsigned char* p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void record(unsigned char* r, uint32_t seq) {
  memcpy(r, "REC!", 4);
  memcpy(r + 4, &seq, 4);
  for (int i = 8; i < RECORD_SIZE - 4; ++i) r[i] = (unsigned char)(seq * 31 + (uint32_t)i * 7);
  uint32_t sum = fnv1a(r, RECORD_SIZE - 4);
  memcpy(r + RECORD_SIZE - 4, &sum, 4);
}

static void loop(void) {
  static unsigned char buf[20000];
  unsigned char rec[RECORD_SIZE];
  int log = open(P("loop/records"), O_WRONLY | O_CREAT | O_APPEND, 0644);
  CHECK(log >= 0, "open loop/records");
  printf("looping\n");
  for (unsigned i = 0;; ++i) {
    char a[64], b[64];
    snprintf(a, sizeof a, "loop/f%u", i % 50);
    snprintf(b, sizeof b, "loop/g%u", i % 50);
    fill_pattern(buf, sizeof buf, i);
    write_file(a, buf, (i * 977) % sizeof buf, 0, O_TRUNC);
    rename(P(a), P(b));
    if (i % 3 == 0) unlink(P(b));
    if (i % 7 == 0) {
      snprintf(a, sizeof a, "loop/d%u", i % 20);
      if (mkdir(P(a), 0755) != 0) rmdir(P(a));
    }
    /* A record appended and made durable (fsync, or fdatasync for odd
     * numbers), its number reported once the call returned; a quarter of
     * the records (i % 4 == 1, unless i % 3 == 0) wait for the next one's. */
    record(rec, i);
    if (write(log, rec, RECORD_SIZE) != RECORD_SIZE) {
      printf("FAIL record %u: write (errno %d)\n", i, errno);
      return;
    }
    if (i % 4 != 1 || i % 3 == 0) {
      if ((i % 2 ? fdatasync(log) : fsync(log)) != 0) {
        printf("FAIL record %u: fsync (errno %d)\n", i, errno);
        return;
      }
      printf("fsynced %u\n", i);
    }
  }
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) {
    printf("usage: disk_write ROOT [fill]\n");
    return 2;
  }
  snprintf(g_root, sizeof g_root, "%s", argv[1]);
  if (argc > 2 && strcmp(argv[2], "touch") == 0) {
    write_file("after_crash", "written after the crash\n", 24, 0, O_TRUNC);
    struct statfs sf;
    CHECK(statfs(g_root, &sf) == 0, "statfs");
    if (g_failed) return 1;
    printf("PASS disk_write\n");
    return 0;
  }
  if (argc > 2 && strcmp(argv[2], "loop") == 0) {
    CHECK(mkdir(P("loop"), 0755) == 0, "mkdir loop");
    loop();
    return 1; /* it returns only when a record could not be written */
  }
  changes();
  if (argc > 2 && strcmp(argv[2], "fill") == 0) fill();
  if (argc > 2 && strcmp(argv[2], "threads") == 0) threads();
  if (argc > 2 && strcmp(argv[2], "htree") == 0) htree();
  if (argc > 2 && strcmp(argv[2], "frag") == 0) frag();
  if (argc > 2 && strcmp(argv[2], "falloc") == 0) falloc();
  if (argc > 2 && strcmp(argv[2], "xattr") == 0) xattrs();
  if (g_failed) return 1;
  printf("PASS disk_write\n");
  return 0;
}
