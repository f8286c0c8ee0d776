/* fork, vfork, posix_spawn, wait4/waitid, SIGCHLD, getppid, pipes between
 * processes, orphans, kill between processes (docs/process.md "Fork, exit
 * and wait"). Passes on the host's Linux too (as a child subreaper there,
 * so orphans come back to it as they do to pid 1 in the VM). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../include/guest_check.h"

extern char** environ;
static const char* g_self;
static int g_global = 1;

static volatile sig_atomic_t g_chld_count;
static volatile pid_t g_chld_pid;
static void on_chld(int sig, siginfo_t* si, void* uc) {
  (void)sig, (void)uc;
  ++g_chld_count;
  g_chld_pid = si->si_pid;
}

static long mem_free_kib(void) {
  FILE* f = fopen("/proc/meminfo", "r");
  if (!f) return -1;
  char line[128];
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemFree: %ld kB", &v) == 1) break;
  fclose(f);
  return v;
}

static void cow_isolation(void) {
  char* heap = malloc(64 * 1024);
  memset(heap, 'p', 64 * 1024);
  int to_child[2], to_parent[2];
  CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipes");
  g_global = 10;
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    int ok = g_global == 10 && heap[100] == 'p';
    g_global = 20;  /* the parent must not see these */
    memset(heap, 'c', 64 * 1024);
    if (write(to_parent[1], "x", 1) != 1) _exit(90);
    if (read(to_child[0], &c, 1) != 1) _exit(91); /* the parent wrote meanwhile */
    ok = ok && g_global == 20 && heap[5000] == 'c';
    _exit(ok ? 0 : 1);
  }
  CHECK(pid > 0, "fork");
  char c;
  CHECK(read(to_parent[0], &c, 1) == 1, "child ready");
  CHECK(g_global == 10, "the parent's global after the child's write: %d", g_global);
  CHECK(heap[100] == 'p' && heap[64 * 1024 - 1] == 'p', "the parent's heap after the child's write");
  g_global = 30;
  memset(heap, 'P', 64 * 1024);
  CHECK(write(to_child[1], "y", 1) == 1, "go");
  int st = -1;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child saw its own writes only: status %#x", st);
  CHECK(g_global == 30 && heap[7] == 'P', "the parent keeps its own writes");
  for (int i = 0; i < 2; ++i) close(to_child[i]), close(to_parent[i]);
  free(heap);
}

static void shared_mapping(void) {
  int* shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(shm != MAP_FAILED, "mmap shared");
  *shm = 1;
  pid_t pid = fork();
  if (pid == 0) {
    shm[0] = 2;
    shm[100] = 77;  /* a page the parent never touched before fork... same page here */
    _exit(0);
  }
  int st;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
  CHECK(shm[0] == 2 && shm[100] == 77, "MAP_SHARED stays shared: %d %d", shm[0], shm[100]);
  munmap(shm, 4096);
}

static void statuses(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(42);
  int st = 0;
  /* A zombie (WNOWAIT waits for the end, keeps it) can still be signalled:
   * success, and its status stays the exit code. */
  siginfo_t zi;
  CHECK(waitid(P_PID, pid, &zi, WEXITED | WNOWAIT) == 0 && zi.si_pid == pid, "waitid WNOWAIT for a zombie");
  CHECK(kill(pid, SIGTERM) == 0, "kill a zombie: %s", strerror(errno));
  CHECK(wait4(pid, &st, 0, NULL) == pid, "wait4");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "exit code 42: status %#x", st);

  pid = fork();
  if (pid == 0) {
    for (;;) pause();
  }
  CHECK(kill(pid, 0) == 0, "kill 0 to a live child");
  CHECK(kill(pid, SIGKILL) == 0, "kill SIGKILL");
  struct rusage ru;
  CHECK(wait4(pid, &st, 0, &ru) == pid, "wait4 with rusage");
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed by SIGKILL: status %#x", st);
  CHECK(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000, "rusage");

  pid = fork();
  if (pid == 0) {
    raise(SIGTERM);
    _exit(1);
  }
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "SIGTERM: status %#x", st);
}

static void nohang_and_pipe(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  int q[2];
  CHECK(pipe(q) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(p[1]);
    close(q[0]);
    char c;
    ssize_t n = read(p[0], &c, 1); /* EOF once the parent closes */
    const char msg[] = "hello from the child";
    if (write(q[1], msg, sizeof msg) != (ssize_t)sizeof msg) _exit(3);
    _exit(n == 0 ? 5 : 4);
  }
  close(p[0]);
  close(q[1]);
  int st;
  CHECK(waitpid(pid, &st, WNOHANG) == 0, "WNOHANG with a live child gives 0");
  siginfo_t si;
  memset(&si, 0xff, sizeof si);
  CHECK(waitid(P_PID, pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0, "waitid WNOHANG: si_pid %d", si.si_pid);
  close(p[1]); /* the last writer: the child's read sees EOF */
  char buf[64] = {0};
  size_t got = 0;
  ssize_t n;
  while ((n = read(q[0], buf + got, sizeof buf - got)) > 0) got += (size_t)n;
  CHECK(n == 0 && got == sizeof "hello from the child" && strcmp(buf, "hello from the child") == 0,
        "the child's message then EOF: %zu '%s'", got, buf);
  close(q[0]);
  CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == pid && si.si_code == CLD_EXITED &&
            si.si_status == 5,
        "waitid WNOWAIT: pid %d code %d status %d", si.si_pid, si.si_code, si.si_status);
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 5, "still there after WNOWAIT: %#x", st);
}

static void sigchld_and_ppid(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_chld;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t me = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    pid_t pp = getppid();
    if (write(p[1], &pp, sizeof pp) != sizeof pp) _exit(2);
    _exit(0);
  }
  pid_t pp = 0;
  CHECK(read(p[0], &pp, sizeof pp) == sizeof pp && pp == me, "getppid in the child: %d, parent %d", pp, me);
  int st;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
  for (int i = 0; i < 1000 && !g_chld_count; ++i) usleep(1000);
  CHECK(g_chld_count >= 1 && g_chld_pid == pid, "SIGCHLD with si_pid: count %d pid %d", g_chld_count, g_chld_pid);
  close(p[0]);
  close(p[1]);
  signal(SIGCHLD, SIG_DFL);

  /* SIGCHLD ignored: children are reaped at once, wait gives ECHILD. */
  signal(SIGCHLD, SIG_IGN);
  pid = fork();
  if (pid == 0) _exit(0);
  errno = 0;
  int r = waitpid(pid, &st, 0);  /* Linux waits for the child, then ECHILD */
  CHECK(r == -1 && errno == ECHILD, "SIG_IGN auto-reap: %d", r);
  signal(SIGCHLD, SIG_DFL);
}

static void vfork_exec(void) {
  pid_t pid = vfork();
  if (pid == 0) {
    char* argv[] = {(char*)g_self, (char*)"exit-with", (char*)"7", NULL};
    execve(g_self, argv, environ);
    _exit(99);
  }
  int st;
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "vfork");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "vfork+exec status: %#x", st);

  /* vfork then _exit, with the child's stack writes not corrupting ours. */
  volatile int local = 5;
  pid = vfork();
  if (pid == 0) _exit(local == 5 ? 11 : 12);
  CHECK(waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 11, "vfork+_exit: %#x", st);

  char* argv[] = {(char*)g_self, (char*)"exit-with", (char*)"3", NULL};
  pid_t sp;
  CHECK(posix_spawn(&sp, g_self, NULL, NULL, argv, environ) == 0, "posix_spawn");
  CHECK(waitpid(sp, &st, 0) == sp && WIFEXITED(st) && WEXITSTATUS(st) == 3, "posix_spawn status %#x", st);
  char* bad[] = {(char*)"/nonexistent", NULL};
  CHECK(posix_spawn(&sp, "/nonexistent/program", NULL, NULL, bad, environ) == ENOENT, "posix_spawn of nothing");
}

/* AF_UNIX socketpairs shared across fork (docs/net.md): a stream each way,
 * EOF for the parent once the child (the other end's last holder) exits,
 * and a datagram pair keeping message boundaries between processes. */
static void socketpair_across_fork(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair stream");
  int dv[2];
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, dv) == 0, "socketpair dgram");
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    close(dv[0]);
    char buf[16];
    ssize_t n = read(sv[1], buf, sizeof buf);
    if (n != 4 || memcmp(buf, "ping", 4) != 0) _exit(2);
    if (write(sv[1], "pong", 4) != 4) _exit(3);
    if (send(dv[1], "one", 3, 0) != 3 || send(dv[1], "two!", 4, 0) != 4) _exit(4);
    _exit(0);  /* closes sv[1]: the parent's next read sees EOF */
  }
  CHECK(pid > 0, "fork");
  close(sv[1]);
  close(dv[1]);
  CHECK(write(sv[0], "ping", 4) == 4, "write to the child");
  char buf[16] = {0};
  CHECK(read(sv[0], buf, sizeof buf) == 4 && memcmp(buf, "pong", 4) == 0, "the child's answer: '%s'", buf);
  char d[16] = {0};
  ssize_t a = recv(dv[0], d, sizeof d, 0);
  CHECK(a == 3 && memcmp(d, "one", 3) == 0, "first datagram: %zd", a);
  ssize_t b = recv(dv[0], d, sizeof d, 0);
  CHECK(b == 4 && memcmp(d, "two!", 4) == 0, "second datagram: %zd", b);
  CHECK(read(sv[0], buf, sizeof buf) == 0, "EOF once the child is gone");
  int st;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "socket child status %#x", st);
  close(sv[0]);
  close(dv[0]);
}

static void cloexec_inherited(void) {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  int fd2 = open("/proc/self/status", O_RDONLY);
  pid_t pid = fork();
  if (pid == 0) _exit((fcntl(fd, F_GETFD) & FD_CLOEXEC) && !(fcntl(fd2, F_GETFD) & FD_CLOEXEC) ? 0 : 1);
  int st;
  CHECK(waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 0, "close-on-exec flags kept: %#x", st);
  close(fd);
  close(fd2);
}

static void orphans(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t child = fork();
  if (child == 0) {
    pid_t grandchild = fork();
    if (grandchild == 0) {
      pid_t first = getppid();
      for (int i = 0; i < 5000 && getppid() == first; ++i) usleep(1000);
      pid_t now = getppid();
      if (write(p[1], &now, sizeof now) != sizeof now) _exit(2);
      _exit(6);
    }
    _exit(0);  /* the grandchild is an orphan */
  }
  int st;
  CHECK(waitpid(child, &st, 0) == child, "the middle child");
  pid_t pp = 0;
  CHECK(read(p[0], &pp, sizeof pp) == sizeof pp, "the orphan's report");
  CHECK(pp == getpid(), "the orphan's new parent: %d, we are %d", pp, getpid());
  pid_t w = waitpid(-1, &st, 0);
  CHECK(w > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 6, "the orphan reaped by its new parent: %d %#x", w, st);
  close(p[0]);
  close(p[1]);
}

static void bad_input(void) {
  int st;
  EXPECT_ERR(ECHILD, waitpid(-1, &st, 0));         /* no children at all */
  EXPECT_ERR(ECHILD, waitpid(999999, &st, 0));     /* not a child */
  EXPECT_ERR(ECHILD, waitpid(1, &st, WNOHANG));    /* ourselves or init: not a child */
  EXPECT_ERR(EINVAL, waitpid(-1, &st, 0x100000));  /* unknown option bit */
  siginfo_t si;
  EXPECT_ERR(EINVAL, waitid(P_ALL, 0, &si, WNOHANG)); /* none of WEXITED/WSTOPPED/WCONTINUED */
  EXPECT_ERR(EINVAL, waitid(7, 0, &si, WEXITED));     /* bad idtype */
  EXPECT_ERR(ESRCH, kill(999999, 0));
  pid_t pid = fork();
  if (pid == 0) _exit(1);
  EXPECT_ERR(EFAULT, syscall(SYS_wait4, pid, (void*)8, 0, NULL)); /* reaped, then the bad pointer */
  EXPECT_ERR(ECHILD, waitpid(pid, &st, WNOHANG));                  /* it was reaped */
}

/* A child whose last thread is not its main thread (the main thread
 * exits first): its CPU time reaches the parent's RUSAGE_CHILDREN
 * once, not twice (the last thread ends the process). The thread spins
 * 300 ms of CPU, reads the process's clock and exits; the parent's
 * children time grows by that much and not by twice as much. */
static long long ts_ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }
static long long tv_ns(struct timeval t) { return t.tv_sec * 1000000000LL + t.tv_usec * 1000LL; }

static void* spin_then_report(void* arg) {
  struct timespec t;
  do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  while (ts_ns(t) < 300000000LL);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  *(long long*)arg = ts_ns(t);
  return NULL;  /* the process's last thread: the process ends */
}

static void last_thread_cpu_time(void) {
  long long* shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(shared != MAP_FAILED, "mmap shared");
  struct rusage before, after;
  CHECK(getrusage(RUSAGE_CHILDREN, &before) == 0, "getrusage before");
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, spin_then_report, shared) != 0) _exit(2);
    /* The main thread ends alone (the raw exit: the C library still counts
     * it, so the other thread's return is a plain thread exit too). */
    for (;;) syscall(SYS_exit, 0);
  }
  int st;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "threaded child: %#x", st);
  CHECK(getrusage(RUSAGE_CHILDREN, &after) == 0, "getrusage after");
  long long grew = tv_ns(after.ru_utime) + tv_ns(after.ru_stime) - tv_ns(before.ru_utime) - tv_ns(before.ru_stime);
  long long own = *shared;
  CHECK(own >= 300000000LL, "the child's own CPU clock: %lld ns", own);
  CHECK(grew >= own - 20000000LL && grew < own + own / 2, "children CPU time grew by %lld ns, the child measured %lld ns",
        grew, own);
  munmap(shared, 4096);
}

/* Process groups and sessions between processes: a child starts in the
 * parent's group and session; the parent moves it into a group of its own
 * (setpgid on a child), signals that group with kill(-pgid); a child that
 * exec'd cannot be moved (EACCES); a child in a new session (setsid)
 * cannot join the parent's group (EPERM) nor leave its own (session
 * leader, EPERM). Bad input: negative pgid EINVAL, a non-child or no such
 * process ESRCH, a group that does not exist EPERM. */
static void groups_and_sessions(void) {
  const pid_t me = getpid(), my_pgid = getpgrp(), my_sid = getsid(0);
  int go[2], back[2];
  CHECK(pipe(go) == 0 && pipe(back) == 0, "pipes");
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    if (getpgrp() != my_pgid || getsid(0) != my_sid) _exit(2);
    if (setpgid(0, 999999) != -1 || errno != EPERM) _exit(3);  /* no such group */
    if (write(back[1], "r", 1) != 1 || read(go[0], &c, 1) != 1) _exit(4);
    if (getpgrp() != getpid()) _exit(5);  /* the parent moved us */
    /* Took the 'g': killed before reading it, the child would leave it in
     * the pipe for the session child below, which would then exit early. */
    if (write(back[1], "m", 1) != 1) _exit(6);
    for (;;) pause(); /* until the group's SIGTERM */
  }
  CHECK(pid > 0, "fork");
  char c;
  CHECK(read(back[0], &c, 1) == 1, "child ready");
  CHECK(getpgid(pid) == my_pgid && getsid(pid) == my_sid, "the child's group and session: %d %d", getpgid(pid),
        getsid(pid));
  EXPECT_ERR(EINVAL, setpgid(pid, -1));
  CHECK(setpgid(pid, 0) == 0, "setpgid on a child: %s", strerror(errno));
  CHECK(getpgid(pid) == pid && getpgrp() == my_pgid, "moved: %d, ours %d", getpgid(pid), getpgrp());
  CHECK(write(go[1], "g", 1) == 1, "go");
  CHECK(read(back[0], &c, 1) == 1 && c == 'm', "the moved child's check: %c", c);
  CHECK(kill(-pid, SIGTERM) == 0, "kill the child's group: %s", strerror(errno));
  int st;
  CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "the group's child: %#x", st);
  EXPECT_ERR(ESRCH, kill(-pid, SIGTERM));  /* the group is gone */

  /* A child that exec'd: EACCES. The close-on-exec pipe reads EOF once it has. */
  int ex[2], hold[2];
  CHECK(pipe2(ex, O_CLOEXEC) == 0 && pipe(hold) == 0, "pipes");
  pid = fork();
  if (pid == 0) {
    close(ex[0]);
    close(hold[1]);
    dup2(hold[0], 0);
    char* argv[] = {(char*)g_self, (char*)"read-stdin", NULL};
    execve(g_self, argv, environ);
    _exit(99);
  }
  close(ex[1]);
  close(hold[0]);
  CHECK(read(ex[0], &c, 1) == 0, "exec'd");
  EXPECT_ERR(EACCES, setpgid(pid, 0));
  close(hold[1]);  /* its stdin: EOF, it exits */
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 8, "exec'd child: %#x", st);
  close(ex[0]);

  /* A new session. */
  pid = fork();
  if (pid == 0) {
    pid_t s = setsid();
    if (s != getpid() || getsid(0) != s || getpgrp() != s) _exit(2);
    if (setpgid(0, my_pgid) != -1 || errno != EPERM) _exit(3);  /* another session's group */
    if (setpgid(0, 0) != -1 || errno != EPERM) _exit(4);        /* a session leader */
    if (setsid() != -1 || errno != EPERM) _exit(5);             /* leads a group already */
    if (write(back[1], "s", 1) != 1 || read(go[0], &c, 1) != 1) _exit(6);
    _exit(0);
  }
  CHECK(read(back[0], &c, 1) == 1 && c == 's', "the session child's checks: %c", c);
  CHECK(getsid(pid) == pid && getpgid(pid) == pid, "its session %d, group %d", getsid(pid), getpgid(pid));
  EXPECT_ERR(EPERM, setpgid(pid, 0));  /* a child in another session */
  CHECK(write(go[1], "g", 1) == 1, "go");
  siginfo_t si;
  CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == pid, "the session child ended");
  EXPECT_ERR(EPERM, setpgid(pid, 0)); /* a zombie child is still a child (Linux finds it until reaped) */
  CHECK(getsid(pid) == pid, "a zombie's session: %d", getsid(pid));
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "session child: %#x", st);
  EXPECT_ERR(ESRCH, setpgid(pid, 0)); /* reaped */
  for (int i = 0; i < 2; ++i) close(go[i]), close(back[i]);

  EXPECT_ERR(ESRCH, getpgid(999999));
  EXPECT_ERR(ESRCH, getsid(999999));
  EXPECT_ERR(ESRCH, setpgid(999999, 0));
  if (getppid() > 0) EXPECT_ERR(ESRCH, setpgid(getppid(), 0));  /* not our child */
  CHECK(getpgid(0) == my_pgid && getpgid(me) == my_pgid, "ourselves");
}

/* PR_SET_PDEATHSIG: a grandchild asks for SIGUSR1 when its parent ends;
 * the middle child exits, the grandchild gets the signal and reports it. */
static volatile sig_atomic_t g_usr1;
static void on_usr1(int sig) { (void)sig, g_usr1 = 1; }

static void pdeathsig(void) {
  int report[2], ready[2];
  CHECK(pipe(report) == 0 && pipe(ready) == 0, "pipes");
  pid_t child = fork();
  if (child == 0) {
    pid_t gc = fork();
    if (gc == 0) {
      sigset_t block, none;
      sigemptyset(&block);
      sigaddset(&block, SIGUSR1);
      sigprocmask(SIG_BLOCK, &block, &none);
      sigdelset(&none, SIGUSR1);
      signal(SIGUSR1, on_usr1);
      int armed = prctl(PR_SET_PDEATHSIG, SIGUSR1) == 0, got = 0;
      prctl(PR_GET_PDEATHSIG, &got);
      if (write(ready[1], "r", 1) != 1) _exit(2);
      while (!g_usr1) sigsuspend(&none);
      char r = armed && got == SIGUSR1 ? 'u' : 'x';
      if (write(report[1], &r, 1) != 1) _exit(3);
      _exit(0);
    }
    char c;
    if (gc < 0 || read(ready[0], &c, 1) != 1) _exit(4);
    _exit(0);  /* the grandchild's parent ends */
  }
  int st;
  CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0, "middle child: %#x", st);
  char r = 0;
  CHECK(read(report[0], &r, 1) == 1 && r == 'u', "the death signal reached the grandchild: %c", r);
  pid_t w = waitpid(-1, &st, 0);
  CHECK(w > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the grandchild reaped: %d %#x", w, st);
  for (int i = 0; i < 2; ++i) close(report[i]), close(ready[i]);
  /* A fork's child does not inherit the setting. */
  CHECK(prctl(PR_SET_PDEATHSIG, SIGUSR2) == 0, "set");
  child = fork();
  if (child == 0) {
    int got = -1;
    prctl(PR_GET_PDEATHSIG, &got);
    _exit(got == 0 ? 0 : 1);
  }
  CHECK(waitpid(child, &st, 0) == child && WEXITSTATUS(st) == 0, "not inherited: %#x", st);
  CHECK(prctl(PR_SET_PDEATHSIG, 0) == 0, "clear");
}

/* Copy-on-write really shares: counted in the VM's free memory (pid 1 is
 * alone there). A child of a process with 16 MiB touched costs little more
 * than page tables until it writes; writing every page copies 16 MiB; its
 * exit gives it all back. */
static void cow_shared_count(void) {
  if (getpid() != 1) return;
  const size_t sz = 16u << 20;
  char* p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap 16 MiB");
  if (p == MAP_FAILED) return;
  memset(p, 1, sz);
  int up[2], down[2];
  CHECK(pipe(up) == 0 && pipe(down) == 0, "pipes");
  long before = mem_free_kib();
  pid_t pid = fork();
  if (pid == 0) {
    char c = 0;
    long sum = 0;
    for (size_t i = 0; i < sz; i += 4096) sum += p[i];
    c = sum == (long)(sz / 4096) ? 'r' : 'x';
    write(up[1], &c, 1);
    read(down[0], &c, 1);
    for (size_t i = 0; i < sz; i += 4096) p[i] = 2;
    c = 'w';
    write(up[1], &c, 1);
    read(down[0], &c, 1);
    _exit(0);
  }
  char c = 0;
  CHECK(read(up[0], &c, 1) == 1 && c == 'r', "the child read the parent's pages: %c", c);
  long shared = mem_free_kib();
  write(down[1], &c, 1);
  CHECK(read(up[0], &c, 1) == 1 && c == 'w', "the child wrote every page");
  long copied = mem_free_kib();
  write(down[1], &c, 1);
  waitpid(pid, NULL, 0);
  long after = mem_free_kib();
  CHECK(before - shared < 2048, "a forked child reading 16 MiB took %ld KiB (shared, not copied)", before - shared);
  CHECK(before - copied >= 15 * 1024, "a child writing 16 MiB took only %ld KiB", before - copied);
  CHECK(before - after < 512, "the child's exit gave back its copies: %ld -> %ld KiB", before, after);
  printf("cow: 16 MiB parent, child after reading %ld KiB, after writing %ld KiB, after exit %ld KiB\n",
         before - shared, before - copied, before - after);
  close(up[0]), close(up[1]), close(down[0]), close(down[1]);
  munmap(p, sz);
}

static void many_forks(void) {
  /* Warm up (slabs, page tables), then 1000 fork+exit+wait cycles (300 with
   * several CPUs, where each cycle crosses CPUs and costs ten times more
   * under TCG): the free memory comes back. Checked in the VM, where the
   * test is pid 1 and alone. */
  const int cycles = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 300 : 1000;
  for (int i = 0; i < 20; ++i) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
  }
  long before = mem_free_kib();
  int bad = 0;
  for (int i = 0; i < cycles; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      g_global = i;  /* a COW copy each time */
      _exit(i & 0x7f);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || WEXITSTATUS(st) != (i & 0x7f)) ++bad;
  }
  long after = mem_free_kib();
  CHECK(bad == 0, "%d forks: %d failed", cycles, bad);
  if (getpid() == 1)
    CHECK(before > 0 && after > 0 && before - after < 512, "free memory after %d forks: %ld -> %ld KiB", cycles,
          before, after);
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "exit-with") == 0) return atoi(argv[2]);
  if (argc == 2 && strcmp(argv[1], "read-stdin") == 0) {
    char c;
    return read(0, &c, 1) == 0 ? 8 : 9;
  }
  g_self = argv[0];
  setvbuf(stdout, NULL, _IONBF, 0);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  bad_input();
  cow_isolation();
  shared_mapping();
  statuses();
  nohang_and_pipe();
  sigchld_and_ppid();
  vfork_exec();
  socketpair_across_fork();
  cloexec_inherited();
  orphans();
  groups_and_sessions();
  pdeathsig();
  last_thread_cpu_time();
  many_forks();
  cow_shared_count();
  if (g_failures == 0) printf("PASS fork\n");
  return g_failures ? 1 : 0;
}
