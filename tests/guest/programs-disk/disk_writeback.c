/* disk_writeback: overwrites in place on an ext4 disk that no fsync asks
 * for (docs/ext4.md "Write-back"), checked from the host by disk_test.py's
 * writeback case.
 *
 *   disk_writeback DIR exit     overwrite parts of DIR/f (made by the host:
 *                               f_size bytes of 'A'), read them back, exit:
 *                               the exit must write them back
 *   disk_writeback DIR flusher  overwrite, print "written", sleep 12 s (two
 *                               flusher periods), print "slept", then wait
 *                               for the host's kill -9: the flusher must
 *                               have written them back
 *   disk_writeback DIR sync     the same overwrites through an O_DSYNC
 *                               descriptor, a new DIR/n written with O_SYNC
 *                               (three 10000-byte appends: allocation, the
 *                               size), a new DIR/p given 20000 bytes by one
 *                               pwritev2(RWF_DSYNC); print "synced" and wait
 *                               for the host's kill -9, which comes before
 *                               any flusher period: each write must have
 *                               been on stable storage when it returned
 *   disk_writeback DIR evict    overwrite 16 MiB of DIR/f (more than the
 *                               dirty limit of a 64 MiB VM), read all of
 *                               DIR/big (48 MiB: eviction), then check f's
 *                               pages and exit
 *
 * Every overwrite is of bytes the file has (the size never changes); what
 * is written is pattern(offset, seed), which the host computes the same way.
 * Prints "PASS disk_writeback MODE" or "FAIL ...". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static void fail(const char* what) {
  printf("FAIL %s: %s\n", what, strerror(errno));
  fflush(stdout);
  exit(1);
}

static unsigned char pattern(long long pos, int seed) { return (unsigned char)((pos * 7 + seed * 13 + pos / 4096) & 0xff); }

static char g_buf[1 << 20];

static void overwrite(int fd, long long off, size_t n, int seed) {
  for (size_t i = 0; i < n; ++i) g_buf[i] = (char)pattern(off + (long long)i, seed);
  if (pwrite(fd, g_buf, n, off) != (ssize_t)n) fail("pwrite");
}

static void fill(long long off, size_t n, int seed) {
  for (size_t i = 0; i < n; ++i) g_buf[i] = (char)pattern(off + (long long)i, seed);
}

static void check(int fd, long long off, size_t n, int seed) {
  if (pread(fd, g_buf, n, off) != (ssize_t)n) fail("pread");
  for (size_t i = 0; i < n; ++i)
    if ((unsigned char)g_buf[i] != pattern(off + (long long)i, seed)) {
      errno = EIO;
      printf("at %lld: ", off + (long long)i);
      fail("read back");
    }
}

/* The overwrites of the exit and flusher modes: page-aligned, unaligned and
 * across a page boundary. Keep in step with disk_test.py WRITEBACK_PIECES. */
static const struct {
  long long off;
  size_t n;
  int seed;
} pieces[] = {{4096, 4096, 1}, {40000, 5000, 2}, {61440 - 100, 200, 3}};

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc != 3) {
    printf("usage: disk_writeback DIR exit|flusher|sync|evict\n");
    return 2;
  }
  char path[256];
  snprintf(path, sizeof path, "%s/f", argv[1]);
  int fd = open(path, O_RDWR);
  if (fd < 0) fail(path);
  struct stat before;
  if (fstat(fd, &before) != 0) fail("fstat");
  const char* mode = argv[2];
  if (strcmp(mode, "exit") == 0 || strcmp(mode, "flusher") == 0) {
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; ++i) overwrite(fd, pieces[i].off, pieces[i].n, pieces[i].seed);
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; ++i) check(fd, pieces[i].off, pieces[i].n, pieces[i].seed);
    struct stat after;
    if (fstat(fd, &after) != 0) fail("fstat");
    if (after.st_size != before.st_size) {
      errno = EINVAL;
      fail("the size changed");
    }
    if (strcmp(mode, "flusher") == 0) {
      printf("written\n");
      sleep(12);
      printf("slept\n");
      for (;;) pause();
    }
  } else if (strcmp(mode, "sync") == 0) {
    int dfd = open(path, O_RDWR | O_DSYNC);
    if (dfd < 0) fail("open O_DSYNC");
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; ++i) overwrite(dfd, pieces[i].off, pieces[i].n, pieces[i].seed);
    close(dfd);
    snprintf(path, sizeof path, "%s/n", argv[1]);
    int n = open(path, O_CREAT | O_WRONLY | O_SYNC, 0644);
    if (n < 0) fail("open O_SYNC");
    for (long long off = 0; off < 30000; off += 10000) {
      fill(off, 10000, 4);
      if (write(n, g_buf, 10000) != 10000) fail("write O_SYNC");
    }
    close(n);
    snprintf(path, sizeof path, "%s/p", argv[1]);
    int p = open(path, O_CREAT | O_WRONLY, 0644);
    if (p < 0) fail("open p");
    fill(0, 20000, 6);
    struct iovec v = {g_buf, 20000};
    if (pwritev2(p, &v, 1, 0, RWF_DSYNC) != 20000) fail("pwritev2 RWF_DSYNC");
    printf("synced\n");
    for (;;) pause();
  } else if (strcmp(mode, "evict") == 0) {
    const long long total = 16ll << 20;
    for (long long off = 0; off < total; off += sizeof g_buf) overwrite(fd, off, sizeof g_buf, 5);
    snprintf(path, sizeof path, "%s/big", argv[1]);
    int big = open(path, O_RDONLY);
    if (big < 0) fail(path);
    while (read(big, g_buf, sizeof g_buf) > 0) {
    }
    close(big);
    for (long long off = 0; off < total; off += sizeof g_buf) check(fd, off, sizeof g_buf, 5);
  } else {
    printf("usage: disk_writeback DIR exit|flusher|sync|evict\n");
    return 2;
  }
  close(fd);
  printf("PASS disk_writeback %s\n", mode);
  return 0;
}
