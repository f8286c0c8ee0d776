/* Shared memory across fork (docs/ipc.md): anonymous MAP_SHARED and
 * MAP_SHARED mappings of /dev/shm files (shm_open) stay shared between
 * parent and child, both ways; MAP_PRIVATE stays copy-on-write;
 * MADV_DONTFORK leaves a range out of the child, MADV_WIPEONFORK gives
 * the child zeros. Passes on the host's Linux too. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/guest_check.h"

/* Parent and child take turns through two pipes. */
struct turn {
  int to_child[2], to_parent[2];
};
static void turn_open(struct turn* t) { CHECK(pipe(t->to_child) == 0 && pipe(t->to_parent) == 0, "pipes"); }
static void turn_close(struct turn* t) {
  for (int i = 0; i < 2; ++i) close(t->to_child[i]), close(t->to_parent[i]);
}
static int child_wait(struct turn* t) {
  char c;
  return read(t->to_child[0], &c, 1) == 1;
}
static int child_done(struct turn* t) { return write(t->to_parent[1], "c", 1) == 1; }
static void parent_go(struct turn* t) { CHECK(write(t->to_child[1], "p", 1) == 1, "go"); }
static void parent_wait(struct turn* t) {
  char c;
  CHECK(read(t->to_parent[0], &c, 1) == 1, "child's turn ended");
}
static void reap(pid_t pid, const char* what) {
  int st = -1;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid %s", what);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %#x", what, st);
}

/* Both directions, before and after fork, on a mapping `p` of `len` bytes:
 * the child sees what the parent wrote before and after fork; the parent
 * sees what the child wrote. */
static void shared_both_ways(char* p, size_t len, const char* what) {
  struct turn t;
  turn_open(&t);
  memset(p, 'a', len);
  pid_t pid = fork();
  if (pid == 0) {
    int ok = p[0] == 'a' && p[len - 1] == 'a';  /* written before fork */
    memset(p, 'c', len / 2);                    /* the parent must see it */
    ok = ok && child_done(&t) && child_wait(&t);
    ok = ok && p[len / 2] == 'P' && p[len - 1] == 'P';  /* written after fork */
    _exit(ok ? 0 : 1);
  }
  CHECK(pid > 0, "fork");
  parent_wait(&t);
  CHECK(p[0] == 'c' && p[len / 2 - 1] == 'c', "%s: the parent sees the child's write", what);
  memset(p + len / 2, 'P', len / 2);
  parent_go(&t);
  reap(pid, what);
  turn_close(&t);
}

static void anonymous_shared(void) {
  size_t len = 5 * 4096;
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap MAP_SHARED|MAP_ANONYMOUS");
  shared_both_ways(p, len, "anonymous MAP_SHARED");
  /* Pages never touched before fork are shared too. */
  char* q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pid_t pid = fork();
  if (pid == 0) {
    q[3 * 4096] = 'x';
    _exit(0);
  }
  reap(pid, "untouched shared page");
  CHECK(q[3 * 4096] == 'x', "a page untouched before fork, written by the child: %d", q[3 * 4096]);
  /* A grandchild shares it as well. */
  pid = fork();
  if (pid == 0) {
    pid_t g = fork();
    if (g == 0) {
      q[0] = 'g';
      _exit(0);
    }
    int st;
    _exit(waitpid(g, &st, 0) == g && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
  }
  reap(pid, "grandchild");
  CHECK(q[0] == 'g', "the grandchild's write: %d", q[0]);
  munmap(p, len);
  munmap(q, len);
}

static void anonymous_private(void) {
  size_t len = 3 * 4096;
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap private");
  memset(p, 'a', len);
  struct turn t;
  turn_open(&t);
  pid_t pid = fork();
  if (pid == 0) {
    int ok = p[1] == 'a';
    memset(p, 'c', len);
    ok = ok && child_done(&t) && child_wait(&t);
    ok = ok && p[0] == 'c' && p[len - 1] == 'c';  /* not the parent's 'P' */
    _exit(ok ? 0 : 1);
  }
  parent_wait(&t);
  CHECK(p[0] == 'a' && p[len - 1] == 'a', "MAP_PRIVATE: the child's write is its own");
  memset(p, 'P', len);
  parent_go(&t);
  reap(pid, "MAP_PRIVATE");
  turn_close(&t);
  munmap(p, len);
}

static void posix_shm(void) {
  char name[64];
  snprintf(name, sizeof name, "/capsule-ipc-%d", (int)getpid());
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  CHECK(fd >= 0, "shm_open %s", name);
  EXPECT_ERR(EEXIST, shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600));
  size_t len = 3 * 4096;
  CHECK(ftruncate(fd, len) == 0, "ftruncate");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)len, "size %ld", (long)st.st_size);
  char path[96];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  CHECK(access(path, F_OK) == 0, "%s exists", path);
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED, "mmap of the shm object");
  CHECK(p[100] == 0, "a new object reads zeros");
  shared_both_ways(p, len, "shm_open MAP_SHARED");
  /* read() sees what the mapping holds. */
  char c = 0;
  CHECK(pread(fd, &c, 1, len - 1) == 1 && c == 'P', "pread after the child's write: %c", c);

  /* The child opens it by name and maps it at an address of its own. */
  pid_t pid = fork();
  if (pid == 0) {
    int f = shm_open(name, O_RDWR, 0);
    char* q = f >= 0 ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0) : MAP_FAILED;
    if (q == MAP_FAILED) _exit(2);
    int ok = q[0] == 'c' && q[len - 1] == 'P';
    q[1] = 'n';
    _exit(ok ? 0 : 1);
  }
  reap(pid, "shm_open by name in the child");
  CHECK(p[1] == 'n', "the child's write through its own mapping: %d", p[1]);

  /* MAP_PRIVATE of the same object: the child's writes stay its own. */
  char* r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(r != MAP_FAILED, "mmap private of the shm object");
  pid = fork();
  if (pid == 0) {
    int ok = r[1] == 'n';
    r[1] = 'z';
    _exit(ok && p[1] == 'n' ? 0 : 1);
  }
  reap(pid, "MAP_PRIVATE of a shm object");
  CHECK(p[1] == 'n' && r[1] == 'n', "a private copy's write stays in the child: %c %c", p[1], r[1]);

  CHECK(shm_unlink(name) == 0, "shm_unlink");
  EXPECT_ERR(ENOENT, shm_open(name, O_RDWR, 0));
  EXPECT_ERR(ENOENT, shm_unlink(name));
  /* The object lives on while mapped: still shared after unlink. */
  pid = fork();
  if (pid == 0) {
    p[2] = 'u';
    _exit(0);
  }
  reap(pid, "after shm_unlink");
  CHECK(p[2] == 'u', "shared after unlink: %d", p[2]);
  close(fd);
  munmap(p, len);
  munmap(r, len);
}

static void dont_fork(void) {
  size_t len = 4 * 4096;
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* s = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED && s != MAP_FAILED, "mmap");
  memset(p, 'd', len);
  memset(s, 's', len);
  CHECK(madvise(p + 4096, 2 * 4096, MADV_DONTFORK) == 0, "MADV_DONTFORK private");
  CHECK(madvise(s, len, MADV_DONTFORK) == 0, "MADV_DONTFORK shared");
  pid_t pid = fork();
  if (pid == 0) {
    unsigned char vec[4];
    int ok = 1;
    /* Not mapped in the child: mincore says ENOMEM, MAP_FIXED_NOREPLACE fits. */
    errno = 0;
    ok = ok && mincore(p + 4096, 2 * 4096, vec) == -1 && errno == ENOMEM;
    ok = ok && mincore(s, len, vec) == -1 && errno == ENOMEM;
    ok = ok && p[0] == 'd' && p[3 * 4096] == 'd';  /* the rest is there */
    void* q = mmap(p + 4096, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    ok = ok && q == p + 4096;
    _exit(ok ? 0 : 1);
  }
  reap(pid, "MADV_DONTFORK");
  CHECK(p[4096] == 'd' && s[0] == 's', "the parent keeps its pages");
  CHECK(madvise(p, len, MADV_DOFORK) == 0, "MADV_DOFORK");
  pid = fork();
  if (pid == 0) _exit(p[4096] == 'd' ? 0 : 1);
  reap(pid, "MADV_DOFORK");
  /* A range with a hole: ENOMEM (Linux applies the advice to the mapped
   * parts first; that part is not checked). */
  CHECK(munmap(p + 4096, 4096) == 0, "munmap a hole");
  EXPECT_ERR(ENOMEM, madvise(p, len, MADV_DONTFORK));
  EXPECT_ERR(EINVAL, madvise(p + 1, 4096, MADV_DONTFORK));
  munmap(p, len);
  munmap(s, len);
}

static void wipe_on_fork(void) {
  size_t len = 3 * 4096;
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char* s = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED && s != MAP_FAILED, "mmap");
  memset(p, 'w', len);
  CHECK(madvise(p, 2 * 4096, MADV_WIPEONFORK) == 0, "MADV_WIPEONFORK");
  EXPECT_ERR(EINVAL, madvise(s, len, MADV_WIPEONFORK));  /* shared memory: EINVAL */
  pid_t pid = fork();
  if (pid == 0) {
    int ok = p[0] == 0 && p[2 * 4096 - 1] == 0 && p[2 * 4096] == 'w';
    p[0] = 'c';  /* still writable: a fresh page */
    ok = ok && p[0] == 'c';
    _exit(ok ? 0 : 1);
  }
  reap(pid, "MADV_WIPEONFORK");
  CHECK(p[0] == 'w' && p[4096] == 'w', "the parent keeps its data");
  CHECK(madvise(p, len, MADV_KEEPONFORK) == 0, "MADV_KEEPONFORK");
  pid = fork();
  if (pid == 0) _exit(p[0] == 'w' ? 0 : 1);
  reap(pid, "MADV_KEEPONFORK");
  munmap(p, len);
  munmap(s, len);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  anonymous_shared();
  anonymous_private();
  posix_shm();
  dont_fork();
  wipe_on_fork();
  if (g_failures) return 1;
  printf("PASS shm_fork\n");
  return 0;
}
