/* Sparse files on tmpfs (ramfs in the VM): a 4 GiB file holding a few
 * bytes at its end is read, mapped shared and private and copied, and
 * nothing is allocated for its holes; st_blocks, SEEK_DATA/SEEK_HOLE,
 * fallocate's PUNCH_HOLE, truncation, and statfs's figures on a small
 * tmpfs filled to ENOSPC (write, fallocate, and SIGBUS for a shared
 * mapping's write fault), then emptied again.
 *
 * The VM runs it with little memory: mapping and touching the 4 GiB file
 * must not allocate its holes. Natively it uses /dev/shm and a tmpfs in a
 * private mount namespace. Linux allocates a page for a hole that a
 * mapping touches (shmem has no zero page for files) and for the zeros
 * copy_file_range/sendfile copy; those st_blocks checks run in the VM only.
 */
/* abi-test: MEM 128M TIMEOUT 300 */
#include "check.h"

#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define PG 4096L
#define BIG (4L << 30)
#define TAIL "sparse-end"
#define TAIL_LEN 10
#define TMPFS_MAGIC_ 0x01021994

static int g_vm;

static int in_capsule(void) {
  struct utsname u;
  return uname(&u) == 0 && strstr(u.release, "capsule") != NULL;
}

static long blocks_of(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  return (long)st.st_blocks;
}

static int all_zero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return 0;
  return 1;
}

static char g_path[128], g_path2[128], g_path3[128], g_seek[128];

/* The 4 GiB file: a few bytes at the end, read and mapped both ways. */
static void test_big(void) {
  int fd = open(g_path, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(fd >= 0, "open %s: %s", g_path, strerror(errno));
  if (fd < 0) return;
  CHECK(ftruncate(fd, BIG) == 0, "ftruncate 4 GiB: %s", strerror(errno));
  CHECK(blocks_of(fd) == 0, "a 4 GiB hole holds no blocks: %ld", blocks_of(fd));
  CHECK(pwrite(fd, TAIL, TAIL_LEN, BIG - TAIL_LEN) == TAIL_LEN, "the tail");
  CHECK(blocks_of(fd) == PG / 512, "one page written: st_blocks %ld", blocks_of(fd));

  /* read() of holes: zeros, nothing allocated. */
  static char buf[3 * PG];
  memset(buf, 0x5a, sizeof(buf));
  CHECK(pread(fd, buf, sizeof(buf), 1L << 30) == (ssize_t)sizeof(buf) && all_zero(buf, sizeof(buf)), "hole reads 0");
  CHECK(pread(fd, buf, 100, BIG - 100) == 100 && all_zero(buf, 90) && memcmp(buf + 90, TAIL, TAIL_LEN) == 0,
        "the last page");
  CHECK(pread(fd, buf, 100, BIG) == 0, "EOF");
  CHECK(blocks_of(fd) == PG / 512, "reading holes allocates nothing: %ld", blocks_of(fd));

  /* MAP_SHARED, read only: the tail and some holes. */
  char* s = mmap(NULL, BIG, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(s != MAP_FAILED, "mmap shared 4 GiB: %s", strerror(errno));
  if (s != MAP_FAILED) {
    CHECK(memcmp(s + BIG - TAIL_LEN, TAIL, TAIL_LEN) == 0, "the tail through MAP_SHARED");
    long sum = 0;
    for (long off = 0; off < BIG; off += 256L << 20) sum += s[off] + s[off + 4095];
    CHECK(sum == 0, "holes read 0 through MAP_SHARED");
    if (g_vm) CHECK(blocks_of(fd) == PG / 512, "shared read faults allocate nothing: %ld", blocks_of(fd));
    munmap(s, BIG);
  }

  /* MAP_PRIVATE, writable: reads see the file, a write is private. */
  char* p = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(p != MAP_FAILED, "mmap private 4 GiB: %s", strerror(errno));
  if (p != MAP_FAILED) {
    CHECK(memcmp(p + BIG - TAIL_LEN, TAIL, TAIL_LEN) == 0, "the tail through MAP_PRIVATE");
    CHECK(p[2L << 30] == 0 && p[3L << 30] == 0, "holes read 0 through MAP_PRIVATE");
    p[2L << 30] = 'p';
    CHECK(p[2L << 30] == 'p', "a private write");
    char c = 1;
    CHECK(pread(fd, &c, 1, 2L << 30) == 1 && c == 0, "not in the file");
    if (g_vm) CHECK(blocks_of(fd) == PG / 512, "a private write allocates nothing in the file: %ld", blocks_of(fd));
    munmap(p, BIG);
  }

  /* MAP_SHARED, writable: a write fault on a hole gives the file a page,
   * after a read fault mapped it first. */
  s = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(s != MAP_FAILED, "mmap shared rw: %s", strerror(errno));
  if (s != MAP_FAILED) {
    CHECK(s[1L << 30] == 0, "read first");
    s[1L << 30] = 'w';
    char c = 0;
    CHECK(pread(fd, &c, 1, 1L << 30) == 1 && c == 'w', "a shared write reaches the file: %d", c);
    long b = blocks_of(fd);
    if (g_vm) CHECK(b == 2 * PG / 512, "a shared write fault allocates one page: %ld", b);
    else CHECK(b >= 2 * PG / 512, "st_blocks %ld", b);

    /* write() into a hole a mapping has read: the mapping sees it. */
    volatile char* v = s + (1L << 31) + 5 * PG;
    CHECK(*v == 0, "hole");
    char* q = mmap(NULL, BIG, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(q != MAP_FAILED && q[(1L << 31) + 5 * PG] == 0, "hole, private");
    CHECK(pwrite(fd, "W", 1, (1L << 31) + 5 * PG) == 1, "pwrite");
    CHECK(*v == 'W', "MAP_SHARED sees the write into the hole it read: %d", *v);
    if (q != MAP_FAILED) {
      CHECK(q[(1L << 31) + 5 * PG] == 'W', "an unwritten MAP_PRIVATE page too: %d", q[(1L << 31) + 5 * PG]);
      munmap(q, BIG);
    }

    /* read() into a hole of another file's shared mapping: the copy
     * finds the page (the destination file gets it). */
    int fd2 = open(g_path2, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd2 >= 0 && ftruncate(fd2, 1L << 20) == 0, "second file");
    char* d = mmap(NULL, 1L << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
    CHECK(d != MAP_FAILED, "mmap second");
    if (d != MAP_FAILED) {
      CHECK(pread(fd, d + 3 * PG, 100, BIG - 100) == 100, "read() into a mapped hole: %s", strerror(errno));
      CHECK(memcmp(d + 3 * PG + 90, TAIL, TAIL_LEN) == 0, "the bytes");
      char t[TAIL_LEN];
      CHECK(pread(fd2, t, TAIL_LEN, 3 * PG + 90) == TAIL_LEN && memcmp(t, TAIL, TAIL_LEN) == 0, "in the file");
      /* write() from a mapped hole: zeros. */
      CHECK(pwrite(fd, d + 7 * PG, 16, 0) == 16, "write() from a mapped hole: %s", strerror(errno));
      munmap(d, 1L << 20);
    }
    close(fd2);
    unlink(g_path2);
    munmap(s, BIG);
  }
  close(fd);
  unlink(g_path);
}

/* SEEK_DATA / SEEK_HOLE at page granularity (tmpfs), bad whence. */
static void test_seek(void) {
  /* Data: page 0 (16 bytes), 1 GiB, 2 GiB + 5 pages, the last page;
   * written with pwrite only (Linux allocates a hole a mapping reads). */
  int fd = open(g_seek, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(fd >= 0, "open %s", g_seek);
  if (fd < 0) return;
  static const char zeros[16];
  CHECK(pwrite(fd, zeros, 16, 0) == 16 && pwrite(fd, "w", 1, 1L << 30) == 1 &&
            pwrite(fd, "W", 1, (1L << 31) + 5 * PG) == 1 && pwrite(fd, TAIL, TAIL_LEN, BIG - TAIL_LEN) == TAIL_LEN,
        "the layout");
  CHECK(blocks_of(fd) == 4 * PG / 512, "four pages: %ld", blocks_of(fd));
  CHECK(lseek(fd, 0, SEEK_DATA) == 0, "SEEK_DATA 0: %ld", (long)lseek(fd, 0, SEEK_DATA));
  CHECK(lseek(fd, 0, SEEK_HOLE) == PG, "SEEK_HOLE 0: %ld", (long)lseek(fd, 0, SEEK_HOLE));
  CHECK(lseek(fd, 100, SEEK_HOLE) == PG, "SEEK_HOLE in data");
  CHECK(lseek(fd, PG + 1, SEEK_HOLE) == PG + 1, "SEEK_HOLE in a hole: itself");
  CHECK(lseek(fd, PG, SEEK_DATA) == 1L << 30, "SEEK_DATA to 1 GiB: %ld", (long)lseek(fd, PG, SEEK_DATA));
  CHECK(lseek(fd, (1L << 30) + 7, SEEK_DATA) == (1L << 30) + 7, "SEEK_DATA in data: itself");
  CHECK(lseek(fd, (1L << 30) + PG, SEEK_DATA) == (1L << 31) + 5 * PG, "SEEK_DATA to 2 GiB");
  CHECK(lseek(fd, (1L << 31) + 6 * PG, SEEK_DATA) == BIG - PG, "SEEK_DATA to the last page");
  CHECK(lseek(fd, BIG - PG, SEEK_HOLE) == BIG, "SEEK_HOLE at the end: the size");
  CHECK(lseek(fd, 0, SEEK_CUR) == BIG, "the offset moved");
  EXPECT_ERR(ENXIO, lseek(fd, BIG, SEEK_DATA));
  EXPECT_ERR(ENXIO, lseek(fd, BIG, SEEK_HOLE));
  EXPECT_ERR(ENXIO, lseek(fd, BIG + 5, SEEK_DATA));
  EXPECT_ERR(ENXIO, lseek(fd, -1, SEEK_DATA));
  EXPECT_ERR(ENXIO, lseek(fd, -1, SEEK_HOLE));
  EXPECT_ERR(EINVAL, lseek(fd, 0, 5));
  EXPECT_ERR(EINVAL, lseek(fd, 0, -1));
  EXPECT_ERR(EBADF, lseek(-1, 0, SEEK_DATA));
  long b = blocks_of(fd);

  /* PUNCH_HOLE frees pages; a partial page is zeroed and kept. */
  EXPECT_ERR(EOPNOTSUPP, fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, PG));
  EXPECT_ERR(EINVAL, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 0));
  EXPECT_ERR(EINVAL, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, -1, PG));
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BIG - PG, PG) == 0, "punch the last page");
  CHECK(blocks_of(fd) == b - PG / 512, "one page less: %ld -> %ld", b, blocks_of(fd));
  char buf[TAIL_LEN] = {1};
  CHECK(pread(fd, buf, TAIL_LEN, BIG - TAIL_LEN) == TAIL_LEN && all_zero(buf, TAIL_LEN), "punched bytes read 0");
  CHECK(lseek(fd, (1L << 31) + 6 * PG, SEEK_DATA) == -1 && errno == ENXIO, "no data after 2 GiB now");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == BIG, "KEEP_SIZE");
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20) == 0, "punch inside page 0");
  CHECK(blocks_of(fd) == b - PG / 512, "a partial punch frees nothing");
  CHECK(lseek(fd, 0, SEEK_DATA) == 0, "page 0 still data");

  /* Shrinking frees what lies past the end; growing adds holes only. */
  CHECK(ftruncate(fd, PG) == 0, "shrink");
  CHECK(blocks_of(fd) == PG / 512, "page 0 left: %ld", blocks_of(fd));
  CHECK(ftruncate(fd, BIG) == 0, "grow");
  CHECK(blocks_of(fd) == PG / 512, "growing allocates nothing");
  CHECK(pread(fd, buf, 1, 1L << 30) == 1 && buf[0] == 0, "the old data is gone");
  close(fd);
}

/* PUNCH_HOLE on a mapped file frees the pages too: shared mappings read
 * zeros there afterwards, a private copy made before stays. */
static void test_punch_mapped(void) {
  int fd = open(g_path2, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(fd >= 0, "open");
  if (fd < 0) return;
  static char page[4 * PG];
  memset(page, 'm', sizeof(page));
  CHECK(pwrite(fd, page, sizeof(page), 0) == (ssize_t)sizeof(page), "4 pages");
  char* s = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  char* p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(s != MAP_FAILED && p != MAP_FAILED, "mmap");
  if (s != MAP_FAILED && p != MAP_FAILED) {
    CHECK(s[PG] == 'm' && p[2 * PG] == 'm', "mapped");
    p[PG] = 'P';  /* a private copy of page 1 */
    CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PG, 2 * PG) == 0, "punch pages 1-2");
    CHECK(blocks_of(fd) == 2 * PG / 512, "two pages left: %ld", blocks_of(fd));
    CHECK(s[PG] == 0 && s[2 * PG + 7] == 0 && s[3 * PG] == 'm' && s[0] == 'm', "shared: zeros where punched");
    CHECK(p[PG] == 'P' && p[PG + 1] == 'm', "the private copy stays");
    CHECK(p[2 * PG] == 0, "an unwritten private page follows the file");
    s[2 * PG] = 'n';  /* fills the hole again */
    char c = 0;
    CHECK(pread(fd, &c, 1, 2 * PG) == 1 && c == 'n', "a write fault after the punch reaches the file");
    CHECK(p[2 * PG] == 'n', "and the private mapping sees it");
  }
  if (s != MAP_FAILED) munmap(s, 4 * PG);
  if (p != MAP_FAILED) munmap(p, 4 * PG);

  /* read() and write() of a file through a mapping of its own holes. */
  CHECK(ftruncate(fd, 16 * PG) == 0, "grow");
  s = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(s != MAP_FAILED, "mmap");
  if (s != MAP_FAILED) {
    CHECK(pread(fd, s + 8 * PG, 2 * PG, 0) == 2 * PG, "read() into its own hole: %s", strerror(errno));
    CHECK(s[8 * PG] == 'm' && s[9 * PG] == 0, "the bytes");
    CHECK(pwrite(fd, s + 12 * PG, 100, 3 * PG) == 100, "write() from its own hole: %s", strerror(errno));
    CHECK(s[3 * PG] == 0 && s[3 * PG + 99] == 0 && s[3 * PG + 100] == 'm', "zeros written");
    munmap(s, 16 * PG);
  }
  close(fd);
  unlink(g_path2);
}

/* copy_file_range and sendfile from a sparse file: the data arrives. */
static void test_copy(void) {
  int in = open(g_seek, O_RDWR);
  CHECK(in >= 0, "reopen");
  if (in < 0) return;
  CHECK(pwrite(in, "mid", 3, 6 * PG + 5) == 3, "data in the middle");
  int out = open(g_path3, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(out >= 0, "destination");
  loff_t oi = 0, oo = 0;
  const long n = 8L << 20;
  ssize_t r = copy_file_range(in, &oi, out, &oo, n, 0);
  CHECK(r == n && oi == n && oo == n, "copy_file_range: %zd", r);
  struct stat st;
  CHECK(fstat(out, &st) == 0 && st.st_size == n, "size %ld", (long)st.st_size);
  char buf[16] = {0};
  CHECK(pread(out, buf, 16, 0) == 16 && all_zero(buf, 16), "page 0");
  CHECK(pread(out, buf, 3, 6 * PG + 5) == 3 && memcmp(buf, "mid", 3) == 0, "the middle");
  CHECK(pread(out, buf, 8, n - 8) == 8 && all_zero(buf, 8), "zeros at the end");
  if (g_vm) CHECK(blocks_of(out) == 2 * PG / 512, "holes copied as holes: st_blocks %ld", blocks_of(out));
  /* Onto data: the zeros must overwrite it. */
  CHECK(pwrite(out, "XXXX", 4, 3 * PG) == 4, "data in the destination");
  oi = 2 * PG, oo = 2 * PG;
  CHECK(copy_file_range(in, &oi, out, &oo, 4 * PG, 0) == 4 * PG, "copy over data");
  CHECK(pread(out, buf, 4, 3 * PG) == 4 && all_zero(buf, 4), "overwritten with zeros");
  /* sendfile into a fresh file. */
  CHECK(ftruncate(out, 0) == 0, "empty");
  off_t so = 0;
  CHECK(lseek(out, 0, SEEK_SET) == 0, "rewind");
  CHECK(sendfile(out, in, &so, n) == n && so == n, "sendfile");
  CHECK(fstat(out, &st) == 0 && st.st_size == n, "size %ld", (long)st.st_size);
  CHECK(pread(out, buf, 3, 6 * PG + 5) == 3 && memcmp(buf, "mid", 3) == 0, "the middle");
  if (g_vm) CHECK(blocks_of(out) == 2 * PG / 512, "sendfile: st_blocks %ld", blocks_of(out));
  close(out);
  close(in);
  unlink(g_path3);
}

static sigjmp_buf g_jmp;
static void on_bus(int sig) { siglongjmp(g_jmp, sig); }

/* A 1 MiB tmpfs: statfs's figures follow what is written, ENOSPC when
 * full, SIGBUS for a shared mapping's write fault past the limit. */
static void test_limit(const char* dir) {
  char f1[160], f2[160];
  snprintf(f1, sizeof(f1), "%s/a", dir);
  snprintf(f2, sizeof(f2), "%s/b", dir);
  struct statfs s0, s;
  CHECK(statfs(dir, &s0) == 0, "statfs");
  CHECK(s0.f_type == TMPFS_MAGIC_ && s0.f_bsize == PG, "tmpfs %lx bsize %ld", (long)s0.f_type, (long)s0.f_bsize);
  CHECK(s0.f_blocks == 256 && s0.f_bfree == 256 && s0.f_bavail == 256, "size=1m: %ld blocks, %ld free, %ld avail",
        (long)s0.f_blocks, (long)s0.f_bfree, (long)s0.f_bavail);
  CHECK(s0.f_files > 0 && s0.f_ffree > 0 && s0.f_ffree <= s0.f_files, "inodes %ld free of %ld", (long)s0.f_ffree,
        (long)s0.f_files);
  int fd = open(f1, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(fd >= 0, "create");
  CHECK(statfs(dir, &s) == 0 && s.f_ffree == s0.f_ffree - 1, "a file is an inode: %ld -> %ld", (long)s0.f_ffree,
        (long)s.f_ffree);
  static char page[16 * PG];
  memset(page, 'd', sizeof(page));
  CHECK(write(fd, page, 10 * PG) == 10 * PG, "10 pages");
  CHECK(statfs(dir, &s) == 0 && s.f_bfree == 246 && s.f_bavail == 246, "free 246: %ld", (long)s.f_bfree);
  CHECK(ftruncate(fd, 4L << 20) == 0, "a 4 MiB file on a 1 MiB file system (sparse)");
  CHECK(statfs(dir, &s) == 0 && s.f_bfree == 246, "holes cost nothing: %ld", (long)s.f_bfree);
  CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * PG, 4 * PG) == 0, "punch 4 pages");
  CHECK(statfs(dir, &s) == 0 && s.f_bfree == 250, "free 250: %ld", (long)s.f_bfree);
  EXPECT_ERR(ENOSPC, fallocate(fd, 0, 0, 2L << 20));
  CHECK(statfs(dir, &s) == 0 && s.f_bfree == 250, "a failed fallocate gives back: %ld", (long)s.f_bfree);

  /* Fill it. */
  int fd2 = open(f2, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(fd2 >= 0, "second file");
  long total = 0;
  int err = 0;
  for (int i = 0; i < 64; ++i) {  /* 64 x 64 KiB > 1 MiB */
    ssize_t w = write(fd2, page, sizeof(page));
    if (w < 0) {
      err = errno;
      break;
    }
    total += w;
  }
  CHECK(err == ENOSPC, "full: errno %d after %ld bytes", err, total);
  CHECK(total == 250 * PG, "every free page taken: %ld", total);
  CHECK(statfs(dir, &s) == 0 && s.f_bfree == 0 && s.f_bavail == 0 && s.f_blocks == 256, "none free: %ld of %ld",
        (long)s.f_bfree, (long)s.f_blocks);
  EXPECT_ERR(ENOSPC, write(fd, page, PG));
  EXPECT_ERR(ENOSPC, fallocate(fd, 0, 20 * PG, PG));
  EXPECT_ERR(ENOSPC, pwrite(fd, page, 1, 3 * PG));  /* into a hole */

  /* A shared mapping's write fault on a hole: SIGBUS (tmpfs). Reading
   * it still works. */
  char* m = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap");
  if (m != MAP_FAILED) {
    CHECK(m[0] == 'd', "data through the mapping");
    m[1] = 'e';  /* a page it has: fine */
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_bus;
    sigaction(SIGBUS, &sa, &old);
    volatile int got = 0;
    if (sigsetjmp(g_jmp, 1) == 0) {
      m[3 * PG] = 'x';
    } else {
      got = 1;
    }
    sigaction(SIGBUS, &old, NULL);
    CHECK(got, "SIGBUS for a write fault past the limit");
    munmap(m, 8 * PG);
  }
  CHECK(statfs(dir, &s) == 0 && s.f_bfree == 0, "still consistent: %ld", (long)s.f_bfree);

  /* Emptied: every block and inode comes back. */
  CHECK(ftruncate(fd2, 0) == 0, "truncate");
  CHECK(statfs(dir, &s) == 0 && s.f_bfree == 250, "the second file's pages back: %ld", (long)s.f_bfree);
  CHECK(write(fd, page, PG) == PG, "room again");
  close(fd);
  close(fd2);
  CHECK(unlink(f1) == 0 && unlink(f2) == 0, "unlink");
  CHECK(statfs(dir, &s) == 0 && s.f_bfree == 256 && s.f_ffree == s0.f_ffree, "all back: %ld blocks, %ld inodes",
        (long)s.f_bfree, (long)s.f_ffree);
}

static void run_limit(void) {
  char dir[64];
  snprintf(dir, sizeof(dir), "/dev/shm/abi_sparse.%d.mnt", (int)getpid());
  if (mkdir(dir, 0700) != 0) {
    CHECK(0, "mkdir %s: %s", dir, strerror(errno));
    return;
  }
  /* Natively: a private mount namespace, so the host sees nothing. */
  if (unshare(CLONE_NEWNS) == 0) {
    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  } else if (!g_vm) {
    printf("abi_sparse: no mount namespace (%s): the size-limit checks are skipped\n", strerror(errno));
    rmdir(dir);
    return;
  }
  if (mount("none", dir, "tmpfs", 0, "size=1m") != 0) {
    if (g_vm) CHECK(0, "mount tmpfs: %s", strerror(errno));
    else printf("abi_sparse: cannot mount a tmpfs (%s): the size-limit checks are skipped\n", strerror(errno));
    rmdir(dir);
    return;
  }
  test_limit(dir);
  /* Bad options: what Linux's tmpfs says. */
  EXPECT_ERR(EINVAL, mount("none", dir, "tmpfs", 0, "size=12q"));
  EXPECT_ERR(EINVAL, mount("none", dir, "tmpfs", 0, "size="));
  CHECK(umount(dir) == 0, "umount");
  rmdir(dir);
}

int main(void) {
  g_vm = in_capsule();
  snprintf(g_path, sizeof(g_path), "/dev/shm/abi_sparse.%d", (int)getpid());
  snprintf(g_path2, sizeof(g_path2), "/dev/shm/abi_sparse.%d.2", (int)getpid());
  snprintf(g_path3, sizeof(g_path3), "/dev/shm/abi_sparse.%d.3", (int)getpid());
  snprintf(g_seek, sizeof(g_seek), "/dev/shm/abi_sparse.%d.seek", (int)getpid());
  test_big();
  test_seek();
  test_punch_mapped();
  test_copy();
  unlink(g_seek);
  run_limit();
  return finish("abi_sparse");
}
