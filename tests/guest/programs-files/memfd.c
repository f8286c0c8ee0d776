/* memfd_create(2): an anonymous file that reads, writes, truncates and
 * maps like a tmpfs file, with seals enforced (fcntl(2) F_ADD_SEALS). */
#include "check.h"

#include <sys/mman.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

static void test_basics(void) {
  int fd = memfd_create("basic", MFD_CLOEXEC);
  CHECK(fd >= 0, "memfd_create");
  CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "MFD_CLOEXEC");
  CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR, "read-write");
  CHECK(write(fd, "hello memfd", 11) == 11, "write");
  char buf[32] = {0};
  CHECK(pread(fd, buf, sizeof(buf), 0) == 11 && memcmp(buf, "hello memfd", 11) == 0, "read back");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 11, "regular, size 11");
  CHECK(st.st_nlink == 0, "no name: nlink %ld", (long)st.st_nlink);
  CHECK(ftruncate(fd, 8192) == 0 && fstat(fd, &st) == 0 && st.st_size == 8192, "grow");
  /* A shared mapping sees the same bytes, both ways. */
  char* p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED, "mmap");
  if (p != MAP_FAILED) {
    CHECK(memcmp(p, "hello memfd", 11) == 0, "mapped bytes");
    memcpy(p + 4096, "via map", 7);
    CHECK(pread(fd, buf, 7, 4096) == 7 && memcmp(buf, "via map", 7) == 0, "write through the map");
    munmap(p, 8192);
  }
  CHECK(pwrite(fd, "via pwrite", 10, 4096) == 10, "pwrite");
  CHECK(pread(fd, buf, 10, 4096) == 10 && memcmp(buf, "via pwrite", 10) == 0, "read it back");
  /* Without MFD_ALLOW_SEALING the file is sealed against seals. */
  CHECK(fcntl(fd, F_GET_SEALS) == F_SEAL_SEAL, "F_SEAL_SEAL by default");
  EXPECT_ERR(EPERM, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
  close(fd);
  /* Two memfds with one name are two files. */
  int a = memfd_create("same", 0), b = memfd_create("same", 0);
  struct stat sa, sb;
  CHECK(fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_ino != sb.st_ino, "distinct");
  close(a);
  close(b);
}

static void test_seals(void) {
  int fd = memfd_create("sealed", MFD_ALLOW_SEALING);
  CHECK(fd >= 0, "memfd_create");
  CHECK(fcntl(fd, F_GET_SEALS) == 0, "no seals yet");
  CHECK(write(fd, "0123456789", 10) == 10, "write");
  /* SHRINK: smaller is EPERM, larger is fine. */
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0, "seal shrink");
  EXPECT_ERR(EPERM, ftruncate(fd, 5));
  CHECK(ftruncate(fd, 20) == 0, "grow ok");
  /* GROW: writes past the end and growing truncates are EPERM; writes
   * inside still work. */
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0, "seal grow");
  EXPECT_ERR(EPERM, ftruncate(fd, 30));
  EXPECT_ERR(EPERM, pwrite(fd, "x", 1, 20));
  EXPECT_ERR(EPERM, pwrite(fd, "xy", 2, 19));
  CHECK(pwrite(fd, "AB", 2, 0) == 2, "write inside");
  EXPECT_ERR(EPERM, fallocate(fd, 0, 0, 4096));
  CHECK(ftruncate(fd, 20) == 0, "same size is no change");
  /* WRITE: every write is EPERM; reading still works. */
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0, "seal write");
  EXPECT_ERR(EPERM, write(fd, "z", 1));
  EXPECT_ERR(EPERM, pwrite(fd, "z", 1, 0));
  EXPECT_ERR(EPERM, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4));
  char buf[4];
  CHECK(pread(fd, buf, 4, 0) == 4 && memcmp(buf, "AB23", 4) == 0, "read");
  /* No shared writable mapping of a write-sealed file (EPERM); reading
   * ones and private ones are fine. */
  EXPECT_ERR(EPERM, (long)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  void* ro = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(ro != MAP_FAILED && memcmp(ro, "AB23", 4) == 0, "read-only shared map");
  if (ro != MAP_FAILED) munmap(ro, 4096);
  void* priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(priv != MAP_FAILED, "private map");
  if (priv != MAP_FAILED) munmap(priv, 4096);
  CHECK(fcntl(fd, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), "seals %#x",
        fcntl(fd, F_GET_SEALS));
  /* SEAL: no more seals. */
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0, "seal seal");
  EXPECT_ERR(EPERM, fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
  /* fcntl(2): unknown seal bits EINVAL; a read-only descriptor cannot
   * add seals (EPERM). */
  int fd2 = memfd_create("ro", MFD_ALLOW_SEALING);
  EXPECT_ERR(EINVAL, fcntl(fd2, F_ADD_SEALS, 0x100));
  close(fd);
  close(fd2);
}

static void test_errors(void) {
  /* memfd_create(2): unknown flags EINVAL; a name over 249 bytes EINVAL;
   * a bad name pointer EFAULT. */
  EXPECT_ERR(EINVAL, syscall(SYS_memfd_create, "x", 0x100));
  char name[300];
  memset(name, 'n', sizeof(name));
  name[250] = 0;
  EXPECT_ERR(EINVAL, memfd_create(name, 0));
  name[249] = 0;
  int fd = memfd_create(name, 0);
  CHECK(fd >= 0, "249 bytes is fine");
  close(fd);
  EXPECT_ERR(EFAULT, syscall(SYS_memfd_create, g_bad, 0));
  /* Seals on something that is not a memfd/tmpfs file: a pipe. */
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_ERR(EINVAL, fcntl(p[0], F_GET_SEALS));
  close(p[0]);
  close(p[1]);
}

int main(void) {
  enter_temp_dir();
  test_basics();
  test_seals();
  test_errors();
  return finish("memfd");
}
