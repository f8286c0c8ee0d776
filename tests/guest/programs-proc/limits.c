/* Process limits (docs/process.md "Limits"): RLIMIT_NPROC refuses fork and
 * pthread_create with EAGAIN for a non-root user; a fork bomb stops at the
 * process table with EAGAIN and the system goes on; out of memory kills
 * the largest process, not the kernel, and its parent sees SIGKILL.
 * The RLIMIT_NPROC part passes on the host's Linux too (as root). The fork
 * bomb and out-of-memory parts run only in Capsule: on the host they
 * would exhaust a shared machine (argument "vm" forces them). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/guest_check.h"

#define NOBODY 54321 /* a uid nothing else runs as, here or on the host */

static void* idle_thread(void* arg) {
  (void)arg;
  return NULL;
}

/* In a child running as NOBODY with RLIMIT_NPROC 3: itself and two
 * children fit, the third fork and a thread are EAGAIN. */
static void nproc(void) {
  pid_t c = fork();
  if (c == 0) {
    struct rlimit rl = {3, 3};
    if (setrlimit(RLIMIT_NPROC, &rl) != 0) _exit(10);
    if (setresgid(NOBODY, NOBODY, NOBODY) != 0 || setresuid(NOBODY, NOBODY, NOBODY) != 0) _exit(11);
    int go[2];
    if (pipe(go) != 0) _exit(12);
    pid_t kids[2];
    for (int i = 0; i < 2; ++i) {
      kids[i] = fork();
      if (kids[i] == 0) {
        char ch;
        close(go[1]);
        _exit(read(go[0], &ch, 1) == 0 ? 0 : 1);
      }
      if (kids[i] < 0) _exit(20 + i);  /* within the limit: must work */
    }
    errno = 0;
    pid_t extra = fork();
    if (extra == 0) _exit(0);
    int fork_errno = errno;
    pthread_t t;
    int thread_err = pthread_create(&t, NULL, idle_thread, NULL);
    if (thread_err == 0) pthread_join(t, NULL);
    close(go[1]);
    for (int i = 0; i < 2; ++i) waitpid(kids[i], NULL, 0);
    if (extra > 0) {
      waitpid(extra, NULL, 0);
      _exit(30);
    }
    if (fork_errno != EAGAIN) _exit(31);
    if (thread_err != EAGAIN) _exit(32);
    /* Room again once the children are reaped. */
    pid_t again = fork();
    if (again == 0) _exit(0);
    if (again < 0) _exit(33);
    waitpid(again, NULL, 0);
    _exit(0);
  }
  int ws;
  CHECK(waitpid(c, &ws, 0) == c && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
        "RLIMIT_NPROC child: status %#x (30: fork over the limit worked, 31: not EAGAIN, 32: thread not EAGAIN)",
        ws);
  /* Root is exempt (Linux: the init user), in a child of its own (a hard
   * limit lowered stays lowered). */
  c = fork();
  if (c == 0) {
    struct rlimit one = {1, 1};
    if (setrlimit(RLIMIT_NPROC, &one) != 0) _exit(1);
    pid_t r = fork();
    if (r == 0) _exit(0);
    _exit(r > 0 && waitpid(r, NULL, 0) == r ? 0 : 2);
  }
  CHECK(waitpid(c, &ws, 0) == c && ws == 0, "root forks past RLIMIT_NPROC (status %#x)", ws);
}

/* Forks until refused (at most 4096 tries): EAGAIN, then every child
 * ends and is reaped, and fork works again. */
static void fork_bomb(void) {
  enum { MAX = 4096 };
  static pid_t kids[MAX];
  int go[2];
  CHECK(pipe(go) == 0, "pipe");
  int n = 0, err = 0;
  for (; n < MAX; ++n) {
    pid_t p = fork();
    if (p == 0) {
      char ch;
      close(go[1]);
      _exit(read(go[0], &ch, 1) == 0 ? 0 : 1);
    }
    if (p < 0) {
      err = errno;
      break;
    }
    kids[n] = p;
  }
  CHECK(n < MAX && err == EAGAIN, "fork refused with EAGAIN after %d children (errno %d)", n, err);
  CHECK(n >= 100, "at least 100 processes fit (%d)", n);
  close(go[1]);
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    int ws;
    if (waitpid(kids[i], &ws, 0) != kids[i] || ws != 0) ++bad;
  }
  close(go[0]);
  CHECK(bad == 0, "%d of %d children ended badly", bad, n);
  pid_t p = fork();
  if (p == 0) _exit(4);
  int ws;
  CHECK(p > 0 && waitpid(p, &ws, 0) == p && WEXITSTATUS(ws) == 4, "fork works again");
  printf("fork bomb: %d processes, then EAGAIN\n", n);
}

static long mem_total_kib(void) {
  FILE* f = fopen("/proc/meminfo", "r");
  char line[128];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemTotal: %ld kB", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

/* Touches `bytes` of fresh memory, a page at a time; then writes a byte
 * to `ready` (if >= 0). */
static void grow(size_t bytes, int ready) {
  char* m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) _exit(50);
  for (size_t off = 0; off < bytes; off += 4096) m[off] = 1;
  if (ready >= 0 && write(ready, "r", 1) != 1) _exit(51);
}

static void out_of_memory(void) {
  long total = mem_total_kib();
  CHECK(total > 0, "MemTotal");
  size_t mem = (size_t)total * 1024;
  /* A child that allocates until it is killed: the largest, so it goes. */
  pid_t hog = fork();
  if (hog == 0) {
    grow(mem * 4, -1);
    _exit(60);  /* every page touched: cannot be */
  }
  int ws;
  CHECK(waitpid(hog, &ws, 0) == hog && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
        "the allocating child is killed by SIGKILL (status %#x)", ws);
  /* The largest goes, not the one whose fault found no page: a child
   * holds 60% and idles; another grows to 70% (more than what is left);
   * the first is killed, the second finishes. */
  printf("out of memory: the allocating child was killed\n");
  int ready[2];
  CHECK(pipe(ready) == 0, "pipe");
  pid_t big = fork();
  if (big == 0) {
    close(ready[0]);
    grow(mem / 10 * 6, ready[1]);
    for (;;) pause();
  }
  close(ready[1]);
  char ch;
  CHECK(read(ready[0], &ch, 1) == 1, "the big child holds 60%%");
  close(ready[0]);
  printf("out of memory: a child holds 60%%\n");
  pid_t grower = fork();
  if (grower == 0) {
    grow(mem / 10 * 7, -1);
    _exit(0);
  }
  CHECK(waitpid(big, &ws, 0) == big && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
        "the largest (idle) child is killed (status %#x)", ws);
  CHECK(waitpid(grower, &ws, 0) == grower && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
        "the growing child, smaller, finishes (status %#x)", ws);
  /* The memory is back: the parent can use a fifth of it. */
  char* m = malloc(mem / 5);
  CHECK(m != NULL, "malloc after");
  if (m) {
    memset(m, 2, mem / 5);
    free(m);
  }
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct utsname u;
  int in_vm = (argc > 1 && strcmp(argv[1], "vm") == 0) || (uname(&u) == 0 && strstr(u.release, "capsule"));
  nproc();
  if (in_vm) {
    fork_bomb();
    out_of_memory();
  } else {
    printf("not in Capsule: fork bomb and out-of-memory parts skipped\n");
  }
  if (g_failures == 0) printf("PASS limits\n");
  return g_failures ? 1 : 0;
}
