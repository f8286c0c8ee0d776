/* execve and execveat, as one chain of process images (no fork needed):
 *
 *   start   error cases (ENOENT, EACCES, ENOEXEC, E2BIG, EFAULT, ELOOP,
 *           ENOTDIR, EINVAL) with four more threads (spinning, sleeping,
 *           blocked in a pipe read and in a condition variable), which must
 *           survive each failed call; then descriptors (one close-on-exec),
 *           signal actions (one caught, one ignored), a blocked signal, an
 *           alternate stack, a POSIX timer and an itimer are set up, and a
 *           second thread execs "after" with a chosen argv and envp;
 *   after   checks what execve kept and reset (a pending blocked signal
 *           too), and that it is the only
 *           thread (its tid is the pid; the old tids are gone); then execs
 *           a "#!" script whose interpreter is this program;
 *   script  checks the interpreter's argv (interpreter, its argument, the
 *           script's path, the old argv without argv[0]); then execveat
 *           with AT_EMPTY_PATH on a descriptor of this program;
 *   fdexec  checks AT_EXECFN (/dev/fd/N) and /proc/self/exe, then runs
 *           /proc/self/exe;
 *   procexe checks /proc/self/exe is still this file and prints
 *           "PASS exec_chain".
 *
 * Each stage prints one "FAIL file:line: ..." per failed check. Runs the
 * same natively on Linux. argv[1] = stage, argv[2] = this program's
 * absolute path, argv[3] = a scratch directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../include/guest_check.h"

static long sys_execve(const char* path, char* const argv[], char* const envp[]) {
  return syscall(SYS_execve, path, argv, envp);
}
static long sys_execveat(int fd, const char* path, char* const argv[], char* const envp[], int flags) {
  return syscall(SYS_execveat, fd, path, argv, envp, flags);
}

static char* const* volatile g_badvec = (char* const*)16; /* unmapped */
static char g_self[PATH_MAX];
static char g_dir[PATH_MAX];

static void write_file(const char* path, const char* data, size_t n, mode_t mode) {
  unlink(path);
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
  CHECK(fd >= 0, "create %s", path);
  if (fd < 0) return;
  CHECK(write(fd, data, n) == (ssize_t)n, "write %s", path);
  close(fd);
  chmod(path, mode);
}

/* --- start: error cases with threads running, then the real exec --- */

static volatile int g_spin_count;
static volatile int g_tids[5];
static int g_pipe[2];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

static void* spinner(void* arg) {
  (void)arg;
  g_tids[0] = gettid();
  for (;;) ++g_spin_count;
  return NULL;
}
static void* sleeper(void* arg) {
  (void)arg;
  g_tids[1] = gettid();
  for (;;) sleep(100);
  return NULL;
}

/* Blocked in read() on an empty pipe, and in a condition variable (futex). */
static void* reader(void* arg) {
  (void)arg;
  g_tids[3] = gettid();
  char c;
  for (;;) read(g_pipe[0], &c, 1);
  return NULL;
}
static void* waiter(void* arg) {
  (void)arg;
  g_tids[4] = gettid();
  pthread_mutex_lock(&g_mu);
  for (;;) pthread_cond_wait(&g_cv, &g_mu);
  return NULL;
}

static char g_fdarg[2][16];
static char g_tidarg[5][16];
static char g_timerarg[32];
static char g_pidarg[16];

static void* execer(void* arg) {
  (void)arg;
  g_tids[2] = gettid();
  snprintf(g_tidarg[0], 16, "%d", g_tids[0]);
  snprintf(g_tidarg[1], 16, "%d", g_tids[1]);
  snprintf(g_tidarg[2], 16, "%d", g_tids[2]);
  snprintf(g_tidarg[3], 16, "%d", g_tids[3]);
  snprintf(g_tidarg[4], 16, "%d", g_tids[4]);
  char* argv[] = {"after-argv0", "after", g_self, g_dir, g_fdarg[0], g_fdarg[1],
                  g_tidarg[0], g_tidarg[1], g_tidarg[2], g_timerarg, g_pidarg, "", "a b  c",
                  g_tidarg[3], g_tidarg[4], NULL};
  /* And 1.2 MB of environment in 12 strings of 100 000 bytes: more than
   * one string may hold, well within Linux's total (RLIMIT_STACK / 4). */
  char* envp[4 + 12 + 1] = {"E1=one", "E2=with space", "EMPTY=", "NOEQUALS"};
  for (int i = 0; i < 12; ++i) {
    envp[4 + i] = malloc(100001);
    memset(envp[4 + i], 'a' + i, 100000);
    envp[4 + i][0] = 'A' + i;
    envp[4 + i][1] = '=';
    envp[4 + i][100000] = 0;
  }
  envp[16] = NULL;
  /* A blocked signal pending for this thread stays pending. */
  raise(SIGTERM);
  sys_execve(g_self, argv, envp);
  CHECK(0, "execve from a thread returned");
  exit(1);
}

static void stage_start(void) {
  pthread_t t1, t2, t4, t5;
  CHECK(pipe(g_pipe) == 0, "pipe");
  CHECK(pthread_create(&t1, NULL, spinner, NULL) == 0, "spinner");
  CHECK(pthread_create(&t2, NULL, sleeper, NULL) == 0, "sleeper");
  CHECK(pthread_create(&t4, NULL, reader, NULL) == 0, "reader");
  CHECK(pthread_create(&t5, NULL, waiter, NULL) == 0, "waiter");
  while (!g_tids[0] || !g_tids[1] || !g_tids[3] || !g_tids[4]) usleep(1000);
  usleep(10000); /* the reader and the waiter are asleep by now */

  char path[PATH_MAX + 64];
  char* argv[] = {"x", NULL};
  char* envp[] = {NULL};
  EXPECT_ERR(ENOENT, sys_execve("/nonexistent/program", argv, envp));
  EXPECT_ERR(ENOENT, sys_execve("", argv, envp));
  EXPECT_ERR(EFAULT, sys_execve((const char*)16, argv, envp));
  /* No execute bit, and a directory: EACCES. */
  snprintf(path, sizeof path, "%s/noexec", g_dir);
  write_file(path, "#!/bin/true\n", 12, 0644);
  EXPECT_ERR(EACCES, sys_execve(path, argv, envp));
  EXPECT_ERR(EACCES, sys_execve(g_dir, argv, envp));
  /* A file below a regular file: ENOTDIR. */
  snprintf(path, sizeof path, "%s/noexec/below", g_dir);
  EXPECT_ERR(ENOTDIR, sys_execve(path, argv, envp));
  /* Executable garbage, and an empty executable file: ENOEXEC. */
  snprintf(path, sizeof path, "%s/garbage", g_dir);
  write_file(path, "\x7f" "ELF garbage that is no program at all\n", 39, 0755);
  EXPECT_ERR(ENOEXEC, sys_execve(path, argv, envp));
  snprintf(path, sizeof path, "%s/empty", g_dir);
  write_file(path, "", 0, 0755);
  EXPECT_ERR(ENOEXEC, sys_execve(path, argv, envp));
  /* "#!" with no interpreter: ENOEXEC; a missing interpreter: ENOENT. */
  snprintf(path, sizeof path, "%s/nointerp", g_dir);
  write_file(path, "#!   \n", 6, 0755);
  EXPECT_ERR(ENOEXEC, sys_execve(path, argv, envp));
  snprintf(path, sizeof path, "%s/missinginterp", g_dir);
  write_file(path, "#!/nonexistent/interp\n", 22, 0755);
  EXPECT_ERR(ENOENT, sys_execve(path, argv, envp));
  /* A script that is its own interpreter: ELOOP. */
  snprintf(path, sizeof path, "%s/loop", g_dir);
  char script[PATH_MAX + 16];
  int n = snprintf(script, sizeof script, "#!%s\n", path);
  write_file(path, script, (size_t)n, 0755);
  EXPECT_ERR(ELOOP, sys_execve(path, argv, envp));
  /* Bad pointers: the argv array, a string in it, the envp array. */
  EXPECT_ERR(EFAULT, sys_execve(g_self, g_badvec, envp));
  char* badargv[] = {"x", (char*)16, NULL};
  EXPECT_ERR(EFAULT, sys_execve(g_self, badargv, envp));
  EXPECT_ERR(EFAULT, sys_execve(g_self, argv, g_badvec));
  /* E2BIG: one string longer than MAX_ARG_STRLEN (128 KiB with its NUL),
   * and 8 MiB of strings in all. */
  size_t big = 128 * 1024;
  char* s = malloc(big + 1);
  memset(s, 'a', big);
  s[big] = 0;
  char* bigargv[] = {"x", s, NULL};
  EXPECT_ERR(E2BIG, sys_execve(g_self, bigargv, envp));
  s[big - 100] = 0;
  char** many = calloc(90, sizeof(char*));
  for (int i = 0; i < 88; ++i) many[i] = s;
  EXPECT_ERR(E2BIG, sys_execve(g_self, many, envp));
  EXPECT_ERR(E2BIG, sys_execve(g_self, argv, many));
  free(many);
  free(s);
  /* execveat: unknown flags, a bad descriptor, a symlink with NOFOLLOW. */
  EXPECT_ERR(EINVAL, sys_execveat(AT_FDCWD, g_self, argv, envp, 0x4));
  EXPECT_ERR(EBADF, sys_execveat(999, "", argv, envp, AT_EMPTY_PATH));
  EXPECT_ERR(EBADF, sys_execveat(999, "relative", argv, envp, 0));
  snprintf(path, sizeof path, "%s/link", g_dir);
  unlink(path);
  CHECK(symlink(g_self, path) == 0, "symlink");
  EXPECT_ERR(ELOOP, sys_execveat(AT_FDCWD, path, argv, envp, AT_SYMLINK_NOFOLLOW));
  int dfd = open(g_dir, O_RDONLY | O_DIRECTORY);
  EXPECT_ERR(ENOENT, sys_execveat(dfd, "nothing-here", argv, envp, 0));
  EXPECT_ERR(EACCES, sys_execveat(dfd, "noexec", argv, envp, 0));
  close(dfd);

  /* The failed calls left the caller and its threads running. */
  int before = g_spin_count;
  usleep(20000);
  CHECK(g_spin_count != before, "the spinning thread stopped after failed execve calls");
  CHECK(syscall(SYS_tgkill, getpid(), g_tids[0], 0) == 0, "spinner gone");
  CHECK(syscall(SYS_tgkill, getpid(), g_tids[1], 0) == 0, "sleeper gone");
  CHECK(syscall(SYS_tgkill, getpid(), g_tids[3], 0) == 0, "reader gone");
  CHECK(syscall(SYS_tgkill, getpid(), g_tids[4], 0) == 0, "waiter gone");

  /* What execve must keep or reset. */
  int keep = open("/dev/null", O_RDONLY);
  int drop = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(keep >= 0 && drop >= 0, "open /dev/null");
  snprintf(g_fdarg[0], 16, "%d", keep);
  snprintf(g_fdarg[1], 16, "%d", drop);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = (void (*)(int))stage_start; /* any address: it is never called */
  sa.sa_flags = SA_RESTART;
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction USR1");
  sa.sa_handler = SIG_IGN;
  CHECK(sigaction(SIGUSR2, &sa, NULL) == 0, "sigaction USR2");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0, "block SIGTERM");
  static char altstack[1 << 16];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
  timer_t timer;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_NONE;
  CHECK(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0, "timer_create");
  struct itimerspec its = {.it_value = {1000, 0}};
  CHECK(timer_settime(timer, 0, &its, NULL) == 0, "timer_settime");
  snprintf(g_timerarg, sizeof g_timerarg, "%ld", (long)(intptr_t)timer);
  struct itimerval itv = {.it_value = {1000, 0}};
  CHECK(setitimer(ITIMER_REAL, &itv, NULL) == 0, "setitimer");
  snprintf(g_pidarg, 16, "%d", getpid());
  printf("stage start: %d failures\n", g_failures);
  fflush(stdout);

  /* A thread that is not the leader replaces the image. */
  pthread_t t3;
  CHECK(pthread_create(&t3, NULL, execer, NULL) == 0, "execer");
  for (;;) pause();
}

/* --- after: what the new image finds --- */

static void stage_after(int argc, char** argv, char** envp) {
  const char* want_argv[] = {"after-argv0", "after", g_self, g_dir, argv[4], argv[5],
                             argv[6], argv[7], argv[8], argv[9], argv[10], "", "a b  c",
                             argv[13], argv[14]};
  CHECK(argc == 15, "argc %d", argc);
  for (int i = 0; i < 15 && i < argc; ++i)
    CHECK(strcmp(argv[i], want_argv[i]) == 0, "argv[%d] = '%s', want '%s'", i, argv[i], want_argv[i]);
  const char* want_env[] = {"E1=one", "E2=with space", "EMPTY=", "NOEQUALS"};
  int envc = 0;
  while (envp[envc]) ++envc;
  CHECK(envc == 16, "envc %d", envc);
  for (int i = 0; i < 4 && i < envc; ++i)
    CHECK(strcmp(envp[i], want_env[i]) == 0, "envp[%d] = '%s'", i, envp[i]);
  for (int i = 4; i < 16 && i < envc; ++i) {
    size_t len = strlen(envp[i]), same = 2;
    while (same < len && envp[i][same] == 'a' + i - 4) ++same;
    CHECK(len == 100000 && envp[i][0] == 'A' + i - 4 && envp[i][1] == '=' && same == len,
          "envp[%d]: %zu bytes, %zu as sent", i, len, same);
  }
  CHECK(strcmp(getenv("E2") ? getenv("E2") : "", "with space") == 0, "getenv E2");

  /* Descriptors: the close-on-exec one is gone, the other kept. */
  int keep = atoi(argv[4]), drop = atoi(argv[5]);
  CHECK(fcntl(keep, F_GETFD) == 0, "kept descriptor %d", keep);
  EXPECT_ERR(EBADF, fcntl(drop, F_GETFD));
  CHECK(fcntl(1, F_GETFD) == 0, "stdout");

  /* Signals: caught -> default, ignored stays, mask kept, no altstack. */
  struct sigaction sa;
  CHECK(sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL, "SIGUSR1 handler %p",
        (void*)sa.sa_handler);
  CHECK((sa.sa_flags & SA_RESTART) == 0, "SIGUSR1 flags %#x", sa.sa_flags);
  CHECK(sigaction(SIGUSR2, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN, "SIGUSR2 handler %p",
        (void*)sa.sa_handler);
  sigset_t set;
  CHECK(sigprocmask(SIG_BLOCK, NULL, &set) == 0 && sigismember(&set, SIGTERM) == 1, "SIGTERM not blocked");
  CHECK(sigismember(&set, SIGUSR1) == 0, "SIGUSR1 blocked");
  CHECK(sigpending(&set) == 0 && sigismember(&set, SIGTERM) == 1, "SIGTERM no longer pending");
  stack_t ss;
  CHECK(sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE), "altstack flags %d", ss.ss_flags);

  /* Timers: the POSIX timer is deleted, the itimer kept. */
  timer_t old = (timer_t)(intptr_t)atol(argv[9]);
  struct itimerspec its;
  EXPECT_ERR(EINVAL, timer_gettime(old, &its));
  struct itimerval itv;
  CHECK(getitimer(ITIMER_REAL, &itv) == 0 && itv.it_value.tv_sec > 900, "itimer %ld s left",
        (long)itv.it_value.tv_sec);
  itv.it_value.tv_sec = itv.it_value.tv_usec = 0;
  setitimer(ITIMER_REAL, &itv, NULL);

  /* The only thread, with the leader's tid; the old threads are gone. */
  CHECK(getpid() == atoi(argv[10]), "pid %d, was %s", getpid(), argv[10]);
  CHECK(syscall(SYS_gettid) == getpid(), "tid %ld, pid %d", syscall(SYS_gettid), getpid());
  int tid_args[] = {6, 7, 8, 13, 14};
  for (int k = 0; k < 5; ++k) {
    int tid = atoi(argv[tid_args[k]]);
    if (tid != getpid()) EXPECT_ERR(ESRCH, syscall(SYS_tgkill, getpid(), tid, 0));
  }

  /* /proc/self/status says so too, and /proc/self/cmdline is the new argv. */
  char text[4096];
  int fd = open("/proc/self/status", O_RDONLY);
  ssize_t got = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
  if (fd >= 0) close(fd);
  text[got > 0 ? got : 0] = 0;
  CHECK(strstr(text, "\nThreads:\t1\n") != NULL, "/proc/self/status has no 'Threads: 1' (%zd bytes)", got);
  fd = open("/proc/self/cmdline", O_RDONLY);
  got = fd >= 0 ? read(fd, text, sizeof text) : -1;
  if (fd >= 0) close(fd);
  size_t want_len = 0;
  for (int i = 0; i < argc; ++i) want_len += strlen(argv[i]) + 1;
  CHECK(got == (ssize_t)want_len && !memcmp(text, argv[0], want_len), "/proc/self/cmdline: %zd bytes, want %zu",
        got, want_len);

  /* The auxiliary vector and the name. */
  const char* execfn = (const char*)getauxval(AT_EXECFN);
  CHECK(execfn && strcmp(execfn, g_self) == 0, "AT_EXECFN '%s'", execfn ? execfn : "(none)");
  CHECK(getauxval(AT_SECURE) == 0, "AT_SECURE");
  char exe[PATH_MAX + 1] = {0}, real[PATH_MAX];
  CHECK(readlink("/proc/self/exe", exe, PATH_MAX) > 0 && realpath(g_self, real) && !strcmp(exe, real),
        "/proc/self/exe '%s'", exe);
  char comm[17] = {0};
  prctl(PR_GET_NAME, comm);
  const char* base = strrchr(g_self, '/') ? strrchr(g_self, '/') + 1 : g_self;
  CHECK(strncmp(comm, base, 15) == 0, "comm '%s', want '%.15s'", comm, base);
  printf("stage after: %d failures\n", g_failures);
  fflush(stdout);

  /* Next: a "#!" script run by this program, with an argument. */
  char path[PATH_MAX + 64], script[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/script", g_dir);
  int n = snprintf(script, sizeof script, "#!  %s   script \t arg  \nignored\n", g_self);
  write_file(path, script, (size_t)n, 0755);
  char* sargv[] = {"ignored-argv0", g_dir, "last", NULL};
  char* senvp[] = {"SCRIPT=1", NULL};
  sys_execve(path, sargv, senvp);
  CHECK(0, "execve of the script returned");
}

static void stage_script(int argc, char** argv) {
  /* argv: interpreter, "script \t arg", the script's path, then the old
   * argv without its argv[0]. */
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/script", g_dir);
  CHECK(argc == 5, "argc %d", argc);
  if (argc == 5) {
    CHECK(strcmp(argv[0], g_self) == 0, "argv[0] '%s'", argv[0]);
    CHECK(strcmp(argv[1], "script \t arg") == 0, "argv[1] '%s'", argv[1]);
    CHECK(strcmp(argv[2], path) == 0, "argv[2] '%s'", argv[2]);
    CHECK(strcmp(argv[3], g_dir) == 0, "argv[3] '%s'", argv[3]);
    CHECK(strcmp(argv[4], "last") == 0, "argv[4] '%s'", argv[4]);
  }
  const char* execfn = (const char*)getauxval(AT_EXECFN);
  CHECK(execfn && strcmp(execfn, path) == 0, "AT_EXECFN '%s'", execfn ? execfn : "(none)");
  CHECK(getenv("SCRIPT") && strcmp(getenv("SCRIPT"), "1") == 0, "SCRIPT env");
  /* /proc/self/exe is the interpreter. */
  char exe[PATH_MAX + 1] = {0}, real[PATH_MAX];
  CHECK(readlink("/proc/self/exe", exe, PATH_MAX) > 0 && realpath(g_self, real) && !strcmp(exe, real),
        "/proc/self/exe '%s'", exe);
  printf("stage script: %d failures\n", g_failures);
  fflush(stdout);

  /* Next: execveat on a descriptor of this program. */
  int fd = open(g_self, O_RDONLY);
  CHECK(fd >= 0, "open self");
  char fdarg[16];
  snprintf(fdarg, sizeof fdarg, "%d", fd);
  char* fargv[] = {"fdexec-argv0", "fdexec", g_self, g_dir, fdarg, NULL};
  char* fenvp[] = {NULL};
  sys_execveat(fd, "", fargv, fenvp, AT_EMPTY_PATH);
  CHECK(0, "execveat returned");
}

/* /proc/self/exe names this program's file and opens it. */
static void check_exe_is_self(const char* stage) {
  char exe[PATH_MAX + 1] = {0}, real[PATH_MAX];
  CHECK(readlink("/proc/self/exe", exe, PATH_MAX) > 0 && realpath(g_self, real) && !strcmp(exe, real),
        "%s: /proc/self/exe '%s'", stage, exe);
  struct stat a, b;
  CHECK(stat("/proc/self/exe", &a) == 0 && stat(g_self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
        "%s: stat /proc/self/exe is not this program", stage);
  int fd = open("/proc/self/exe", O_RDONLY);
  char magic[4] = {0};
  CHECK(fd >= 0 && read(fd, magic, 4) == 4 && !memcmp(magic, "\177ELF", 4), "%s: open /proc/self/exe", stage);
  if (fd >= 0) close(fd);
}

static void stage_fdexec(int argc, char** argv, char** envp) {
  CHECK(argc == 5 && strcmp(argv[0], "fdexec-argv0") == 0, "argc %d", argc);
  CHECK(envp[0] == NULL, "environment not empty: %s", envp[0]);
  char want[64];
  snprintf(want, sizeof want, "/dev/fd/%s", argc == 5 ? argv[4] : "?");
  const char* execfn = (const char*)getauxval(AT_EXECFN);
  CHECK(execfn && strcmp(execfn, want) == 0, "AT_EXECFN '%s', want '%s'", execfn ? execfn : "(none)", want);
  check_exe_is_self("fdexec");
  printf("stage fdexec: %d failures\n", g_failures);
  fflush(stdout);

  /* Next: run /proc/self/exe (busybox's `time` and many re-executing
   * programs do): the new image's /proc/self/exe is this file again, and
   * following it does not lead back to /proc/self/exe. */
  char* pargv[] = {"procexe-argv0", "procexe", g_self, g_dir, NULL};
  execve("/proc/self/exe", pargv, envp);
  CHECK(0, "execve /proc/self/exe: %s", strerror(errno));
  exit(1);
}

static void stage_procexe(int argc) {
  CHECK(argc == 4, "argc %d", argc);
  const char* execfn = (const char*)getauxval(AT_EXECFN);
  CHECK(execfn && strcmp(execfn, "/proc/self/exe") == 0, "AT_EXECFN '%s'", execfn ? execfn : "(none)");
  check_exe_is_self("procexe");
  printf("stage procexe: %d failures\n", g_failures);
  if (!g_failures) printf("PASS exec_chain\n");
  fflush(stdout);
  exit(g_failures ? 1 : 0);
}

int main(int argc, char** argv, char** envp) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* stage = argc > 1 ? argv[1] : "start";
  if (strcmp(stage, "start") == 0) {
    /* This program's absolute path and a scratch directory. */
    if (argv[0][0] == '/') {
      snprintf(g_self, sizeof g_self, "%s", argv[0]);
    } else {
      char cwd[PATH_MAX];
      snprintf(g_self, sizeof g_self, "%s/%s", getcwd(cwd, sizeof cwd), argv[0]);
    }
    mkdir("/tmp", 01777);
    snprintf(g_dir, sizeof g_dir, "/tmp/exec-chain-XXXXXX");
    CHECK(mkdtemp(g_dir) != NULL, "mkdtemp");
    stage_start();
    return 1;
  }
  if (strcmp(stage, "script \t arg") == 0) {
    /* Run as the script's interpreter: argv[0] is this program, argv[3] the
     * directory. */
    snprintf(g_self, sizeof g_self, "%s", argv[0]);
    if (argc > 3) snprintf(g_dir, sizeof g_dir, "%s", argv[3]);
    stage_script(argc, argv);
    return 1;
  }
  if (argc > 3) {
    snprintf(g_self, sizeof g_self, "%s", argv[2]);
    snprintf(g_dir, sizeof g_dir, "%s", argv[3]);
  }
  if (strcmp(stage, "after") == 0 && argc == 15) stage_after(argc, argv, envp);
  else if (strcmp(stage, "fdexec") == 0) stage_fdexec(argc, argv, envp);
  else if (strcmp(stage, "procexe") == 0) stage_procexe(argc);
  else printf("FAIL %s:%d: unknown stage '%s' (argc %d)\n", __FILE__, __LINE__, stage, argc);
  return 1;
}
