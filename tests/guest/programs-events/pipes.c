/* Pipes and FIFOs through the Linux ABI: a 1 MiB transfer between two
 * threads (blocking, and O_NONBLOCK driven by poll), PIPE_BUF atomicity
 * with four writers, SIGPIPE/EPIPE, FIFOs (open blocking until the other
 * side, ENXIO, O_RDWR) and mknod (pipe(7), fifo(7), mknod(2)). */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TOTAL (1 << 20)

/* The byte at position i of the test stream. */
static uint8_t pattern(uint32_t i) {
  uint32_t x = i * 2654435761u;
  return (uint8_t)(x >> 13 ^ x >> 24);
}

struct xfer {
  int fd;
  int nonblock;
  uint64_t sum; /* writer: what it sent; reader: what arrived */
  long bad;     /* reader: bytes that differ from the pattern */
  long total;
};

static void wait_for(int fd, short ev) {
  struct pollfd p = {fd, ev, 0};
  if (poll(&p, 1, 10000) != 1) printf("FAIL %s:%d: poll for %#x timed out\n", __FILE__, __LINE__, ev);
}

static void* writer(void* arg) {
  struct xfer* x = arg;
  static uint8_t buf[70000];
  uint32_t pos = 0;
  unsigned sizes[] = {1, 100, 4096, 4097, 65536, 70000, 333, 8192};
  for (unsigned k = 0; pos < TOTAL; ++k) {
    uint32_t n = sizes[k % 8];
    if (n > TOTAL - pos) n = TOTAL - pos;
    for (uint32_t i = 0; i < n; ++i) buf[i] = pattern(pos + i);
    uint32_t done = 0;
    while (done < n) {
      ssize_t w = write(x->fd, buf + done, n - done);
      if (w < 0 && errno == EAGAIN && x->nonblock) {
        wait_for(x->fd, POLLOUT);
        continue;
      }
      if (w <= 0) {
        printf("FAIL %s:%d: write: %ld %s\n", __FILE__, __LINE__, (long)w, strerror(errno));
        return NULL;
      }
      for (ssize_t i = 0; i < w; ++i) x->sum = x->sum * 31 + buf[done + i];
      done += w;
    }
    pos += n;
  }
  x->total = pos;
  close(x->fd);
  return NULL;
}

static void reader(struct xfer* x) {
  static uint8_t buf[50000];
  unsigned sizes[] = {7, 4096, 50000, 1, 12345};
  uint32_t pos = 0;
  for (unsigned k = 0;; ++k) {
    ssize_t r = read(x->fd, buf, sizes[k % 5]);
    if (r < 0 && errno == EAGAIN && x->nonblock) {
      wait_for(x->fd, POLLIN);
      continue;
    }
    if (r < 0) {
      printf("FAIL %s:%d: read: %s\n", __FILE__, __LINE__, strerror(errno));
      break;
    }
    if (r == 0) break;
    for (ssize_t i = 0; i < r; ++i) {
      if (buf[i] != pattern(pos + i)) ++x->bad;
      x->sum = x->sum * 31 + buf[i];
    }
    pos += r;
  }
  x->total = pos;
}

static void transfer(int nonblock) {
  int p[2];
  CHECK(pipe2(p, nonblock ? O_NONBLOCK : 0) == 0, "pipe2");
  struct xfer w = {p[1], nonblock, 0, 0, 0}, r = {p[0], nonblock, 0, 0, 0};
  pthread_t t;
  pthread_create(&t, NULL, writer, &w);
  reader(&r);
  pthread_join(t, NULL);
  close(p[0]);
  CHECK(r.total == TOTAL && w.total == TOTAL, "transferred %ld of %d (nonblock %d)", r.total, TOTAL, nonblock);
  CHECK(r.bad == 0 && r.sum == w.sum, "data intact: %ld bad bytes, checksums %llx/%llx (nonblock %d)", r.bad,
        (unsigned long long)r.sum, (unsigned long long)w.sum, nonblock);
}

/* PIPE_BUF atomicity: four writers, each writes records of PIPE_BUF bytes
 * whose every byte says (writer, sequence); none may be torn. */
#define WRITERS 4
#define RECORDS 150
static int g_atomic_fd;
static void* record_writer(void* arg) {
  int id = (int)(long)arg;
  static __thread uint8_t rec[PIPE_BUF];
  for (int s = 0; s < RECORDS; ++s) {
    memset(rec, (uint8_t)(id << 6 | (s & 63)), sizeof(rec));
    if (write(g_atomic_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec)) {
      printf("FAIL %s:%d: record write: %s\n", __FILE__, __LINE__, strerror(errno));
      break;
    }
  }
  return NULL;
}

static void test_atomic_writes(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  g_atomic_fd = p[1];
  pthread_t t[WRITERS];
  for (long i = 0; i < WRITERS; ++i) pthread_create(&t[i], NULL, record_writer, (void*)i);
  static uint8_t rec[PIPE_BUF];
  int next[WRITERS] = {0};
  long torn = 0, order = 0, got = 0;
  size_t have = 0;
  while (got < WRITERS * RECORDS) {
    ssize_t r = read(p[0], rec + have, (sizeof(rec) - have) < 1000 ? sizeof(rec) - have : 1000);
    if (r <= 0) break;
    have += r;
    if (have < sizeof(rec)) continue;
    have = 0;
    ++got;
    for (size_t i = 1; i < sizeof(rec); ++i)
      if (rec[i] != rec[0]) {
        ++torn;
        break;
      }
    int id = rec[0] >> 6, s = rec[0] & 63;
    if (s != (next[id] & 63)) ++order;
    next[id]++;
  }
  for (int i = 0; i < WRITERS; ++i) pthread_join(t[i], NULL);
  CHECK(got == WRITERS * RECORDS && torn == 0 && order == 0, "%ld records, %ld torn, %ld out of order", got, torn,
        order);
  close(p[0]);
  close(p[1]);
}

static volatile int g_sigpipes;
static void on_sigpipe(int sig) {
  (void)sig;
  g_sigpipes++;
}

static void test_sigpipe(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  close(p[0]);
  signal(SIGPIPE, SIG_IGN);
  EXPECT_ERR(EPIPE, write(p[1], "x", 1));
  signal(SIGPIPE, on_sigpipe);
  g_sigpipes = 0;
  EXPECT_ERR(EPIPE, write(p[1], "x", 1));
  CHECK(g_sigpipes == 1, "SIGPIPE raised (%d)", g_sigpipes);
  struct pollfd pf = {p[1], POLLOUT, 0};
  CHECK(poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR), "POLLERR on a pipe without readers (%#x)", pf.revents);
  close(p[1]);
  signal(SIGPIPE, SIG_DFL);
  /* EOF for readers once writers are gone; data written before stays. */
  CHECK(pipe(p) == 0, "pipe");
  CHECK(write(p[1], "ab", 2) == 2, "write");
  close(p[1]);
  char buf[4];
  CHECK(read(p[0], buf, 4) == 2, "data before EOF");
  CHECK(read(p[0], buf, 4) == 0, "EOF");
  close(p[0]);
}

/* --- FIFOs --- */

static char g_dir[64];
static char g_fifo[96];
static volatile int g_opened;
static int g_fifo_fd;

static void* open_reader(void* arg) {
  (void)arg;
  g_fifo_fd = open(g_fifo, O_RDONLY);
  __atomic_store_n(&g_opened, 1, __ATOMIC_SEQ_CST);
  return NULL;
}
static void* open_writer(void* arg) {
  (void)arg;
  g_fifo_fd = open(g_fifo, O_WRONLY);
  __atomic_store_n(&g_opened, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static pid_t g_main_tid;
static void* kick_main(void* arg) {
  (void)arg;
  sleep_ms(50);
  syscall(SYS_tgkill, getpid(), g_main_tid, SIGUSR1);
  return NULL;
}

static void test_fifo(void) {
  mkdir("/tmp", 0777);
  strcpy(g_dir, "/tmp/fifo-XXXXXX");
  CHECK(mkdtemp(g_dir) != NULL, "mkdtemp");
  snprintf(g_fifo, sizeof(g_fifo), "%s/f", g_dir);
  CHECK(mkfifo(g_fifo, 0600) == 0, "mkfifo");
  struct stat st;
  CHECK(stat(g_fifo, &st) == 0 && S_ISFIFO(st.st_mode), "stat: a FIFO (%o)", st.st_mode);
  EXPECT_ERR(EEXIST, mkfifo(g_fifo, 0600));

  /* O_WRONLY|O_NONBLOCK without a reader: ENXIO. */
  EXPECT_ERR(ENXIO, open(g_fifo, O_WRONLY | O_NONBLOCK));
  /* O_RDONLY|O_NONBLOCK succeeds at once; then a nonblocking writer may open. */
  int r = open(g_fifo, O_RDONLY | O_NONBLOCK);
  CHECK(r >= 0, "O_RDONLY|O_NONBLOCK opens at once");
  int w = open(g_fifo, O_WRONLY | O_NONBLOCK);
  CHECK(w >= 0, "O_WRONLY|O_NONBLOCK with a reader");
  CHECK(fstat(w, &st) == 0 && S_ISFIFO(st.st_mode), "fstat: a FIFO");
  CHECK(write(w, "fifo", 4) == 4, "write");
  char buf[8] = {0};
  CHECK(read(r, buf, 8) == 4 && memcmp(buf, "fifo", 4) == 0, "read through the FIFO");
  EXPECT_ERR(EAGAIN, read(r, buf, 8));
  close(w);
  CHECK(read(r, buf, 8) == 0, "EOF after the writer closed");
  struct pollfd pf = {r, POLLIN, 0};
  CHECK(poll(&pf, 1, 0) == 1 && pf.revents == POLLHUP, "POLLHUP after the writer left (%#x)", pf.revents);
  close(r);
  /* A nonblocking reader that finds no writer: no POLLHUP until a writer
   * came (poll waits for the first writer instead of returning). */
  r = open(g_fifo, O_RDONLY | O_NONBLOCK);
  pf.fd = r;
  pf.revents = 0;
  CHECK(poll(&pf, 1, 50) == 0, "no POLLHUP before the first writer (%#x)", pf.revents);
  w = open(g_fifo, O_WRONLY | O_NONBLOCK);
  CHECK(poll(&pf, 1, 0) == 0, "a writer, no data");
  close(w);
  CHECK(poll(&pf, 1, 0) == 1 && pf.revents == POLLHUP, "POLLHUP once the writer left (%#x)", pf.revents);
  close(r);

  /* A blocking O_RDONLY waits for a writer. */
  g_opened = 0;
  pthread_t t;
  pthread_create(&t, NULL, open_reader, NULL);
  sleep_ms(100);
  CHECK(!__atomic_load_n(&g_opened, __ATOMIC_SEQ_CST), "O_RDONLY open returned without a writer");
  w = open(g_fifo, O_WRONLY);
  CHECK(w >= 0, "writer opens (a reader waits)");
  pthread_join(t, NULL);
  CHECK(g_opened && g_fifo_fd >= 0, "reader's open returned once the writer came");
  CHECK(write(w, "hello", 5) == 5, "write");
  memset(buf, 0, sizeof(buf));
  CHECK(read(g_fifo_fd, buf, 8) == 5 && !memcmp(buf, "hello", 5), "read");
  close(w);
  close(g_fifo_fd);

  /* A blocking O_WRONLY waits for a reader. */
  g_opened = 0;
  pthread_create(&t, NULL, open_writer, NULL);
  sleep_ms(100);
  CHECK(!__atomic_load_n(&g_opened, __ATOMIC_SEQ_CST), "O_WRONLY open returned without a reader");
  r = open(g_fifo, O_RDONLY);
  CHECK(r >= 0, "reader opens");
  pthread_join(t, NULL);
  CHECK(g_opened && g_fifo_fd >= 0, "writer's open returned once the reader came");
  CHECK(write(g_fifo_fd, "x", 1) == 1, "write");
  CHECK(read(r, buf, 1) == 1 && buf[0] == 'x', "read");
  close(g_fifo_fd);
  close(r);

  /* A signal ends a blocked open (EINTR without SA_RESTART), and the
   * interrupted reader does not count afterwards. */
  struct sigaction sa, oldsa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigpipe; /* any handler */
  sigaction(SIGUSR1, &sa, &oldsa);
  g_main_tid = (pid_t)syscall(SYS_gettid);
  pthread_create(&t, NULL, kick_main, NULL);
  int64_t t0 = now_ms();
  EXPECT_ERR(EINTR, open(g_fifo, O_RDONLY));
  CHECK(now_ms() - t0 < 2000, "interrupted soon");
  pthread_join(t, NULL);
  sigaction(SIGUSR1, &oldsa, NULL);
  EXPECT_ERR(ENXIO, open(g_fifo, O_WRONLY | O_NONBLOCK));

  /* O_RDWR never blocks; data left when everyone closes is dropped. */
  int rw = open(g_fifo, O_RDWR);
  CHECK(rw >= 0, "O_RDWR");
  CHECK(write(rw, "left", 4) == 4, "write to self");
  close(rw);
  r = open(g_fifo, O_RDONLY | O_NONBLOCK);
  rw = open(g_fifo, O_RDWR);
  EXPECT_ERR(EAGAIN, read(r, buf, 8));
  close(rw);
  close(r);

  /* mknod: FIFO, regular file, socket; errors. */
  char path[128];
  snprintf(path, sizeof(path), "%s/n", g_dir);
  CHECK(mknod(path, S_IFIFO | 0644, 0) == 0, "mknod S_IFIFO");
  CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode), "a FIFO");
  EXPECT_ERR(EEXIST, mknod(path, S_IFIFO | 0644, 0));
  unlink(path);
  CHECK(mknod(path, S_IFREG | 0644, 0) == 0, "mknod S_IFREG");
  CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0, "a regular file");
  unlink(path);
  CHECK(mknod(path, 0644, 0) == 0, "mknod type 0: regular");
  CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode), "a regular file");
  unlink(path);
  CHECK(mknod(path, S_IFSOCK | 0644, 0) == 0, "mknod S_IFSOCK");
  CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode), "a socket node");
  unlink(path);
  if (geteuid() == 0) {
    CHECK(mknod(path, S_IFCHR | 0600, makedev(1, 3)) == 0, "mknod S_IFCHR as root");
    CHECK(stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3,
          "device numbers %u:%u", major(st.st_rdev), minor(st.st_rdev));
    unlink(path);
  }
  EXPECT_ERR(EPERM, mknod(path, S_IFDIR | 0755, 0));
  EXPECT_ERR(EINVAL, mknod(path, S_IFLNK | 0755, 0));
  EXPECT_ERR(EFAULT, mknod((const char*)g_bad, S_IFIFO | 0644, 0));
  EXPECT_ERR(ENOENT, mknod("/no/such/dir/f", S_IFIFO | 0644, 0));
  int dfd = open(g_dir, O_RDONLY | O_DIRECTORY);
  CHECK(mknodat(dfd, "at", S_IFIFO | 0600, 0) == 0, "mknodat");
  CHECK(fstatat(dfd, "at", &st, 0) == 0 && S_ISFIFO(st.st_mode), "mknodat made a FIFO");
  unlinkat(dfd, "at", 0);
  close(dfd);
  unlink(g_fifo);
  rmdir(g_dir);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  transfer(0);
  transfer(1);
  test_atomic_writes();
  test_sigpipe();
  test_fifo();
  return finish("pipes");
}
