/* Pipe semantics (pipe(7), splice(2), fcntl(2)): blocking writes larger
 * than the pipe, PIPE_BUF atomicity, the reader leaving mid-write (the
 * count, one SIGPIPE per call), a signal ending a partial write, splice/
 * tee/vmsplice into a pipe with room for part of the data, ESPIPE/ENODEV
 * for positional calls and mmap, F_SETPIPE_SZ/F_GETPIPE_SZ, FIONREAD.
 * Pipes are filled in whole pages: Linux counts a pipe's room in page
 * slots, so only page-sized fills give the same figures everywhere. */
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define PG 4096
#define KB 1024

static volatile int g_sigpipes, g_usr1;
static void on_sigpipe(int s) { (void)s; ++g_sigpipes; }
static void on_usr1(int s) { (void)s; ++g_usr1; }

static long nread(int fd) {
  int n = -1;
  if (ioctl(fd, FIONREAD, &n) != 0) return -1;
  return n;
}

/* Writes `pages` whole pages into fd (each one write of PG bytes). */
static void fill_pages(int fd, int pages, char c) {
  static char page[PG];
  memset(page, c, PG);
  for (int i = 0; i < pages; ++i) CHECK(write(fd, page, PG) == PG, "fill page %d", i);
}

/* Reads exactly n bytes (or to EOF); returns what was read. */
static size_t drain(int fd, char* buf, size_t n) {
  size_t got = 0;
  for (int guard = 0; got < n && guard < 1000000; ++guard) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  return got;
}

/* --- a blocking write larger than the pipe --- */

struct reader_arg {
  int fd;
  size_t limit;  /* read this much, then close */
  size_t got;
  int bad;       /* first wrong byte offset + 1 */
};

static void* reader(void* p) {
  struct reader_arg* a = p;
  char* buf = malloc(3000);
  while (a->got < a->limit) {
    size_t want = a->limit - a->got < 3000 ? a->limit - a->got : 3000;
    ssize_t r = read(a->fd, buf, want);
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; ++i)
      if (!a->bad && buf[i] != (char)((a->got + i) * 7)) a->bad = (int)(a->got + i) + 1;
    a->got += (size_t)r;
  }
  free(buf);
  close(a->fd);
  return 0;
}

static void test_big_write(void) {
  int p[2];
  EXPECT_OK(pipe(p));
  size_t n = 1024 * KB;
  char* data = malloc(n);
  for (size_t i = 0; i < n; ++i) data[i] = (char)(i * 7);
  struct reader_arg a = {p[0], n, 0, 0};
  pthread_t t;
  pthread_create(&t, 0, reader, &a);
  ssize_t w = write(p[1], data, n);
  CHECK(w == (ssize_t)n, "a 1 MiB blocking write = %zd, expected all of it", w);
  pthread_join(t, 0);
  CHECK(a.got == n && !a.bad, "reader got %zu bytes, first bad at %d", a.got, a.bad - 1);
  /* writev: several pieces, larger than the pipe in total. */
  EXPECT_OK(pipe(p));
  a = (struct reader_arg){p[0], n, 0, 0};
  pthread_create(&t, 0, reader, &a);
  struct iovec v[3] = {{data, 100 * KB}, {data + 100 * KB, 500 * KB}, {data + 600 * KB, 424 * KB}};
  w = writev(p[1], v, 3);
  CHECK(w == (ssize_t)n, "a 1 MiB blocking writev = %zd", w);
  pthread_join(t, 0);
  CHECK(a.got == n && !a.bad, "writev reader got %zu bytes, first bad at %d", a.got, a.bad - 1);
  close(p[1]);
  free(data);
}

/* --- the reader closes mid-write: the count so far, one SIGPIPE --- */

static void test_reader_leaves(void) {
  signal(SIGPIPE, on_sigpipe);
  int p[2];
  EXPECT_OK(pipe(p));
  size_t n = 512 * KB, limit = 100 * KB;
  char* data = malloc(n);
  for (size_t i = 0; i < n; ++i) data[i] = (char)(i * 7);
  struct reader_arg a = {p[0], limit, 0, 0};
  g_sigpipes = 0;
  pthread_t t;
  pthread_create(&t, 0, reader, &a);
  ssize_t w = write(p[1], data, n);
  pthread_join(t, 0);
  /* At least what the reader took went in; not all of it (nobody read the rest). */
  CHECK(w >= (ssize_t)limit && w < (ssize_t)n, "write with the reader leaving = %zd (errno %d)", w, errno);
  CHECK(g_sigpipes == 1, "one SIGPIPE for the partial write, got %d", g_sigpipes);
  CHECK(a.got == limit && !a.bad, "reader got %zu", a.got);
  /* The next write: EPIPE and one more SIGPIPE; writev too (one per call). */
  EXPECT_ERR(EPIPE, write(p[1], data, 10));
  CHECK(g_sigpipes == 2, "SIGPIPE count %d after EPIPE", g_sigpipes);
  struct iovec v[3] = {{data, 10}, {data, 20}, {data, 30}};
  EXPECT_ERR(EPIPE, writev(p[1], v, 3));
  CHECK(g_sigpipes == 3, "one SIGPIPE per writev, got %d", g_sigpipes);
  close(p[1]);
  free(data);
  signal(SIGPIPE, SIG_DFL);
}

/* --- a signal ends a blocked write that has written part: the count --- */

struct writer_arg {
  int fd;
  ssize_t result;
  int err;
};

static void* writer(void* p) {
  struct writer_arg* a = p;
  size_t n = 256 * KB;
  char* data = calloc(1, n);
  errno = 0;
  a->result = write(a->fd, data, n);
  a->err = errno;
  free(data);
  return 0;
}

static void test_interrupted_write(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;  /* no SA_RESTART */
  sigaction(SIGUSR1, &sa, 0);
  int p[2];
  EXPECT_OK(pipe(p));
  struct writer_arg a = {p[1], 0, 0};
  pthread_t t;
  pthread_create(&t, 0, writer, &a);
  /* The pipe full means the writer is inside write() with 64 KiB done. */
  for (int i = 0; i < 2000000 && nread(p[0]) < 64 * KB; ++i) sched_yield();
  CHECK(nread(p[0]) == 64 * KB, "FIONREAD of a full pipe = %ld", nread(p[0]));
  pthread_kill(t, SIGUSR1);
  pthread_join(t, 0);
  CHECK(a.result == 64 * KB, "interrupted write = %zd (errno %d), expected the 65536 written", a.result, a.err);
  CHECK(g_usr1 == 1, "handler ran %d times", g_usr1);
  close(p[0]);
  close(p[1]);
}

/* --- PIPE_BUF: all or nothing for a nonblocking write; large writes take the room --- */

static void test_atomic(void) {
  int p[2];
  EXPECT_OK(pipe2(p, O_NONBLOCK));
  static char buf[3 * PG];
  fill_pages(p[1], 15, 'a');
  CHECK(write(p[1], "x", 1) == 1, "one byte");  /* the 16th slot: PG-1 bytes free */
  EXPECT_ERR(EAGAIN, write(p[1], buf, PG));      /* PIPE_BUF bytes: no room for all */
  CHECK(write(p[1], buf, PG - 1) == PG - 1, "PG-1 bytes fit");
  EXPECT_ERR(EAGAIN, write(p[1], buf, 1));
  CHECK(nread(p[0]) == 64 * KB, "FIONREAD = %ld", nread(p[0]));
  CHECK(drain(p[0], buf, PG) == PG, "read a page");
  /* A write larger than PIPE_BUF takes the one free page. */
  CHECK(write(p[1], buf, 2 * PG) == PG, "nonblocking 2-page write into a page of room");
  close(p[0]);
  close(p[1]);
}

/* Two writers of PIPE_BUF records: each record arrives whole. */
static void* record_writer(void* p) {
  intptr_t id = (intptr_t)p;
  static char recs[2][PG];
  memset(recs[id & 1], 'A' + (int)(id >> 8), PG);
  int fd = (int)(id & 0xff) >> 1;
  for (int i = 0; i < 64; ++i)
    if (write(fd, recs[id & 1], PG) != PG) break;
  return 0;
}

static void test_records(void) {
  int p[2];
  EXPECT_OK(pipe(p));
  pthread_t t[2];
  for (intptr_t i = 0; i < 2; ++i) pthread_create(&t[i], 0, record_writer, (void*)((i << 8) | (p[1] << 1) | i));
  static char rec[PG];
  int torn = 0, counts[2] = {0, 0};
  for (int i = 0; i < 128; ++i) {
    if (drain(p[0], rec, PG) != PG) break;
    for (int j = 1; j < PG; ++j)
      if (rec[j] != rec[0]) ++torn, j = PG;
    if (rec[0] == 'A' || rec[0] == 'B') ++counts[rec[0] - 'A'];
  }
  for (int i = 0; i < 2; ++i) pthread_join(t[i], 0);
  CHECK(!torn && counts[0] == 64 && counts[1] == 64, "records: %d torn, %d + %d whole", torn, counts[0], counts[1]);
  close(p[0]);
  close(p[1]);
}

/* --- splice, tee, vmsplice into a pipe with room for part --- */

static void test_splice_partial(void) {
  mkdir("/tmp", 0777);  /* the VM's root may have none */
  char path[] = "/tmp/abi_pipe_XXXXXX";
  int f = mkstemp(path);
  CHECK(f >= 0, "mkstemp");
  unlink(path);
  static char buf[16 * PG] __attribute__((aligned(PG)));  /* vmsplice counts user pages */
  memset(buf, 'f', sizeof buf);
  CHECK(write(f, buf, sizeof buf) == sizeof buf, "file data");
  int p[2], q[2];
  EXPECT_OK(pipe(p));
  EXPECT_OK(pipe(q));
  fill_pages(p[1], 15, 'a');
  loff_t off = 0;
  ssize_t r = splice(f, &off, p[1], 0, 16 * PG, 0);
  CHECK(r == PG && off == PG, "splice file->pipe with a page of room = %zd (off %lld), expected %d", r, (long long)off, PG);
  /* pipe -> pipe: 3 pages into a pipe with one page of room; the rest stays. */
  fill_pages(q[1], 15, 'b');
  CHECK(drain(p[0], buf, 13 * PG) == 13 * PG, "drain 13 pages");  /* p: 3 pages left */
  r = splice(p[0], 0, q[1], 0, 3 * PG, 0);
  CHECK(r == PG, "splice pipe->pipe with a page of room = %zd", r);
  CHECK(nread(p[0]) == 2 * PG, "the source keeps what did not fit: %ld", nread(p[0]));
  /* tee into a full pipe would block; with a page of room it copies a page. */
  CHECK(drain(q[0], buf, PG) == PG, "make a page of room in q");
  r = tee(p[0], q[1], 2 * PG, 0);
  CHECK(r == PG, "tee with a page of room = %zd", r);
  CHECK(nread(p[0]) == 2 * PG, "tee does not consume: %ld", nread(p[0]));
  /* vmsplice: 3 pages into a page of room. */
  CHECK(drain(q[0], buf, PG) == PG, "make a page of room in q");
  struct iovec v = {buf, 3 * PG};
  r = vmsplice(q[1], &v, 1, 0);
  CHECK(r == PG, "vmsplice with a page of room = %zd", r);
  CHECK(nread(q[0]) == 64 * KB, "q full: %ld", nread(q[0]));
  /* SPLICE_F_NONBLOCK into a full pipe: EAGAIN. */
  EXPECT_ERR(EAGAIN, splice(f, &off, q[1], 0, PG, SPLICE_F_NONBLOCK));
  close(f);
  close(p[0]), close(p[1]), close(q[0]), close(q[1]);
}

/* --- calls a pipe refuses --- */

static void test_refused(void) {
  int p[2];
  EXPECT_OK(pipe(p));
  char c = 0;
  CHECK(write(p[1], "abc", 3) == 3, "write");
  EXPECT_ERR(ESPIPE, pread(p[0], &c, 1, 0));
  EXPECT_ERR(ESPIPE, pwrite(p[1], &c, 1, 0));
  EXPECT_ERR(ESPIPE, pread(p[1], &c, 1, 0));   /* the write end: still ESPIPE */
  EXPECT_ERR(ESPIPE, pwrite(p[0], &c, 1, 0));
  EXPECT_ERR(EINVAL, pread(p[0], &c, 1, -1));  /* a negative offset first */
  struct iovec v = {&c, 1};
  EXPECT_ERR(ESPIPE, preadv(p[0], &v, 1, 0));
  EXPECT_ERR(ESPIPE, pwritev(p[1], &v, 1, 0));
  EXPECT_ERR(ESPIPE, lseek(p[0], 0, SEEK_CUR));
  EXPECT_ERR(ESPIPE, lseek(p[1], 0, SEEK_SET));
  EXPECT_ERR(ENODEV, (long)mmap(0, PG, PROT_READ, MAP_PRIVATE, p[0], 0));
  EXPECT_ERR(ENODEV, (long)mmap(0, PG, PROT_READ, MAP_SHARED, p[0], 0));
  EXPECT_ERR(EACCES, (long)mmap(0, PG, PROT_READ, MAP_PRIVATE, p[1], 0));  /* write-only */
  CHECK(nread(p[0]) == 3, "FIONREAD read end = %ld", nread(p[0]));
  CHECK(nread(p[1]) == 3, "FIONREAD write end = %ld", nread(p[1]));
  close(p[0]);
  close(p[1]);
}

/* --- F_SETPIPE_SZ / F_GETPIPE_SZ --- */

#define CAP_SYS_RESOURCE 24
static int has_cap(int cap) {
  struct { uint32_t version; int pid; } h = {0x20080522, 0};
  struct { uint32_t effective, permitted, inheritable; } d[2];
  if (syscall(SYS_capget, &h, d) != 0) return 0;
  return (d[cap / 32].effective >> (cap % 32)) & 1;
}

static long max_size(void) {
  char s[32] = {0};
  int fd = open("/proc/sys/fs/pipe-max-size", O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, s, sizeof s - 1);
  close(fd);
  return n > 0 ? atol(s) : -1;
}

static void test_pipe_size(void) {
  int p[2];
  EXPECT_OK(pipe(p));
  CHECK(fcntl(p[0], F_GETPIPE_SZ) == 64 * KB, "default size %d", fcntl(p[0], F_GETPIPE_SZ));
  CHECK(fcntl(p[1], F_SETPIPE_SZ, 1) == PG, "1 -> a page");
  CHECK(fcntl(p[0], F_GETPIPE_SZ) == PG, "the other end sees %d", fcntl(p[0], F_GETPIPE_SZ));
  CHECK(fcntl(p[1], F_SETPIPE_SZ, 0) == PG, "0 -> a page");
  CHECK(fcntl(p[1], F_SETPIPE_SZ, 5000) == 2 * PG, "5000 -> 2 pages");
  CHECK(fcntl(p[1], F_SETPIPE_SZ, 3 * PG + 1) == 4 * PG, "3 pages + 1 -> 4 pages");
  CHECK(fcntl(p[1], F_SETPIPE_SZ, 5 * PG) == 8 * PG, "5 pages -> 8 pages");
  fill_pages(p[1], 3, 'z');
  EXPECT_ERR(EBUSY, fcntl(p[1], F_SETPIPE_SZ, 2 * PG));  /* 3 pages of data */
  CHECK(fcntl(p[1], F_SETPIPE_SZ, 4 * PG) == 4 * PG, "shrink to what still fits");
  static char buf[4 * PG];
  CHECK(drain(p[0], buf, 3 * PG) == 3 * PG, "data kept across resizes");
  EXPECT_ERR(EINVAL, fcntl(p[1], F_SETPIPE_SZ, 0x80000001u));
  long max = max_size();
  CHECK(max == 1024 * KB, "/proc/sys/fs/pipe-max-size = %ld", max);
  CHECK(fcntl(p[1], F_SETPIPE_SZ, (int)max) == max, "the maximum");
  /* Above the maximum: only with CAP_SYS_RESOURCE. */
  int cap = has_cap(CAP_SYS_RESOURCE);
  int big = fcntl(p[1], F_SETPIPE_SZ, (int)max * 2);
  CHECK(cap ? big == (int)max * 2 : big == -1 && errno == EPERM, "2 x max with CAP_SYS_RESOURCE %d = %d", cap, big);
  if (geteuid() == 0) {
    pid_t c = fork();
    if (c == 0) {
      int ok = setuid(65534) == 0 && fcntl(p[1], F_SETPIPE_SZ, (int)max * 4) == -1 && errno == EPERM &&
               fcntl(p[1], F_SETPIPE_SZ, (int)max) == max;
      _exit(ok ? 0 : 1);
    }
    int st = -1;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "as nobody: EPERM above the maximum (status %#x)", st);
  }
  EXPECT_ERR(EBADF, fcntl(0 > 1 ? 0 : open("/proc/self/stat", O_RDONLY), F_GETPIPE_SZ));
  close(p[0]);
  close(p[1]);
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  test_refused();
  test_pipe_size();
  test_atomic();
  test_records();
  test_big_write();
  test_reader_leaves();
  test_interrupted_write();
  test_splice_partial();
  return finish("abi_pipe");
}
