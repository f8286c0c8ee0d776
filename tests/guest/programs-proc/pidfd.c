/* pidfds (docs/process.md "pidfds"): pidfd_open (PIDFD_NONBLOCK),
 * pidfd_send_signal, waitid(P_PIDFD), poll and epoll on a pidfd, clone and
 * clone3 with CLONE_PIDFD, pidfd_getfd, fdinfo's Pid line, and the errors
 * Linux gives for bad input. Raw system calls (musl has no wrappers).
 * Passes on the host's Linux too (as root: pidfd_getfd needs ptrace
 * rights there). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/guest_check.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define PIDFD_NONBLOCK O_NONBLOCK

static int pidfd_open(pid_t pid, unsigned flags) { return (int)syscall(434, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t* info, unsigned flags) {
  return (int)syscall(424, fd, sig, info, flags);
}
static int pidfd_getfd(int fd, int target, unsigned flags) { return (int)syscall(438, fd, target, flags); }
static int waitid_raw(int idtype, int id, siginfo_t* si, int options) {
  return (int)syscall(SYS_waitid, idtype, id, si, options, NULL);
}

struct clone_args_v0 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

/* A child that waits for a byte on the pipe, then exits with `code`. */
static pid_t waiting_child(int* release_fd, int code) {
  int p[2];
  if (pipe(p) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(p[1]);
    (void)read(p[0], &c, 1);
    _exit(code);
  }
  close(p[0]);
  *release_fd = p[1];
  return pid;
}

static int poll_in(int fd, int timeout_ms) {
  struct pollfd pf = {fd, POLLIN, 0};
  int r = poll(&pf, 1, timeout_ms);
  return r == 1 && (pf.revents & POLLIN) ? 1 : r;
}

/* The "Pid:" value in /proc/self/fdinfo/<fd> (-2 if none). */
static int fdinfo_pid(int fd) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  int f = open(path, O_RDONLY);
  if (f < 0) return -2;
  ssize_t n = read(f, buf, sizeof buf - 1);
  close(f);
  if (n <= 0) return -2;
  buf[n] = 0;
  char* p = strstr(buf, "\nPid:");
  return p ? atoi(p + 5) : -2;
}

static void bad_input(void) {
  EXPECT_ERR(EINVAL, pidfd_open(getpid(), 1));
  EXPECT_ERR(EINVAL, pidfd_open(0, 0));
  EXPECT_ERR(EINVAL, pidfd_open(-1, 0));
  EXPECT_ERR(ESRCH, pidfd_open(0x3ffffff0, 0));
  EXPECT_ERR(EBADF, pidfd_send_signal(-1, 0, NULL, 0));
  EXPECT_ERR(EBADF, pidfd_send_signal(999, 0, NULL, 0));
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_ERR(EBADF, pidfd_send_signal(p[0], 0, NULL, 0));  /* not a pidfd */
  siginfo_t si;
  EXPECT_ERR(EBADF, waitid_raw(P_PIDFD, p[0], &si, WEXITED));
  EXPECT_ERR(EINVAL, waitid_raw(P_PIDFD, -1, &si, WEXITED));
  EXPECT_ERR(EBADF, pidfd_getfd(p[0], 0, 0));
  close(p[0]), close(p[1]);
  int self = pidfd_open(getpid(), 0);
  CHECK(self >= 0, "pidfd_open(self)");
  EXPECT_ERR(EINVAL, pidfd_send_signal(self, 0, NULL, 0x100));
  EXPECT_ERR(EINVAL, pidfd_send_signal(self, 65, NULL, 0));
  EXPECT_ERR(EINVAL, pidfd_getfd(self, 0, 1));
  EXPECT_ERR(EBADF, pidfd_getfd(self, 555, 0));
  /* si_signo must be the signal; another process may not get a kernel
   * si_code. */
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = SIGUSR2;
  info.si_code = SI_QUEUE;
  EXPECT_ERR(EINVAL, pidfd_send_signal(self, SIGUSR1, &info, 0));
  CHECK(waitid_raw(P_PIDFD, self, &si, WEXITED | WNOHANG) == -1 && errno == ECHILD, "waitid on self: ECHILD");
  close(self);
}

static void signal_wait_poll(void) {
  int rel;
  pid_t c = waiting_child(&rel, 0);
  int fd = pidfd_open(c, 0);
  CHECK(fd >= 0, "pidfd_open(child)");
  CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "a pidfd is close-on-exec");
  CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "blocking");
  CHECK(fdinfo_pid(fd) == c, "fdinfo Pid: %d, child %d", fdinfo_pid(fd), c);
  CHECK(poll_in(fd, 0) == 0, "not readable while the child runs");
  CHECK(pidfd_send_signal(fd, 0, NULL, 0) == 0, "signal 0 checks");
  siginfo_t si;
  memset(&si, 0xff, sizeof si);
  CHECK(waitid_raw(P_PIDFD, fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0, "WNOHANG: nothing yet");
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = SIGTERM;
  info.si_code = SI_USER;  /* >= 0: a kernel code, refused for another process */
  EXPECT_ERR(EPERM, pidfd_send_signal(fd, SIGTERM, &info, 0));
  CHECK(pidfd_send_signal(fd, SIGTERM, NULL, 0) == 0, "SIGTERM through the pidfd");
  CHECK(poll_in(fd, 10000) == 1, "readable once the child has ended");
  memset(&si, 0, sizeof si);
  CHECK(waitid_raw(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == c && si.si_code == CLD_KILLED &&
            si.si_status == SIGTERM,
        "waitid(P_PIDFD): pid %d code %d status %d", si.si_pid, si.si_code, si.si_status);
  /* Reaped: the pidfd stays, the process is gone. */
  EXPECT_ERR(ESRCH, pidfd_send_signal(fd, 0, NULL, 0));
  EXPECT_ERR(ECHILD, waitid_raw(P_PIDFD, fd, &si, WEXITED));
  CHECK(poll_in(fd, 0) == 1, "still readable after the reaping");
  CHECK(fdinfo_pid(fd) == -1, "fdinfo Pid: -1 once reaped (%d)", fdinfo_pid(fd));
  EXPECT_ERR(ESRCH, pidfd_getfd(fd, 0, 0));
  close(fd);
  close(rel);
}

static void epoll_and_nonblock(void) {
  int rel;
  pid_t c = waiting_child(&rel, 5);
  int fd = pidfd_open(c, PIDFD_NONBLOCK);
  CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "PIDFD_NONBLOCK");
  siginfo_t si;
  EXPECT_ERR(EAGAIN, waitid_raw(P_PIDFD, fd, &si, WEXITED));
  memset(&si, 0xff, sizeof si);
  CHECK(waitid_raw(P_PIDFD, fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0, "with WNOHANG: 0, not EAGAIN");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl");
  struct epoll_event out;
  CHECK(epoll_wait(ep, &out, 1, 0) == 0, "nothing yet");
  CHECK(write(rel, "x", 1) == 1, "release");
  CHECK(epoll_wait(ep, &out, 1, 10000) == 1 && out.data.u64 == 42 && (out.events & EPOLLIN), "epoll: the exit");
  memset(&si, 0, sizeof si);
  CHECK(waitid_raw(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == c && si.si_code == CLD_EXITED &&
            si.si_status == 5,
        "exit status 5 (%d)", si.si_status);
  close(ep), close(fd), close(rel);

  /* A zombie's pidfd is readable at once. */
  pid_t z = fork();
  if (z == 0) _exit(0);
  CHECK(waitid_raw(P_PID, z, &si, WEXITED | WNOWAIT) == 0, "zombie");
  fd = pidfd_open(z, 0);
  CHECK(fd >= 0 && poll_in(fd, 0) == 1, "a zombie's pidfd is readable");
  CHECK(waitid_raw(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == z, "reaped through it");
  close(fd);
}

static void clone_pidfd(void) {
  /* clone3 */
  int fd = -1;
  struct clone_args_v0 ca;
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_PIDFD;
  ca.pidfd = (uintptr_t)&fd;
  ca.exit_signal = SIGCHLD;
  long pid = syscall(435, &ca, sizeof ca);
  if (pid == 0) _exit(7);
  CHECK(pid > 0 && fd >= 0, "clone3 CLONE_PIDFD: pid %ld fd %d", pid, fd);
  CHECK(fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC && fdinfo_pid(fd) == pid, "its pidfd");
  siginfo_t si;
  memset(&si, 0, sizeof si);
  CHECK(waitid_raw(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == pid && si.si_status == 7, "clone3 child: 7");
  close(fd);
  /* the legacy clone: the pidfd through parent_tid */
  fd = -1;
  pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &fd, 0, 0);
  if (pid == 0) _exit(8);
  CHECK(pid > 0 && fd >= 0, "clone CLONE_PIDFD: pid %ld fd %d", pid, fd);
  memset(&si, 0, sizeof si);
  CHECK(waitid_raw(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == pid && si.si_status == 8, "clone child: 8");
  close(fd);
  int tid;
  EXPECT_ERR(EINVAL, syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &tid, 0, 0));
}

static void getfd(void) {
  int go[2], ready[2];
  CHECK(pipe(go) == 0 && pipe(ready) == 0, "pipes");
  pid_t c = fork();
  if (c == 0) {
    int f = open("/tmp/pidfd-target", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (f < 0 || dup2(f, 20) != 20) _exit(1);
    if (write(ready[1], "r", 1) != 1) _exit(2);
    char ch;
    _exit(read(go[0], &ch, 1) == 1 ? 0 : 3);
  }
  char ch;
  CHECK(read(ready[0], &ch, 1) == 1, "child ready");
  int fd = pidfd_open(c, 0);
  int got = pidfd_getfd(fd, 20, 0);
  struct stat a, b;
  CHECK(got >= 0 && fstat(got, &a) == 0 && stat("/tmp/pidfd-target", &b) == 0 && a.st_ino == b.st_ino,
        "pidfd_getfd: the child's file");
  CHECK(got >= 0 && fcntl(got, F_GETFD) == FD_CLOEXEC, "close-on-exec");
  /* The same open file description: its offset is shared. */
  CHECK(write(got, "abc", 3) == 3, "write");
  EXPECT_ERR(EBADF, pidfd_getfd(fd, 21, 0));
  CHECK(write(go[1], "g", 1) == 1, "release");
  siginfo_t si;
  memset(&si, 0, sizeof si);
  CHECK(waitid_raw(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_status == 0, "child ok");
  CHECK(stat("/tmp/pidfd-target", &b) == 0 && b.st_size == 3, "written through the duplicate");
  close(got), close(fd);
  close(go[0]), close(go[1]), close(ready[0]), close(ready[1]);
  unlink("/tmp/pidfd-target");
}

static int g_thread_tid;
static int g_thread_stop[2];
static void* thread_fn(void* arg) {
  (void)arg;
  g_thread_tid = (int)syscall(SYS_gettid);
  char c;
  (void)read(g_thread_stop[0], &c, 1);
  return NULL;
}

static void thread_tid(void) {
  pthread_t t;
  CHECK(pipe(g_thread_stop) == 0, "pipe");
  CHECK(pthread_create(&t, NULL, thread_fn, NULL) == 0, "pthread_create");
  for (int i = 0; i < 10000 && !__atomic_load_n(&g_thread_tid, __ATOMIC_ACQUIRE); ++i) usleep(100);
  CHECK(g_thread_tid > 0, "thread started");
  /* A thread that does not lead its group, without PIDFD_THREAD: ENOENT
   * (Linux 6.9 and later; 6.1 said EINVAL). */
  EXPECT_ERR(ENOENT, pidfd_open(g_thread_tid, 0));
  CHECK(write(g_thread_stop[1], "x", 1) == 1, "stop");
  pthread_join(t, NULL);
  close(g_thread_stop[0]), close(g_thread_stop[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mkdir("/tmp", 01777);
  bad_input();
  signal_wait_poll();
  epoll_and_nonblock();
  clone_pidfd();
  getfd();
  thread_tid();
  if (g_failures == 0) printf("PASS pidfd\n");
  return g_failures ? 1 : 0;
}
