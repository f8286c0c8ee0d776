// mmap(2) of files, checked against Linux's behaviour (the program also
// runs on the host): MAP_SHARED coherence with read()/write(), MAP_PRIVATE
// copy-on-write, SIGBUS past the end of the file and after truncation,
// munmap/mprotect/mremap/madvise/msync on file mappings, the errors, and
// the page-cache advice calls (posix_fadvise, readahead).
// Prints one "FAIL file:line: ..." per failed check, "PASS mmap_files" at
// the end.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
#define CHECK(c)                                                         \
  do {                                                                   \
    if (!(c)) {                                                          \
      printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #c, errno); \
      failures++;                                                        \
    }                                                                    \
  } while (0)

static long PG;
static char dir[64];

static sigjmp_buf jump;
static volatile int last_signal;
static void on_fault(int sig) {
  last_signal = sig;
  siglongjmp(jump, 1);
}

// Reads one byte at p; returns the signal it raised (0: none), *out the byte.
static int probe_read(volatile char* p, char* out) {
  last_signal = 0;
  if (sigsetjmp(jump, 1) == 0) {
    char c = *p;
    if (out) *out = c;
    return 0;
  }
  return last_signal;
}
static int probe_write(volatile char* p, char v) {
  last_signal = 0;
  if (sigsetjmp(jump, 1) == 0) {
    *p = v;
    return 0;
  }
  return last_signal;
}

// A new file of `pages` pages, byte i = (i * 7 + seed) & 0xff.
static int make_file(const char* name, long size, int seed, char* path_out) {
  sprintf(path_out, "%s/%s", dir, name);
  int fd = open(path_out, O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  char* buf = malloc(size);
  for (long i = 0; i < size; ++i) buf[i] = (char)((i * 7 + seed) & 0xff);
  CHECK(write(fd, buf, size) == size);
  free(buf);
  return fd;
}
static char pattern(long i, int seed) { return (char)((i * 7 + seed) & 0xff); }

static void test_shared(void) {
  char path[128];
  int fd = make_file("shared", 2 * PG, 1, path);
  char* p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED);
  if (p == MAP_FAILED) return;
  CHECK(p[5] == pattern(5, 1) && p[PG + 9] == pattern(PG + 9, 1));
  // A store through the mapping is what read() returns, at once.
  p[10] = 'X';
  p[PG + 3] = 'Y';
  char c = 0;
  CHECK(pread(fd, &c, 1, 10) == 1 && c == 'X');
  CHECK(pread(fd, &c, 1, PG + 3) == 1 && c == 'Y');
  // write() is visible through the mapping.
  CHECK(pwrite(fd, "W", 1, 20) == 1);
  CHECK(p[20] == 'W');
  // A second shared mapping (another offset too) sees the first one's stores.
  char* q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PG);
  CHECK(q != MAP_FAILED);
  q[100] = 'Q';
  CHECK(p[PG + 100] == 'Q');
  p[PG + 101] = 'R';
  CHECK(q[101] == 'R');
  // MAP_SHARED_VALIDATE with known flags is MAP_SHARED.
  char* v = mmap(NULL, PG, PROT_READ, MAP_SHARED_VALIDATE, fd, 0);
  CHECK(v != MAP_FAILED && v[10] == 'X');
  // read() into a shared mapping of the same file.
  CHECK(pread(fd, p + PG + 200, 50, 0) == 50);
  CHECK(memcmp(p + PG + 200, p, 50) == 0);
  // The mapping outlives the descriptor, and the name.
  close(fd);
  unlink(path);
  p[30] = 'C';
  CHECK(q[101] == 'R' && p[30] == 'C');
  CHECK(msync(p, 2 * PG, MS_SYNC) == 0);
  CHECK(msync(p, PG, MS_ASYNC | MS_INVALIDATE) == 0);
  errno = 0;
  CHECK(msync(p, PG, MS_ASYNC | MS_SYNC) == -1 && errno == EINVAL);
  errno = 0;
  CHECK(msync(p + 1, PG, MS_SYNC) == -1 && errno == EINVAL);
  munmap(p, 2 * PG);
  munmap(q, PG);
  munmap(v, PG);
}

static void test_private(void) {
  char path[128];
  int fd = make_file("private", 3 * PG, 2, path);
  char* p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  char* q = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(p != MAP_FAILED && q != MAP_FAILED);
  if (p == MAP_FAILED || q == MAP_FAILED) return;
  CHECK(p[7] == pattern(7, 2));
  p[7] = 'P';
  CHECK(p[7] == 'P');
  char c = 0;
  CHECK(pread(fd, &c, 1, 7) == 1 && c == pattern(7, 2));  // the file is unchanged
  CHECK(q[7] == pattern(7, 2));                           // so is another private mapping
  // A page that was copied never sees the file again; one never written
  // does (Linux).
  CHECK(pwrite(fd, "AB", 2, 8) == 2);
  CHECK(p[8] == pattern(8, 2));
  CHECK(q[8] == 'A');
  // read() into a private mapping copies the page (the kernel writes it).
  CHECK(pread(fd, p + PG, 2, 8) == 2 && p[PG] == 'A' && p[PG + 1] == 'B');
  CHECK(pread(fd, &c, 1, PG) == 1 && c == pattern(PG, 2));
  // MADV_DONTNEED drops the private copies: the file shows again.
  CHECK(madvise(p, 2 * PG, MADV_DONTNEED) == 0);
  CHECK(p[7] == pattern(7, 2) && p[8] == 'A' && p[PG] == pattern(PG, 2));
  // mprotect: read-only, then writable again (private: allowed on an
  // O_RDONLY file too, below).
  CHECK(mprotect(p, PG, PROT_READ) == 0);
  CHECK(probe_write(p + 1, 'x') == SIGSEGV);
  CHECK(mprotect(p, PG, PROT_READ | PROT_WRITE) == 0);
  CHECK(probe_write(p + 1, 'x') == 0 && p[1] == 'x');
  CHECK(mprotect(p + PG, PG, PROT_NONE) == 0);
  CHECK(probe_read(p + PG, NULL) == SIGSEGV);
  CHECK(mprotect(p + PG, PG, PROT_READ) == 0);
  CHECK(p[PG] == pattern(PG, 2));
  // munmap of the middle page: the others stay.
  CHECK(munmap(p + PG, PG) == 0);
  CHECK(p[1] == 'x' && p[2 * PG + 5] == pattern(2 * PG + 5, 2));
  CHECK(probe_read(p + PG, NULL) == SIGSEGV);
  CHECK(munmap(p, 3 * PG) == 0);
  // mremap: a one-page file mapping grows to two, moving if it must.
  char* r = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
  CHECK(r != MAP_FAILED);
  char* r2 = mremap(r, PG, 2 * PG, MREMAP_MAYMOVE);
  CHECK(r2 != MAP_FAILED);
  if (r2 != MAP_FAILED) {
    CHECK(r2[0] == pattern(PG, 2) && r2[PG + 11] == pattern(2 * PG + 11, 2));
    munmap(r2, 2 * PG);
  }
  munmap(q, 3 * PG);
  // Private writable mapping of a read-only descriptor: fine.
  int ro = open(path, O_RDONLY);
  char* w = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
  CHECK(w != MAP_FAILED);
  if (w != MAP_FAILED) {
    w[0] = 'w';
    CHECK(pread(ro, &c, 1, 0) == 1 && c == pattern(0, 2));
    munmap(w, PG);
  }
  close(ro);
  close(fd);
  unlink(path);
}

static void test_sigbus(void) {
  char path[128];
  int fd = make_file("short", 100, 3, path);
  char* p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED);
  if (p == MAP_FAILED) return;
  char c = 1;
  CHECK(probe_read(p + 50, &c) == 0 && c == pattern(50, 3));
  CHECK(probe_read(p + 100, &c) == 0 && c == 0);  // the rest of the last page reads zero
  CHECK(probe_read(p + PG, NULL) == SIGBUS);      // past the end of the file
  CHECK(probe_write(p + 2 * PG, 1) == SIGBUS);
  munmap(p, 3 * PG);
  // Truncation under a mapping: the pages past the new end go.
  int fd2 = make_file("trunc", 3 * PG, 4, path);
  char* s = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
  char* t = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd2, 0);
  CHECK(s != MAP_FAILED && t != MAP_FAILED);
  if (s == MAP_FAILED || t == MAP_FAILED) return;
  CHECK(s[2 * PG] == pattern(2 * PG, 4));
  t[2 * PG] = 'T';  // a private copy past the new end goes too
  CHECK(ftruncate(fd2, 200) == 0);
  CHECK(probe_read(s + PG, NULL) == SIGBUS);
  CHECK(probe_read(s + 2 * PG, NULL) == SIGBUS);
  CHECK(probe_read(t + 2 * PG, NULL) == SIGBUS);
  CHECK(probe_read(s + 150, &c) == 0 && c == pattern(150, 4));
  CHECK(probe_read(s + 300, &c) == 0 && c == 0);
  munmap(s, 3 * PG);
  munmap(t, 3 * PG);
  close(fd);
  close(fd2);
}

static void test_errors(void) {
  char path[128];
  int fd = make_file("errors", PG, 5, path);
  close(fd);
  int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
  CHECK(ro >= 0 && wo >= 0);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED && errno == EACCES);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, wo, 0) == MAP_FAILED && errno == EACCES);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_SHARED, wo, 0) == MAP_FAILED && errno == EACCES);
  // Shared and read-only: mprotect may not add PROT_WRITE.
  char* p = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 0);
  CHECK(p != MAP_FAILED);
  errno = 0;
  CHECK(mprotect(p, PG, PROT_READ | PROT_WRITE) == -1 && errno == EACCES);
  CHECK(probe_write(p, 'z') == SIGSEGV);
  CHECK(mprotect(p, PG, PROT_READ | PROT_EXEC) == 0);
  munmap(p, PG);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, ro, 1) == MAP_FAILED && errno == EINVAL);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, ro, PG / 2) == MAP_FAILED && errno == EINVAL);
  errno = 0;
  CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE, ro, 0) == MAP_FAILED && errno == EINVAL);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, 0, ro, 0) == MAP_FAILED && errno == EINVAL);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_SHARED_VALIDATE | 0x200000, ro, 0) == MAP_FAILED &&
        errno == EOPNOTSUPP);
  errno = 0;
  CHECK(mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, ro, 0x7ffffffffffff000L) == MAP_FAILED &&
        errno == EOVERFLOW);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, -1, 0) == MAP_FAILED && errno == EBADF);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 999, 0) == MAP_FAILED && errno == EBADF);
  int op = open(path, O_PATH);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, op, 0) == MAP_FAILED && errno == EBADF);
  close(op);
  int pfd[2];
  CHECK(pipe(pfd) == 0);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, pfd[0], 0) == MAP_FAILED && errno == ENODEV);
  close(pfd[0]);
  close(pfd[1]);
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  errno = 0;
  CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, d, 0) == MAP_FAILED && errno == ENODEV);
  close(d);
  // A bad buffer handed to write() from nowhere: EFAULT, no crash.
  errno = 0;
  void* volatile bad = (void*)16;
  CHECK(write(wo, bad, 10) == -1 && errno == EFAULT);
  close(ro);
  close(wo);
  unlink(path);
}

static void test_advice(void) {
  char path[128];
  int fd = make_file("advice", 2 * PG, 8, path);
  // posix_fadvise returns the error instead of setting errno.
  CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0);
  CHECK(posix_fadvise(fd, PG, PG, POSIX_FADV_WILLNEED) == 0);
  CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
  CHECK(posix_fadvise(fd, 0, 0, 99) == EINVAL);
  CHECK(posix_fadvise(fd, 0, -1, POSIX_FADV_NORMAL) == EINVAL);
  CHECK(posix_fadvise(-1, 0, 0, POSIX_FADV_NORMAL) == EBADF);
  int pfd[2];
  CHECK(pipe(pfd) == 0);
  CHECK(posix_fadvise(pfd[0], 0, 0, POSIX_FADV_NORMAL) == ESPIPE);
  CHECK(readahead(fd, 0, 2 * PG) == 0);
  errno = 0;
  CHECK(readahead(pfd[0], 0, 10) == -1 && errno == EINVAL);
  errno = 0;
  CHECK(readahead(-1, 0, 10) == -1 && errno == EBADF);
  int wo = open(path, O_WRONLY);
  errno = 0;
  CHECK(readahead(wo, 0, 10) == -1 && errno == EBADF);
  close(wo);
  close(pfd[0]);
  close(pfd[1]);
  // The data is what it was.
  char c = 0;
  CHECK(pread(fd, &c, 1, PG + 1) == 1 && c == pattern(PG + 1, 8));
  close(fd);
  unlink(path);
}

// Another thread stores through a shared mapping; the main thread reads
// the file (4-CPU runs put them on different CPUs).
static char* shared_page;
static void* writer(void* arg) {
  (void)arg;
  for (int i = 0; i < 256; ++i) shared_page[i] = (char)i;
  return NULL;
}
static void test_threads(void) {
  char path[128];
  int fd = make_file("threads", 2 * PG, 6, path);
  char* p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED);
  if (p == MAP_FAILED) return;
  shared_page = p + PG;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
  pthread_join(t, NULL);
  unsigned char buf[256];
  CHECK(pread(fd, buf, 256, PG) == 256);
  int ok = 1;
  for (int i = 0; i < 256; ++i) ok &= buf[i] == i;
  CHECK(ok);
  // A large mapping matches read() byte for byte.
  const long big = 64 * PG;
  int fd2 = make_file("big", big, 7, path);
  char* m = mmap(NULL, big, PROT_READ, MAP_PRIVATE, fd2, 0);
  CHECK(m != MAP_FAILED);
  char* rb = malloc(big);
  CHECK(pread(fd2, rb, big, 0) == big);
  CHECK(m != MAP_FAILED && memcmp(m, rb, big) == 0);
  free(rb);
  munmap(m, big);
  munmap(p, 2 * PG);
  close(fd);
  close(fd2);
}

int main(void) {
  PG = sysconf(_SC_PAGESIZE);
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_fault;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  mkdir("/tmp", 01777);
  strcpy(dir, "/tmp/mmapfXXXXXX");
  if (!mkdtemp(dir)) {
    printf("FAIL %s:%d: mkdtemp (errno %d)\n", __FILE__, __LINE__, errno);
    return 1;
  }
  test_shared();
  test_private();
  test_sigbus();
  test_errors();
  test_advice();
  test_threads();
  rmdir(dir);
  if (failures) return 1;
  printf("PASS mmap_files\n");
  return 0;
}
