/* disk_discard ROOT: frees blocks on a read-write ext4 disk
 * (tests/guest/disk_test.py "discard", docs/ext4.md "Discard"): ROOT/big
 * is removed, a hole is punched in ROOT/punched over [1 MiB, 3 MiB)
 * (PUNCH_HOLE|KEEP_SIZE), ROOT/keep is left alone; then sync. The host
 * checks that its image holds fewer blocks afterwards (ext4 discarded the
 * freed blocks once their transactions committed, and QEMU's
 * discard=unmap punched holes in the image), that e2fsck -fn finds the
 * volume clean and that keep and the rest of punched are intact. Bad
 * input: a punch with an offset past the end changes nothing (0), a
 * negative length is EINVAL. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
  printf("%s %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) failures++;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: disk_discard ROOT\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  char path[256];
  snprintf(path, sizeof path, "%s/big", argv[1]);
  check(unlink(path) == 0, "unlink big");
  snprintf(path, sizeof path, "%s/punched", argv[1]);
  int fd = open(path, O_RDWR);
  check(fd >= 0, "open punched");
  check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 20, 2 << 20) == 0,
        "punch [1 MiB, 3 MiB) in punched");
  check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 30, 4096) == 0,
        "a punch past the end: nothing to do");
  errno = 0;
  check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, -4096) < 0 && errno == EINVAL,
        "a negative length: EINVAL");
  struct stat st;
  check(fstat(fd, &st) == 0 && st.st_size == 4 << 20, "punched keeps its size");
  check(fsync(fd) == 0, "fsync punched");
  close(fd);
  sync();
  if (failures) {
    printf("%d checks failed\n", failures);
    return 1;
  }
  printf("PASS disk_discard\n");
  return 0;
}
