/* blk_ops RW_BYTES RO_BYTES: the raw disks through their /dev nodes
 * (tests/guest/disk_test.py "blkops", docs/block.md "Device nodes").
 * Among /dev/vda.. /dev/vdd and /dev/nvme0n1.. nvme3n1, the disk of
 * RW_BYTES (a pattern image: sector N starts "sector %08d\n") is the
 * writable one and the disk of RO_BYTES the read-only one (RO_BYTES 0:
 * none; QEMU's NVMe does not report a read-only drive). On the writable disk: fstat says a block
 * device; BLKGETSIZE64, BLKGETSIZE, BLKSSZGET; a pattern sector read; 11
 * bytes written across a sector boundary (offset 1020) and read back;
 * BLKDISCARD of [1 MiB, 5 MiB); BLKZEROOUT of [6 MiB, 6 MiB + 64 KiB) and
 * fallocate(PUNCH_HOLE|KEEP_SIZE) of [7 MiB, 7 MiB + 64 KiB) (both read back
 * as zeros; fallocate mode 0 is EOPNOTSUPP, a punch not in whole blocks or
 * at the end EINVAL, as Linux's blkdev_fallocate); fsync. Bad input, with Linux's answers (block/ioctl.c,
 * block/fops.c, block/blk-lib.c): a range not in whole logical blocks, past the end or wrapping
 * around is EINVAL, BLKZEROOUT of 0 bytes EINVAL, a bad pointer EFAULT, an
 * unknown request ENOTTY, BLKDISCARD/BLKZEROOUT on a descriptor open
 * read-only EBADF, a write at the end ENOSPC (a read there returns 0). On
 * the read-only disk: BLKROGET says 1, a write and BLKZEROOUT are EPERM,
 * BLKDISCARD EPERM (or EOPNOTSUPP if the device offers no discard).
 * The host then checks the image: zeros where asked, the rest intact,
 * and fewer blocks allocated (the discard punched a hole). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1ull << 20)

static int failures;

static void check(int ok, const char* what) {
  printf("%s %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) failures++;
}

/* The call must fail with `want`. */
static void expect_errno(long r, int want, const char* what) {
  char line[160];
  snprintf(line, sizeof line, "%s: %s (want %s)", what, r < 0 ? strerror(errno) : "succeeded", strerror(want));
  check(r < 0 && errno == want, line);
}

static int open_by_size(uint64_t bytes, int flags, char* name) {
  for (int i = 0; i < 8; i++) {
    if (i < 4)
      snprintf(name, 32, "/dev/vd%c", 'a' + i);
    else
      snprintf(name, 32, "/dev/nvme%dn1", i - 4);
    int fd = open(name, flags);
    if (fd < 0) continue;
    uint64_t size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size) == 0 && size == bytes) return fd;
    close(fd);
  }
  return -1;
}

static void writable_disk(uint64_t bytes) {
  char name[32];
  int fd = open_by_size(bytes, O_RDWR, name);
  check(fd >= 0, "the writable disk opens O_RDWR, found by BLKGETSIZE64");
  if (fd < 0) return;
  printf("writable disk %s\n", name);
  struct stat st;
  check(fstat(fd, &st) == 0 && S_ISBLK(st.st_mode), "fstat: a block device");
  unsigned long sectors = 0;
  check(ioctl(fd, BLKGETSIZE, &sectors) == 0 && sectors == bytes / 512, "BLKGETSIZE: the size in sectors");
  int ssz = 0;
  /* 512, or 4096 on an NVMe namespace of 4 KiB blocks (--nvme-block 4096). */
  check(ioctl(fd, BLKSSZGET, &ssz) == 0 && (ssz == 512 || ssz == 4096), "BLKSSZGET: 512 or 4096");
  printf("logical block size %d\n", ssz);

  char buf[512], want[32];
  snprintf(want, sizeof want, "sector %08d\n", 5);
  check(pread(fd, buf, 512, 5 * 512) == 512 && memcmp(buf, want, strlen(want)) == 0, "pread: sector 5's pattern");
  check(pwrite(fd, "hello, disk", 11, 1020) == 11, "pwrite: 11 bytes across a sector boundary");
  check(pread(fd, buf, 11, 1020) == 11 && memcmp(buf, "hello, disk", 11) == 0, "pread: read back");

  uint64_t range[2] = {1 * MIB, 4 * MIB};
  check(ioctl(fd, BLKDISCARD, range) == 0, "BLKDISCARD [1 MiB, 5 MiB)");
  range[0] = 6 * MIB;
  range[1] = 64 * 1024;
  check(ioctl(fd, BLKZEROOUT, range) == 0, "BLKZEROOUT [6 MiB, 6 MiB + 64 KiB)");
  static char big[64 * 1024], zeros[64 * 1024];
  check(pread(fd, big, sizeof big, 6 * MIB) == (ssize_t)sizeof big && memcmp(big, zeros, sizeof big) == 0,
        "pread: the zeroed range reads as zeros");
  snprintf(want, sizeof want, "sector %08d\n", (int)(6 * MIB / 512 + 128));
  check(pread(fd, buf, 512, 6 * MIB + 64 * 1024) == 512 && memcmp(buf, want, strlen(want)) == 0,
        "pread: the sector after it intact");

  check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 7 * MIB, 64 * 1024) == 0,
        "fallocate PUNCH_HOLE [7 MiB, 7 MiB + 64 KiB)");
  check(pread(fd, big, sizeof big, 7 * MIB) == (ssize_t)sizeof big && memcmp(big, zeros, sizeof big) == 0,
        "pread: the punched range reads as zeros");
  expect_errno(fallocate(fd, 0, 0, 4096), EOPNOTSUPP, "fallocate mode 0 on a disk");
  expect_errno(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 4096), EINVAL,
               "fallocate PUNCH_HOLE from byte 100");
  expect_errno(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, bytes, 4096), EINVAL,
               "fallocate PUNCH_HOLE at the end");

  range[0] = 1;
  range[1] = 512;
  expect_errno(ioctl(fd, BLKDISCARD, range), EINVAL, "BLKDISCARD from byte 1");
  range[0] = 0;
  range[1] = 100;
  expect_errno(ioctl(fd, BLKDISCARD, range), EINVAL, "BLKDISCARD of 100 bytes");
  range[0] = bytes - 512;
  range[1] = 1024;
  expect_errno(ioctl(fd, BLKDISCARD, range), EINVAL, "BLKDISCARD past the end");
  range[0] = UINT64_MAX - 511;
  range[1] = 1024;
  expect_errno(ioctl(fd, BLKDISCARD, range), EINVAL, "BLKDISCARD wrapping around");
  expect_errno(ioctl(fd, BLKZEROOUT, range), EINVAL, "BLKZEROOUT wrapping around");
  range[0] = bytes - 512;
  range[1] = 1024;
  expect_errno(ioctl(fd, BLKZEROOUT, range), EINVAL, "BLKZEROOUT past the end");
  range[0] = 0;
  range[1] = 0;
  expect_errno(ioctl(fd, BLKZEROOUT, range), EINVAL, "BLKZEROOUT of 0 bytes");
  range[0] = bytes;
  range[1] = 0;
  check(ioctl(fd, BLKDISCARD, range) == 0, "BLKDISCARD of 0 bytes at the end: nothing to do");
  expect_errno(ioctl(fd, BLKDISCARD, (void*)8), EFAULT, "BLKDISCARD with a bad pointer");
  expect_errno(ioctl(fd, BLKGETSIZE64, (void*)8), EFAULT, "BLKGETSIZE64 with a bad pointer");
  expect_errno(ioctl(fd, _IO(0x12, 0x55), range), ENOTTY, "an unknown request");
  expect_errno(pwrite(fd, "x", 1, bytes), ENOSPC, "pwrite at the end");
  check(pread(fd, buf, 512, bytes) == 0, "pread at the end: 0");
  check(fsync(fd) == 0, "fsync");

  int ro = open(name, O_RDONLY);
  range[0] = 0;
  range[1] = 512;
  expect_errno(ioctl(ro, BLKDISCARD, range), EBADF, "BLKDISCARD on an O_RDONLY descriptor");
  expect_errno(ioctl(ro, BLKZEROOUT, range), EBADF, "BLKZEROOUT on an O_RDONLY descriptor");
  close(ro);
  close(fd);
}

static void read_only_disk(uint64_t bytes) {
  char name[32];
  int fd = open_by_size(bytes, O_RDWR, name);
  check(fd >= 0, "the read-only disk opens O_RDWR (Linux refuses the writes, not the open)");
  if (fd < 0) return;
  printf("read-only disk %s\n", name);
  int ro = 0;
  check(ioctl(fd, BLKROGET, &ro) == 0 && ro == 1, "BLKROGET: 1");
  expect_errno(pwrite(fd, "x", 1, 0), EPERM, "pwrite on the read-only disk");
  uint64_t range[2] = {0, 512};
  expect_errno(ioctl(fd, BLKZEROOUT, range), EPERM, "BLKZEROOUT on the read-only disk");
  long r = ioctl(fd, BLKDISCARD, range);
  check(r < 0 && (errno == EPERM || errno == EOPNOTSUPP), "BLKDISCARD on the read-only disk: EPERM or EOPNOTSUPP");
  printf("read-only BLKDISCARD: %s\n", strerror(errno));
  close(fd);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: blk_ops RW_BYTES RO_BYTES\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  writable_disk(strtoull(argv[1], NULL, 0));
  if (strtoull(argv[2], NULL, 0)) read_only_disk(strtoull(argv[2], NULL, 0));
  if (failures) {
    printf("%d checks failed\n", failures);
    return 1;
  }
  printf("PASS blk_ops\n");
  return 0;
}
