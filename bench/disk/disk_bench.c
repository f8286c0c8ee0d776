/* bench/disk: the guest side of the disk benchmark (bench/disk/run.py).
 *
 * Runs as the whole guest over an ext4 file system on a virtio-blk disk
 * mounted at DIR (Capsule: `--disk IMG:/data`; Linux: this program is
 * /init, loads the cloud kernel's virtio modules, mounts devtmpfs and
 * then /dev/vda on DIR). The image comes from the host (mke2fs -d) with
 * two files of random bytes that nothing has read yet: seq (32 MiB) and
 * rand (64 MiB), so their first reads come from the disk in both guests.
 * Prints `bench: <key> <value>` (bench/guest_bench.h):
 *   seq_write_mb_s    a new 32 MiB file in 1 MiB write()s, then fsync
 *   seq_read_mb_s     seq read in 1 MiB read()s (cold)
 *   rand_read_iops    4 KiB pread()s at random 4 KiB offsets of rand (cold)
 *   rand_write_iops   4 KiB pwrite()s at random offsets of rand (blocks
 *                     already allocated), then one fsync, in the time
 *   fsync_p50_us,     append 4 KiB to a log file + fsync, each timed
 *   fsync_p99_us
 *   sqlite_commits_s  sqlite INSERTs, each its own transaction (the default
 *                     rollback journal, synchronous FULL)
 *   sqlite_rows_s     sqlite INSERTs in one transaction
 * Arguments: [--poweroff] [--linux MOD...] [--tsc-rate=KHZ] [--scale=F] DIR */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../guest_bench.h"
#include "../linux_init.h"

#define MIB (1 << 20)

static double scale = 1.0;
static unsigned char* buf;

static void die(const char* what) {
  printf("disk_bench: FAIL %s: %s\n", what, strerror(errno));
  finish(1);
}

static int scaled(int n) {
  int v = (int)(n * scale);
  return v < 1 ? 1 : v;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Linux as /init: the cloud kernel builds virtio as modules. */
static void linux_setup(char** mods, int n, const char* dir) {
  mkdir("/dev", 0755);
  if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) != 0 && errno != EBUSY) die("mount devtmpfs");
  for (int i = 0; i < n; ++i) {
    const char* failed = linux_load_module(mods[i]);
    if (failed) die(failed);
  }
  const char* failed = linux_mount_vda(dir);
  if (failed) die(failed);
}

static int open_at(const char* dir, const char* name, int flags) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, flags, 0644);
  if (fd < 0) die(path);
  return fd;
}

static void seq_write(const char* dir) {
  int mibs = scaled(32);
  int fd = open_at(dir, "written", O_WRONLY | O_CREAT | O_TRUNC);
  for (int i = 0; i < MIB; ++i) buf[i] = (unsigned char)next_random();
  double t0 = now_ns();
  for (int i = 0; i < mibs; ++i)
    if (write(fd, buf, MIB) != MIB) die("write written");
  if (fsync(fd) != 0) die("fsync written");
  double t = now_ns() - t0;
  close(fd);
  figure("seq_write_mb_s", mibs * (double)MIB / 1e6 / (t / 1e9));
}

static void seq_read(const char* dir) {
  int fd = open_at(dir, "seq", O_RDONLY);
  double t0 = now_ns();
  long total = 0;
  for (;;) {
    ssize_t r = read(fd, buf, MIB);
    if (r < 0) die("read seq");
    if (r == 0) break;
    total += r;
  }
  double t = now_ns() - t0;
  close(fd);
  if (total != 32 * MIB) die("seq is not 32 MiB");
  figure("seq_read_mb_s", total / 1e6 / (t / 1e9));
}

static void rand_io(const char* dir) {
  int fd = open_at(dir, "rand", O_RDWR);
  const uint64_t blocks = (64 * MIB) / 4096;
  int n = scaled(2000);
  double t0 = now_ns();
  for (int i = 0; i < n; ++i)
    if (pread(fd, buf, 4096, (off_t)(next_random() % blocks) * 4096) != 4096) die("pread rand");
  double t = now_ns() - t0;
  figure("rand_read_iops", n / (t / 1e9));
  t0 = now_ns();
  for (int i = 0; i < n; ++i) {
    buf[0] = (unsigned char)i;
    if (pwrite(fd, buf, 4096, (off_t)(next_random() % blocks) * 4096) != 4096) die("pwrite rand");
  }
  if (fsync(fd) != 0) die("fsync rand");
  t = now_ns() - t0;
  figure("rand_write_iops", n / (t / 1e9));
  close(fd);
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static void fsync_latency(const char* dir) {
  int n = scaled(200);
  double* lat = malloc(sizeof(double) * (size_t)n);
  int fd = open_at(dir, "log", O_WRONLY | O_CREAT | O_APPEND);
  for (int i = 0; i < n; ++i) {
    buf[0] = (unsigned char)i;
    double t0 = now_ns();
    if (write(fd, buf, 4096) != 4096) die("write log");
    if (fsync(fd) != 0) die("fsync log");
    lat[i] = (now_ns() - t0) / 1e3;
  }
  close(fd);
  qsort(lat, (size_t)n, sizeof(double), cmp_double);
  figure("fsync_p50_us", lat[n / 2]);
  figure("fsync_p99_us", lat[(int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1]);
  free(lat);
}

static void sql(sqlite3* db, const char* s) {
  char* err = NULL;
  if (sqlite3_exec(db, s, NULL, NULL, &err) != SQLITE_OK) {
    printf("disk_bench: FAIL sqlite %s: %s\n", s, err ? err : "?");
    finish(1);
  }
}

static void insert(sqlite3_stmt* st, int i) {
  char text[64];
  snprintf(text, sizeof text, "row %d of the benchmark", i);
  sqlite3_bind_int(st, 1, i);
  sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(st, 3, i * 0.5);
  if (sqlite3_step(st) != SQLITE_DONE) {
    printf("disk_bench: FAIL sqlite insert %d\n", i);
    finish(1);
  }
  sqlite3_reset(st);
}

static void sqlite_inserts(const char* dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/bench.db", dir);
  sqlite3* db;
  if (sqlite3_open(path, &db) != SQLITE_OK) die("sqlite3_open");
  sql(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, value REAL);");
  sqlite3_stmt* st;
  if (sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?, ?, ?);", -1, &st, NULL) != SQLITE_OK) die("prepare");
  int n = scaled(100);
  double t0 = now_ns();
  for (int i = 0; i < n; ++i) insert(st, i);
  double t = now_ns() - t0;
  figure("sqlite_commits_s", n / (t / 1e9));
  int rows = scaled(20000);
  t0 = now_ns();
  sql(db, "BEGIN;");
  for (int i = 0; i < rows; ++i) insert(st, n + i);
  sql(db, "COMMIT;");
  t = now_ns() - t0;
  figure("sqlite_rows_s", rows / (t / 1e9));
  sqlite3_finalize(st);
  sqlite3_close(db);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* dir = NULL;
  char** mods = NULL;
  int nmods = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--poweroff") == 0) {
      poweroff = 1;
    } else if (strncmp(argv[i], "--tsc-rate=", 11) == 0) {
      tsc_khz = atof(argv[i] + 11);
    } else if (strncmp(argv[i], "--scale=", 8) == 0) {
      scale = atof(argv[i] + 8);
    } else if (strcmp(argv[i], "--linux") == 0) {
      mods = argv + i + 1;
      while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 && argv[i + 1][0] != '/') ++i, ++nmods;
    } else {
      dir = argv[i];
    }
  }
  if (!dir) {
    printf("usage: disk_bench [--poweroff] [--linux MOD...] [--tsc-rate=KHZ] [--scale=F] DIR\n");
    finish(2);
  }
  if (mods) linux_setup(mods, nmods, dir);
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) use_rdtsc = 1;
  fact("timer", use_rdtsc ? "rdtsc" : "clock_gettime");
  buf = aligned_alloc(4096, MIB);
  if (!buf) die("malloc");
  seq_read(dir);
  rand_io(dir);
  seq_write(dir);
  fsync_latency(dir);
  sqlite_inserts(dir);
  fact("done", "ok");
  finish(0);
  return 0;
}
