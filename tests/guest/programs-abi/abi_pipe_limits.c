/* Pipe buffer limits (issue 17, docs/limits.md, pipe(7)): a pipe is
 * counted at its full size from creation against
 * /proc/sys/fs/pipe-user-pages-soft (past it an unprivileged user's new
 * pipes get two pages and F_SETPIPE_SZ may not grow one: EPERM) and
 * pipe-user-pages-hard (past it pipe() and a FIFO's first open are ENFILE);
 * pipe-max-size bounds F_SETPIPE_SZ (EPERM without CAP_SYS_RESOURCE) and
 * the size of a new pipe. Linux counts per user, so the checks run in a
 * child under a uid nothing else uses, on the host too (the soft limit's
 * default, 1024 pipes of 64 KiB). The sysctls are written in the VM only;
 * on the host the program reads them. */
#include "check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define NOBODY 54323
#define MAXP 1100

static int g_capsule;
static int g_r[MAXP], g_w[MAXP];
static char g_fifo[96];  /* in a directory the parent made for the child */

static int in_capsule(void) {
  struct utsname u;
  return uname(&u) == 0 && strstr(u.release, "capsule") != NULL;
}

static long read_sysctl(const char* name) {
  char path[128], buf[64] = {0};
  snprintf(path, sizeof path, "/proc/sys/fs/%s", name);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 ? atol(buf) : -1;
}

/* The errno of writing `value` to /proc/sys/fs/NAME, 0 if it was taken. */
static int write_sysctl(const char* name, const char* value) {
  char path[128];
  snprintf(path, sizeof path, "/proc/sys/fs/%s", name);
  int fd = open(path, O_WRONLY);
  if (fd < 0) return errno;
  ssize_t n = write(fd, value, strlen(value));
  int err = n < 0 ? errno : 0;
  close(fd);
  return err;
}

#define CAP_SYS_RESOURCE 24

/* Whether this process holds capability `cap` (CapEff of /proc/self/status). */
static int has_cap(int cap) {
  char buf[4096] = {0};
  int fd = open("/proc/self/status", O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  const char* at = n > 0 ? strstr(buf, "CapEff:") : NULL;
  return at && (strtoull(at + 7, NULL, 16) >> cap) & 1;
}

static long pipe_size(int fd) { return fcntl(fd, F_GETPIPE_SZ); }

/* Makes pipes into g_r/g_w from index `from` until pipe() fails or the
 * size of the new pipe is not `size`; returns the index after the last
 * one made (the one of another size included) and the errno, if any. */
static int make_while(int from, long size, int* err) {
  int i = from;
  *err = 0;
  for (; i < MAXP; ++i) {
    int p[2];
    if (pipe(p)) {
      *err = errno;
      return i;
    }
    g_r[i] = p[0];
    g_w[i] = p[1];
    if (pipe_size(p[0]) != size) return i + 1;
  }
  return i;
}

static void close_pipes(int from, int to) {
  for (int i = from; i < to; ++i) {
    close(g_r[i]);
    close(g_w[i]);
  }
}

/* Unprivileged, the default limits: 1024 pipes of 64 KiB fill the soft
 * limit (16384 pages), then new pipes have two pages and none may grow. */
static void soft_default(void) {
  int err;
  int n = make_while(0, 65536, &err);
  CHECK(n == 1025 && err == 0, "%d pipes made (errno %d), the 1025th past the soft limit", n, err);
  CHECK(pipe_size(g_r[n - 1]) == 8192, "past the soft limit a pipe has 2 pages: %ld", pipe_size(g_r[n - 1]));
  /* Growing is EPERM, whatever the pipe; the same size and shrinking are not. */
  EXPECT_ERR(EPERM, fcntl(g_w[n - 1], F_SETPIPE_SZ, 16384));
  EXPECT_ERR(EPERM, fcntl(g_w[0], F_SETPIPE_SZ, 131072));
  CHECK(fcntl(g_w[0], F_SETPIPE_SZ, 65536) == 65536, "the same size: %s", strerror(errno));
  /* A FIFO's first open is a new pipe, under the same rule. */
  const char* fifo = g_fifo;
  CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
  int f = open(fifo, O_RDWR | O_CLOEXEC);
  CHECK(f >= 0 && pipe_size(f) == 8192, "a FIFO past the soft limit: %ld", pipe_size(f));
  close(f);
  unlink(fifo);
  /* Room back: closing two full pipes makes room for one of 64 KiB. */
  close_pipes(1, 3);
  int p[2];
  CHECK(pipe(p) == 0 && pipe_size(p[0]) == 65536, "a full pipe again after closing two: %ld", pipe_size(p[0]));
  int q[2];
  CHECK(pipe(q) == 0 && pipe_size(q[0]) == 8192, "then small again: %ld", pipe_size(q[0]));
  close(p[0]), close(p[1]), close(q[0]), close(q[1]);
  /* Shrinking is allowed past the limit, and gives room back. */
  CHECK(fcntl(g_w[0], F_SETPIPE_SZ, 4096) == 4096, "shrinking: %s", strerror(errno));
  CHECK(pipe(p) == 0 && pipe_size(p[0]) == 65536, "a full pipe after a shrink: %ld", pipe_size(p[0]));
  close(p[0]), close(p[1]);
  close_pipes(0, 1);
  close_pipes(3, n);
  CHECK(pipe(p) == 0 && pipe_size(p[0]) == 65536, "all closed: %ld", pipe_size(p[0]));
  close(p[0]), close(p[1]);
}

/* Unprivileged: F_SETPIPE_SZ above pipe-max-size is EPERM. */
static void max_size_rules(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
  long max = read_sysctl("pipe-max-size");
  EXPECT_ERR(EPERM, fcntl(p[1], F_SETPIPE_SZ, max + 1));
  CHECK(fcntl(p[1], F_SETPIPE_SZ, max) == max, "up to pipe-max-size: %s", strerror(errno));
  EXPECT_ERR(EINVAL, fcntl(p[1], F_SETPIPE_SZ, (1u << 31) + 1));
  CHECK(fcntl(p[1], F_SETPIPE_SZ, 0) == 4096, "0 is one page: %s", strerror(errno));
  close(p[0]), close(p[1]);
}

/* In the VM only: pipe-max-size lowered to 16 KiB by the parent. */
static void lowered(void) {
  int p[2];
  CHECK(pipe(p) == 0 && pipe_size(p[0]) == 16384, "a new pipe is at most pipe-max-size: %ld", pipe_size(p[0]));
  EXPECT_ERR(EPERM, fcntl(p[1], F_SETPIPE_SZ, 32768));
  CHECK(fcntl(p[1], F_SETPIPE_SZ, 8192) == 8192, "shrinking: %s", strerror(errno));
  close(p[0]), close(p[1]);
}

/* In the VM only: soft 64 pages, hard 100. 4 pipes of 16 pages reach the
 * soft limit; then pipes of 2 pages (the fifth and 17 more: 100 pages),
 * then ENFILE. */
static void hard_limit(void) {
  int err;
  int big = make_while(0, 65536, &err);
  CHECK(big == 5 && err == 0, "4 pipes of 16 pages before the soft limit: %d", big - 1);
  int n = make_while(big, 8192, &err);
  CHECK(n - big == 17 && err == ENFILE, "%d more pipes of 2 pages to the hard limit, then errno %d (%s)", n - big,
        err, strerror(err));
  const char* fifo = g_fifo;
  CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
  EXPECT_ERR(ENFILE, open(fifo, O_RDWR | O_CLOEXEC));
  /* Shrinking to one page gives one page back: still no room for 2. */
  CHECK(fcntl(g_w[big], F_SETPIPE_SZ, 4096) == 4096, "shrink: %s", strerror(errno));
  int p[2];
  EXPECT_ERR(ENFILE, pipe(p));
  close_pipes(big, big + 1);
  CHECK(pipe(p) == 0 && pipe_size(p[0]) == 8192, "room after a close: %s", strerror(errno));
  close(p[0]), close(p[1]);
  close_pipes(0, big);
  close_pipes(big + 1, n);
  unlink(fifo);
}

static void hard_only(void) {
  int err;
  int n = make_while(0, 65536, &err);
  CHECK(n == 2 && err == ENFILE, "with no soft limit, 2 pipes of 16 pages under a hard limit of 40: %d, errno %d",
        n, err);
  /* Growing past the hard limit is EPERM, as past the soft one. */
  EXPECT_ERR(EPERM, fcntl(g_w[0], F_SETPIPE_SZ, 131072));
  close_pipes(0, n);
}

/* Runs fn in a child under uid NOBODY (no capabilities left); the child
 * prints its own failures, the parent counts one if it did not pass. */
static void run_child(void (*fn)(void), const char* what) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    g_checks = g_failures = 0;
    CHECK(setresgid(NOBODY, NOBODY, NOBODY) == 0 && setresuid(NOBODY, NOBODY, NOBODY) == 0, "setresuid");
    fn();
    printf("abi_pipe_limits: %s: the child made %d checks, %d failed\n", what, g_checks, g_failures);
    fflush(stdout);
    _exit(g_failures ? 1 : 0);
  }
  int ws = 0;
  CHECK(waitpid(c, &ws, 0) == c && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s: child status %#x", what, ws);
}

int main(void) {
  g_capsule = in_capsule();
  struct rlimit rl = {4096, 4096};
  CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "RLIMIT_NOFILE 4096: %s", strerror(errno));
  if (g_capsule) {
    CHECK(read_sysctl("pipe-max-size") == 1048576, "pipe-max-size %ld", read_sysctl("pipe-max-size"));
    CHECK(read_sysctl("pipe-user-pages-soft") == 16384, "soft %ld", read_sysctl("pipe-user-pages-soft"));
    CHECK(read_sysctl("pipe-user-pages-hard") == 0, "hard %ld", read_sysctl("pipe-user-pages-hard"));
  }
  /* CAP_SYS_RESOURCE (root in the VM; a container's root may lack it)
   * may pass pipe-max-size. */
  int p[2];
  CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
  if (has_cap(CAP_SYS_RESOURCE))
    CHECK(fcntl(p[1], F_SETPIPE_SZ, 2 << 20) == 2 << 20, "root above pipe-max-size: %s", strerror(errno));
  else
    EXPECT_ERR(EPERM, fcntl(p[1], F_SETPIPE_SZ, 2 << 20));
  CHECK(!g_capsule || has_cap(CAP_SYS_RESOURCE), "root in the VM has CAP_SYS_RESOURCE");
  close(p[0]), close(p[1]);

  /* The FIFOs' directory, writable by the child (the VM has no /tmp). */
  char dir[64];
  snprintf(dir, sizeof dir, "%s/abi_pipe_limits.%d", access("/tmp", W_OK) == 0 ? "/tmp" : "/dev/shm", (int)getpid());
  CHECK(mkdir(dir, 0777) == 0 && chmod(dir, 0777) == 0, "mkdir %s: %s", dir, strerror(errno));
  snprintf(g_fifo, sizeof g_fifo, "%s/fifo", dir);

  if (read_sysctl("pipe-user-pages-soft") == 16384 && read_sysctl("pipe-user-pages-hard") == 0)
    run_child(soft_default, "default soft limit");
  run_child(max_size_rules, "pipe-max-size");

  if (g_capsule) {
    /* The sysctls: pipe-max-size is rounded as F_SETPIPE_SZ rounds. */
    CHECK(write_sysctl("pipe-max-size", "5000") == 0 && read_sysctl("pipe-max-size") == 8192, "5000 -> %ld",
          read_sysctl("pipe-max-size"));
    CHECK(write_sysctl("pipe-max-size", "0") == 0 && read_sysctl("pipe-max-size") == 4096, "0 -> %ld",
          read_sysctl("pipe-max-size"));
    CHECK(write_sysctl("pipe-max-size", "2147483649") == EINVAL, "above 2 GiB");
    CHECK(write_sysctl("pipe-max-size", "-1") == EINVAL, "negative");
    CHECK(write_sysctl("pipe-max-size", "x") == EINVAL, "not a number");
    CHECK(write_sysctl("pipe-max-size", "16384") == 0, "16 KiB");
    run_child(lowered, "pipe-max-size 16 KiB");
    /* Root's new pipes keep the default size. */
    CHECK(pipe(p) == 0 && pipe_size(p[0]) == 65536, "root's pipe: %ld", pipe_size(p[0]));
    close(p[0]), close(p[1]);
    CHECK(write_sysctl("pipe-max-size", "1048576") == 0, "restore");

    CHECK(write_sysctl("pipe-user-pages-soft", "64") == 0 && write_sysctl("pipe-user-pages-hard", "100") == 0,
          "soft 64, hard 100");
    run_child(hard_limit, "soft 64, hard 100");
    CHECK(write_sysctl("pipe-user-pages-soft", "0") == 0 && write_sysctl("pipe-user-pages-hard", "40") == 0,
          "soft 0, hard 40");
    run_child(hard_only, "hard 40");
    /* Root is not bound by the hard limit. */
    int made = 0;
    for (int i = 0; i < 5; ++i) {
      if (pipe(p) == 0 && pipe_size(p[0]) == 65536) ++made;
      g_r[i] = p[0], g_w[i] = p[1];
    }
    CHECK(made == 5, "root made %d pipes of 64 KiB past the hard limit", made);
    close_pipes(0, 5);
    CHECK(write_sysctl("pipe-user-pages-soft", "16384") == 0 && write_sysctl("pipe-user-pages-hard", "0") == 0,
          "restore");
    CHECK(read_sysctl("pipe-user-pages-soft") == 16384 && read_sysctl("pipe-user-pages-hard") == 0, "restored");
  }
  CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
  return finish("abi_pipe_limits");
}
