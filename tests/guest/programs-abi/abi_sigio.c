/* Signal-driven I/O (issue 18): fcntl F_SETOWN/F_GETOWN (a pid or -pgrp),
 * F_SETOWN_EX/F_GETOWN_EX (thread, process, group), F_SETSIG/F_GETSIG,
 * O_ASYNC through F_SETFL and FIOASYNC, FIOSETOWN/SIOCSPGRP on sockets;
 * SIGIO (si_code SI_KERNEL) or the F_SETSIG signal (si_code POLL_IN/
 * POLL_OUT, si_band, si_fd; queued when real-time) when a pipe or an
 * AF_UNIX socket becomes readable or writable; none from an eventfd (Linux's
 * has no fasync: O_ASYNC is not even kept); bad input as Linux answers it. Signals are taken with
 * sigtimedwait (blocked first), so nothing depends on timing. */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#ifndef F_SETSIG
#define F_SETSIG 10
#define F_GETSIG 11
#endif
#ifndef F_SETOWN_EX
#define F_SETOWN_EX 15
#define F_GETOWN_EX 16
#endif
struct owner_ex {
  int type;
  int pid;
};
#define OWNER_TID 0
#define OWNER_PID 1
#define OWNER_PGRP 2
#ifndef FIOSETOWN
#define FIOSETOWN 0x8901
#define FIOGETOWN 0x8903
#endif
#ifndef SIOCSPGRP
#define SIOCSPGRP 0x8902
#define SIOCGPGRP 0x8904
#endif
#define POLLIN_CODE 1
#define POLLOUT_CODE 2

static int rt1, rt2;

/* The next instance of sig (up to 10 s); its siginfo, or signo 0. */
static siginfo_t take(int sig, int wait) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  struct timespec t = {wait ? 10 : 0, 0};
  siginfo_t i;
  memset(&i, 0, sizeof i);
  if (sigtimedwait(&s, &i, &t) != sig) i.si_signo = 0;
  return i;
}

static void test_owner_calls(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  struct owner_ex ex = {0x55, 0x55};
  CHECK(fcntl(p[0], F_GETOWN) == 0, "no owner at first");
  CHECK(fcntl(p[0], F_GETSIG) == 0, "no signal at first");
  CHECK(fcntl(p[0], F_GETOWN_EX, &ex) == 0 && ex.type == OWNER_TID && ex.pid == 0, "F_GETOWN_EX without an owner: %d %d", ex.type, ex.pid);
  EXPECT_ERR(ESRCH, fcntl(p[0], F_SETOWN, 99999999));
  EXPECT_ERR(EINVAL, fcntl(p[0], F_SETOWN, INT_MIN));
  EXPECT_ERR(ESRCH, fcntl(p[0], F_SETOWN, -99999999));
  ex.type = 5, ex.pid = getpid();
  EXPECT_ERR(EINVAL, fcntl(p[0], F_SETOWN_EX, &ex));
  ex.type = OWNER_PID, ex.pid = 99999999;
  EXPECT_ERR(ESRCH, fcntl(p[0], F_SETOWN_EX, &ex));
  ex.pid = -5;
  EXPECT_ERR(ESRCH, fcntl(p[0], F_SETOWN_EX, &ex));
  EXPECT_ERR(EFAULT, syscall(SYS_fcntl, p[0], F_SETOWN_EX, BAD_PTR));
  EXPECT_ERR(EINVAL, fcntl(p[0], F_SETSIG, 65));
  EXPECT_ERR(EINVAL, fcntl(p[0], F_SETSIG, -1));
  EXPECT_ERR(EBADF, fcntl(-1, F_SETOWN, getpid()));

  CHECK(fcntl(p[0], F_SETOWN, getpid()) == 0 && fcntl(p[0], F_GETOWN) == getpid(), "owner pid");
  ex.type = -1, ex.pid = -1;
  CHECK(fcntl(p[0], F_GETOWN_EX, &ex) == 0 && ex.type == OWNER_PID && ex.pid == getpid(), "F_GETOWN_EX %d %d", ex.type, ex.pid);
  EXPECT_ERR(EFAULT, syscall(SYS_fcntl, p[0], F_GETOWN_EX, BAD_PTR));
  CHECK(fcntl(p[0], F_SETOWN, -getpgrp()) == 0 && fcntl(p[0], F_GETOWN) == -getpgrp(), "owner group");
  CHECK(fcntl(p[0], F_GETOWN_EX, &ex) == 0 && ex.type == OWNER_PGRP && ex.pid == getpgrp(), "group ex %d %d", ex.type, ex.pid);
  ex.type = OWNER_TID, ex.pid = (int)syscall(SYS_gettid);
  CHECK(fcntl(p[0], F_SETOWN_EX, &ex) == 0 && fcntl(p[0], F_GETOWN) == ex.pid, "owner thread");
  ex.type = OWNER_PGRP, ex.pid = getpgrp();
  CHECK(fcntl(p[0], F_SETOWN_EX, &ex) == 0 && fcntl(p[0], F_GETOWN) == -getpgrp(), "group through F_SETOWN_EX");
  CHECK(fcntl(p[0], F_SETOWN, 0) == 0 && fcntl(p[0], F_GETOWN) == 0, "owner cleared");
  CHECK(fcntl(p[0], F_SETSIG, rt1) == 0 && fcntl(p[0], F_GETSIG) == rt1, "F_SETSIG");
  CHECK(fcntl(p[0], F_SETSIG, 0) == 0 && fcntl(p[0], F_GETSIG) == 0, "F_SETSIG 0");
  /* The owner belongs to the open file description: a dup shares it. */
  CHECK(fcntl(p[0], F_SETOWN, getpid()) == 0, "owner");
  int d = dup(p[0]);
  CHECK(fcntl(d, F_GETOWN) == getpid(), "dup shares the owner");
  close(d);
  /* FIOSETOWN is a socket's: ENOTTY on a pipe. */
  int pid = getpid();
  EXPECT_ERR(ENOTTY, ioctl(p[0], FIOSETOWN, &pid));
  EXPECT_ERR(ENOTTY, ioctl(p[0], SIOCSPGRP, &pid));
  close(p[0]);
  close(p[1]);
}

static void test_pipe(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  char buf[64];
  CHECK(fcntl(p[0], F_SETOWN, getpid()) == 0, "owner");
  CHECK(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC) == 0, "O_ASYNC");
  CHECK(fcntl(p[0], F_GETFL) & O_ASYNC, "F_GETFL shows O_ASYNC");
  /* Plain SIGIO: no details. */
  CHECK(write(p[1], "a", 1) == 1, "write");
  siginfo_t i = take(SIGIO, 1);
  CHECK(i.si_signo == SIGIO && i.si_code == SI_KERNEL, "SIGIO on data: signo %d code %d", i.si_signo, i.si_code);
  CHECK(read(p[0], buf, sizeof buf) == 1, "read");
  /* F_SETSIG: a real-time signal with the reason, the band and the fd,
   * one queued per event. */
  CHECK(fcntl(p[0], F_SETSIG, rt1) == 0, "F_SETSIG");
  CHECK(write(p[1], "b", 1) == 1 && write(p[1], "c", 1) == 1, "two writes");
  i = take(rt1, 1);
  CHECK(i.si_signo == rt1 && i.si_code == POLLIN_CODE && i.si_fd == p[0] && i.si_band == 0x41,
        "rt signal: signo %d code %d fd %d band %#lx", i.si_signo, i.si_code, i.si_fd, (long)i.si_band);
  i = take(rt1, 1);
  CHECK(i.si_signo == rt1 && i.si_code == POLLIN_CODE, "the second write's signal is queued too");
  CHECK(take(SIGIO, 0).si_signo == 0, "no SIGIO besides");
  CHECK(read(p[0], buf, sizeof buf) == 2, "read");
  /* The write end: POLL_OUT when a read makes room. */
  CHECK(fcntl(p[1], F_SETOWN, getpid()) == 0 && fcntl(p[1], F_SETSIG, rt2) == 0, "writer owner");
  CHECK(fcntl(p[1], F_SETFL, O_ASYNC) == 0, "writer O_ASYNC");
  CHECK(write(p[1], "d", 1) == 1, "write");
  (void)take(rt1, 1);
  CHECK(read(p[0], buf, sizeof buf) == 1, "read");
  i = take(rt2, 1);
  CHECK(i.si_signo == rt2 && i.si_code == POLLOUT_CODE && i.si_fd == p[1] && i.si_band == 0x304,
        "writer: signo %d code %d fd %d band %#lx", i.si_signo, i.si_code, i.si_fd, (long)i.si_band);
  /* O_ASYNC off: silence. */
  CHECK(fcntl(p[0], F_SETFL, 0) == 0 && !(fcntl(p[0], F_GETFL) & O_ASYNC), "O_ASYNC off");
  CHECK(write(p[1], "e", 1) == 1, "write");
  CHECK(take(rt1, 0).si_signo == 0 && take(SIGIO, 0).si_signo == 0, "no signal without O_ASYNC");
  CHECK(read(p[0], buf, sizeof buf) == 1, "read");
  (void)take(rt2, 1);
  /* The writer's close: the reader gets POLL_IN (end of file is readable). */
  CHECK(fcntl(p[0], F_SETFL, O_ASYNC) == 0, "O_ASYNC on");
  close(p[1]);
  i = take(rt1, 1);
  CHECK(i.si_signo == rt1 && i.si_code == POLLIN_CODE, "close of the writer: code %d", i.si_code);
  close(p[0]);
}

static void test_socket_and_eventfd(void) {
  int s[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "socketpair");
  int pid = getpid(), on = 1, got = 0;
  CHECK(ioctl(s[0], FIOSETOWN, &pid) == 0, "FIOSETOWN");
  CHECK(ioctl(s[0], SIOCGPGRP, &got) == 0 && got == pid, "SIOCGPGRP %d", got);
  CHECK(ioctl(s[0], FIOGETOWN, &got) == 0 && got == pid && fcntl(s[0], F_GETOWN) == pid, "FIOGETOWN");
  EXPECT_ERR(EFAULT, ioctl(s[0], FIOSETOWN, BAD_PTR));
  int nobody = 99999999;
  EXPECT_ERR(ESRCH, ioctl(s[0], FIOSETOWN, &nobody));
  CHECK(ioctl(s[0], FIOASYNC, &on) == 0 && (fcntl(s[0], F_GETFL) & O_ASYNC), "FIOASYNC sets O_ASYNC");
  CHECK(fcntl(s[0], F_SETSIG, rt1) == 0, "F_SETSIG");
  CHECK(write(s[1], "x", 1) == 1, "write to the peer");
  siginfo_t i = take(rt1, 1);
  CHECK(i.si_signo == rt1 && i.si_code == POLLIN_CODE && i.si_fd == s[0] && i.si_band == 0x41,
        "socket: signo %d code %d fd %d band %#lx", i.si_signo, i.si_code, i.si_fd, (long)i.si_band);
  char c;
  CHECK(read(s[0], &c, 1) == 1, "read");
  on = 0;
  CHECK(ioctl(s[0], FIOASYNC, &on) == 0 && !(fcntl(s[0], F_GETFL) & O_ASYNC), "FIOASYNC off");
  CHECK(write(s[1], "y", 1) == 1 && take(rt1, 0).si_signo == 0, "silent after FIOASYNC off");
  close(s[0]);
  close(s[1]);

  /* eventfd has no fasync: F_SETFL takes O_ASYNC without keeping it,
   * FIOASYNC is ENOTTY, and nothing is signalled. */
  int e = eventfd(0, 0);
  CHECK(e >= 0, "eventfd");
  CHECK(fcntl(e, F_SETOWN, getpid()) == 0 && fcntl(e, F_SETSIG, rt1) == 0, "owner");
  CHECK(fcntl(e, F_SETFL, O_ASYNC) == 0 && !(fcntl(e, F_GETFL) & O_ASYNC), "O_ASYNC on eventfd: not kept");
  on = 1;
  EXPECT_ERR(ENOTTY, ioctl(e, FIOASYNC, &on));
  uint64_t one = 1;
  CHECK(write(e, &one, 8) == 8, "eventfd write");
  CHECK(take(rt1, 0).si_signo == 0 && take(SIGIO, 0).si_signo == 0, "eventfd signals nothing");
  close(e);
}

/* F_OWNER_TID: the signal goes to that thread. */
static int tid_pipe[2];
static void* tid_waiter(void* arg) {
  (void)arg;
  siginfo_t i = take(rt2, 1);
  return (void*)(long)(i.si_signo == rt2 && i.si_code == POLLIN_CODE && i.si_fd == tid_pipe[0] ? 0 : 1);
}
static volatile int waiter_tid;
static void* tid_thread(void* arg) {
  waiter_tid = (int)syscall(SYS_gettid);
  return tid_waiter(arg);
}

static void test_thread_and_group(void) {
  CHECK(pipe(tid_pipe) == 0, "pipe");
  pthread_t t;
  waiter_tid = 0;
  CHECK(pthread_create(&t, NULL, tid_thread, NULL) == 0, "thread");
  for (int k = 0; k < 10000 && !waiter_tid; ++k) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  struct owner_ex ex = {OWNER_TID, waiter_tid};
  CHECK(fcntl(tid_pipe[0], F_SETOWN_EX, &ex) == 0 && fcntl(tid_pipe[0], F_SETSIG, rt2) == 0, "thread owner");
  CHECK(fcntl(tid_pipe[0], F_SETFL, O_ASYNC) == 0, "O_ASYNC");
  CHECK(write(tid_pipe[1], "t", 1) == 1, "write");
  void* r;
  pthread_join(t, &r);
  CHECK(r == NULL, "the owning thread took its signal");
  CHECK(take(rt2, 0).si_signo == 0, "and nobody else got one");
  close(tid_pipe[0]);
  close(tid_pipe[1]);

  /* A process group (a child in a group of its own). */
  pid_t pid = fork();
  if (pid == 0) {
    if (setpgid(0, 0) != 0) _exit(2);
    int p[2];
    if (pipe(p) != 0) _exit(3);
    if (fcntl(p[0], F_SETOWN, -getpgrp()) != 0 || fcntl(p[0], F_SETSIG, rt1) != 0) _exit(4);
    if (fcntl(p[0], F_SETFL, O_ASYNC) != 0) _exit(5);
    if (write(p[1], "g", 1) != 1) _exit(6);
    siginfo_t i = take(rt1, 1);
    _exit(i.si_signo == rt1 && i.si_code == POLLIN_CODE && i.si_fd == p[0] ? 0 : 7);
  }
  int st = 0;
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "group owner: status %#x", st);
}

int main(void) {
  rt1 = SIGRTMIN + 1;
  rt2 = SIGRTMIN + 2;
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGIO);
  sigaddset(&s, rt1);
  sigaddset(&s, rt2);
  sigprocmask(SIG_BLOCK, &s, NULL); /* taken with sigtimedwait only */
  test_owner_calls();
  test_pipe();
  test_socket_and_eventfd();
  test_thread_and_group();
  return finish("abi_sigio");
}
