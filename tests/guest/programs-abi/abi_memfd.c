/* memfd_create and file seals (issue 18): flags (MFD_CLOEXEC,
 * MFD_ALLOW_SEALING; unknown bits EINVAL), the name (249 bytes at most,
 * /proc/self/fd shows "/memfd:NAME (deleted)"), F_ADD_SEALS/F_GET_SEALS
 * (F_SEAL_SEAL, SHRINK, GROW, WRITE, FUTURE_WRITE): EPERM without
 * MFD_ALLOW_SEALING or after F_SEAL_SEAL, EBUSY for F_SEAL_WRITE while a
 * writable shared mapping exists, EPERM for the writes, truncations and
 * mappings a seal forbids. */
#include "check.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1u
#define MFD_ALLOW_SEALING 2u
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 1
#define F_SEAL_SHRINK 2
#define F_SEAL_GROW 4
#define F_SEAL_WRITE 8
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 16
#endif
#define PG 4096

static int mfd(const char* name, unsigned flags) { return (int)syscall(SYS_memfd_create, name, flags); }
static long map(int fd, int prot, int flags) { return syscall(SYS_mmap, 0, PG, prot, flags, fd, 0); }

static void test_create(void) {
  int fd = mfd("abi-test", 0);
  CHECK(fd >= 0, "memfd_create");
  if (fd < 0) return;
  CHECK(fcntl(fd, F_GETFD) == 0, "no FD_CLOEXEC without MFD_CLOEXEC");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0, "a regular empty file");
  CHECK((fcntl(fd, F_GETFL) & 3) == O_RDWR, "opened read-write");
  char link[128], proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  memset(link, 0, sizeof link);
  CHECK(readlink(proc, link, sizeof link - 1) > 0 && strcmp(link, "/memfd:abi-test (deleted)") == 0,
        "/proc/self/fd link: '%s'", link);
  /* A file like any other: write, read back, grow, map shared. */
  CHECK(write(fd, "hello", 5) == 5 && pread(fd, link, 5, 0) == 5 && memcmp(link, "hello", 5) == 0, "I/O");
  CHECK(ftruncate(fd, PG) == 0, "ftruncate");
  long m = map(fd, PROT_READ | PROT_WRITE, MAP_SHARED);
  CHECK(m > 0 && memcmp((char*)m, "hello", 5) == 0, "mapped shared");
  if (m > 0) {
    /* /proc/self/maps names the mapping as /proc/self/fd does. */
    FILE* maps = fopen("/proc/self/maps", "r");
    char line[512], start[32];
    int named = 0;
    snprintf(start, sizeof start, "%lx-", (unsigned long)m);
    while (maps && fgets(line, sizeof line, maps))
      if (strncmp(line, start, strlen(start)) == 0) named = strstr(line, "/memfd:abi-test (deleted)") != NULL;
    if (maps) fclose(maps);
    CHECK(named, "/proc/self/maps shows /memfd:abi-test (deleted)");
    ((char*)m)[0] = 'j';
    CHECK(pread(fd, link, 1, 0) == 1 && link[0] == 'j', "the mapping writes the file");
    munmap((void*)m, PG);
  }
  /* Reopened through /proc/self/fd: the same file. */
  int again = open(proc, O_RDONLY);
  CHECK(again >= 0 && pread(again, link, 5, 0) == 5 && memcmp(link, "jello", 5) == 0, "reopen");
  if (again >= 0) close(again);
  /* Without MFD_ALLOW_SEALING: sealed against sealing. */
  CHECK(fcntl(fd, F_GET_SEALS) == F_SEAL_SEAL, "F_GET_SEALS = F_SEAL_SEAL");
  EXPECT_ERR(EPERM, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  close(fd);

  fd = mfd("cloexec", MFD_CLOEXEC);
  CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC, "MFD_CLOEXEC");
  close(fd);
  EXPECT_ERR(EINVAL, mfd("bad", 0x100));
  EXPECT_ERR(EINVAL, mfd("bad", 0x80000000u));
  EXPECT_ERR(EFAULT, syscall(SYS_memfd_create, BAD_PTR, 0));
  char name[300];
  memset(name, 'n', sizeof name);
  name[249] = 0;
  fd = mfd(name, 0);
  CHECK(fd >= 0, "a 249-byte name");
  if (fd >= 0) close(fd);
  name[249] = 'n';
  name[250] = 0;
  EXPECT_ERR(EINVAL, mfd(name, 0));
  fd = mfd("", 0);
  CHECK(fd >= 0, "an empty name");
  if (fd >= 0) close(fd);
  /* Seals are for memfds (and tmpfs/hugetlbfs files): a pipe is EINVAL. */
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_ERR(EINVAL, fcntl(p[1], F_ADD_SEALS, F_SEAL_SEAL));
  EXPECT_ERR(EINVAL, fcntl(p[1], F_GET_SEALS));
  close(p[0]), close(p[1]);
}

static void test_shrink_grow(void) {
  int fd = mfd("sz", MFD_ALLOW_SEALING);
  CHECK(fd >= 0 && fcntl(fd, F_GET_SEALS) == 0, "MFD_ALLOW_SEALING: no seals");
  CHECK(ftruncate(fd, 2 * PG) == 0, "size 2 pages");
  EXPECT_ERR(EINVAL, fcntl(fd, F_ADD_SEALS, 0x1000));  /* unknown seal */
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0, "F_SEAL_SHRINK");
  EXPECT_ERR(EPERM, ftruncate(fd, PG));
  CHECK(ftruncate(fd, 3 * PG) == 0, "growing is still allowed");
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0, "F_SEAL_GROW");
  CHECK(fcntl(fd, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW), "seals add up: %d", fcntl(fd, F_GET_SEALS));
  EXPECT_ERR(EPERM, ftruncate(fd, 4 * PG));
  CHECK(ftruncate(fd, 3 * PG) == 0, "same size is fine");
  EXPECT_ERR(EPERM, pwrite(fd, "x", 1, 3 * PG));  /* past the end */
  CHECK(pwrite(fd, "x", 1, 3 * PG - 1) == 1, "writing inside is fine");
  EXPECT_ERR(EPERM, fallocate(fd, 0, 0, 4 * PG));
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == 3 * PG, "size kept: %ld", (long)st.st_size);
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0, "F_SEAL_SEAL");
  EXPECT_ERR(EPERM, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  EXPECT_ERR(EPERM, fcntl(fd, F_ADD_SEALS, 0));
  /* A read-only descriptor cannot add seals. */
  int fd2 = mfd("ro", MFD_ALLOW_SEALING);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd2);
  int ro = open(proc, O_RDONLY);
  CHECK(ro >= 0, "read-only reopen");
  EXPECT_ERR(EPERM, fcntl(ro, F_ADD_SEALS, F_SEAL_SHRINK));
  CHECK(fcntl(ro, F_GET_SEALS) == 0, "F_GET_SEALS works on it");
  close(ro), close(fd2), close(fd);
}

static void test_write_seal(void) {
  int fd = mfd("w", MFD_ALLOW_SEALING);
  CHECK(ftruncate(fd, PG) == 0, "size");
  /* A writable shared mapping: F_SEAL_WRITE is EBUSY until it is gone. */
  long m = map(fd, PROT_READ | PROT_WRITE, MAP_SHARED);
  CHECK(m > 0, "writable shared mapping");
  EXPECT_ERR(EBUSY, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  /* ...also when it lives in a child (fork shares it). */
  munmap((void*)m, PG);
  /* A read-only shared mapping through a writable descriptor counts too
   * (mprotect could make it writable); private ones and shared ones through
   * a read-only descriptor do not. */
  long ros = map(fd, PROT_READ, MAP_SHARED);
  CHECK(ros > 0, "read-only shared mapping");
  EXPECT_ERR(EBUSY, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  munmap((void*)ros, PG);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  int rofd = open(proc, O_RDONLY);
  ros = map(rofd, PROT_READ, MAP_SHARED);
  EXPECT_ERR(EACCES, map(rofd, PROT_READ | PROT_WRITE, MAP_SHARED));
  long priv = map(fd, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  CHECK(priv > 0 && ros > 0, "private and read-only-descriptor mappings");
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0, "F_SEAL_WRITE once unmapped");
  CHECK(fcntl(fd, F_GET_SEALS) == F_SEAL_WRITE, "seals %d", fcntl(fd, F_GET_SEALS));
  EXPECT_ERR(EPERM, write(fd, "x", 1));
  EXPECT_ERR(EPERM, pwrite(fd, "x", 1, 0));
  struct iovec iov = {"x", 1};
  EXPECT_ERR(EPERM, pwritev(fd, &iov, 1, 0));
  EXPECT_ERR(EPERM, map(fd, PROT_READ | PROT_WRITE, MAP_SHARED));
  EXPECT_ERR(EPERM, map(fd, PROT_WRITE, MAP_SHARED));
  long r = map(fd, PROT_READ, MAP_SHARED);
  CHECK(r > 0, "read-only shared mapping after F_SEAL_WRITE");
  if (r > 0) munmap((void*)r, PG);
  r = map(fd, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  CHECK(r > 0, "private writable mapping after F_SEAL_WRITE");
  if (r > 0) {
    ((char*)r)[0] = 'p';  /* a private copy */
    munmap((void*)r, PG);
  }
  char c = 1;
  CHECK(pread(fd, &c, 1, 0) == 1 && c == 0, "the file is unchanged");
  /* Truncation is not writing: allowed unless SHRINK/GROW seals. */
  CHECK(ftruncate(fd, 2 * PG) == 0, "ftruncate under F_SEAL_WRITE");
  munmap((void*)priv, PG);
  munmap((void*)ros, PG);
  close(rofd);
  close(fd);

  /* A writable shared mapping inherited by a child keeps F_SEAL_WRITE busy. */
  fd = mfd("fork", MFD_ALLOW_SEALING);
  CHECK(ftruncate(fd, PG) == 0, "size");
  m = map(fd, PROT_READ | PROT_WRITE, MAP_SHARED);
  int go[2];
  CHECK(pipe(go) == 0, "pipe");
  fflush(stdout);
  pid_t ch = fork();
  if (ch == 0) {
    char b;
    close(go[1]);
    if (read(go[0], &b, 1) < 0) _exit(2);
    _exit(0);
  }
  close(go[0]);
  munmap((void*)m, PG);
  EXPECT_ERR(EBUSY, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  close(go[1]);
  int st;
  waitpid(ch, &st, 0);
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0, "F_SEAL_WRITE after the child exited");
  close(fd);
}

static void test_future_write(void) {
  int fd = mfd("fw", MFD_ALLOW_SEALING);
  CHECK(ftruncate(fd, PG) == 0, "size");
  long m = map(fd, PROT_READ | PROT_WRITE, MAP_SHARED);
  CHECK(m > 0, "writable shared mapping");
  /* Unlike F_SEAL_WRITE, allowed with a writable mapping, which keeps working. */
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0, "F_SEAL_FUTURE_WRITE");
  if (m > 0) ((char*)m)[1] = 'm';
  char c = 0;
  CHECK(pread(fd, &c, 1, 1) == 1 && c == 'm', "the existing mapping still writes");
  EXPECT_ERR(EPERM, write(fd, "x", 1));
  EXPECT_ERR(EPERM, pwrite(fd, "x", 1, 0));
  EXPECT_ERR(EPERM, map(fd, PROT_READ | PROT_WRITE, MAP_SHARED));
  long r = map(fd, PROT_READ, MAP_SHARED);
  CHECK(r > 0, "read-only shared mapping");
  if (r > 0) munmap((void*)r, PG);
  r = map(fd, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  CHECK(r > 0, "private writable mapping");
  if (r > 0) munmap((void*)r, PG);
  if (m > 0) munmap((void*)m, PG);
  close(fd);
}

int main(void) {
  test_create();
  test_shrink_grow();
  test_write_seal();
  test_future_write();
  return finish("abi_memfd");
}
