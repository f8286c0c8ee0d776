/* Shared by the files_abi test programs (tests/guest/files_abi.cmake): one
 * "FAIL file:line: ..." line per failed check, "PASS name" at the end.
 * Each program works in a fresh directory under /tmp (made if missing), so
 * it runs the same in the VM and natively on a Linux host. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* musl 1.2.3 has no statx(): the kernel's structure and the raw call. */
struct xstatx_ts {
  int64_t tv_sec;
  uint32_t tv_nsec;
  int32_t pad;
};
struct xstatx {
  uint32_t stx_mask, stx_blksize;
  uint64_t stx_attributes;
  uint32_t stx_nlink, stx_uid, stx_gid;
  uint16_t stx_mode, pad0;
  uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
  struct xstatx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
  uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
  uint64_t spare[14];
};
#define X_STATX_BASIC_STATS 0x7ffu
#define X_STATX_SIZE 0x200u
#define X_AT_STATX_FORCE_SYNC 0x2000
#define X_AT_STATX_DONT_SYNC 0x4000
static inline long xstatx(int dirfd, const char* path, int flags, unsigned mask, void* buf) {
  return syscall(SYS_statx, dirfd, path, flags, mask, buf);
}

#include "../include/guest_check.h"
static char* volatile g_bad = (char*)16; /* unmapped: EFAULT */

/* A fresh working directory; its path in g_dir. */
static char g_dir[64];
static void enter_temp_dir(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/tmp", 01777);
  strcpy(g_dir, "/tmp/files_abi.XXXXXX");
  if (!mkdtemp(g_dir) || chdir(g_dir) != 0) {
    printf("FAIL cannot make a temp directory: %s\n", strerror(errno));
    exit(1);
  }
}

static int finish(const char* name) {
  if (g_failures) return 1;
  printf("PASS %s\n", name);
  return 0;
}
