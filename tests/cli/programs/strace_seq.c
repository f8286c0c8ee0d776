// A fixed sequence of system calls for the --strace tests
// (tests/cli/strace_test.py), traced in the VM and by the host's strace:
//   strace_seq FILE     files, memory, a failed open, bad pointers (EFAULT),
//                       signals, an iovec write, sockets; status 0
//   strace_seq getpid   exactly 1000 getpid calls (the summary test)
//   strace_seq signal   SIGUSR1 to itself, caught by a handler
// The calls go through syscall() where the C library might pick another
// call or skip it (a cached pid), so both kernels see the same calls.
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void handler(int sig) { (void)sig; }

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "getpid") == 0) {
    for (int i = 0; i < 1000; ++i) syscall(SYS_getpid);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "signal") == 0) {
    signal(SIGUSR1, handler);
    syscall(SYS_kill, getpid(), SIGUSR1);
    return 0;
  }
  const char* path = argc > 1 ? argv[1] : "/tmp/strace-seq.txt";
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (write(fd, "hello, strace\n", 14) != 14) return 1;
  close(fd);
  fd = open(path, O_RDONLY);
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf);
  struct stat st;
  fstat(fd, &st);
  lseek(fd, 0, SEEK_SET);
  // Bad pointers: each call fails with EFAULT and traces the address.
  syscall(SYS_read, fd, (void*)8, 16);
  syscall(SYS_openat, AT_FDCWD, (const char*)1, O_RDONLY);
  syscall(SYS_newfstatat, fd, "", (void*)8, AT_EMPTY_PATH);
  close(fd);
  void* p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mprotect(p, 4096, PROT_READ);
  munmap(p, 8192);
  open("/nonexistent/file", O_RDONLY);
  struct timespec ts = {0, 1000};
  nanosleep(&ts, NULL);
  write(1, "a long line of output that is longer than thirty-two bytes\n", 59);
  unlink(path);
  // Signals: a handler with a mask and flags, the mask.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaction(SIGINT, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sigset_t old;
  sigprocmask(SIG_UNBLOCK, &set, &old);
  // An iovec write.
  struct iovec iov[2] = {{"ab", 2}, {"cd\n", 3}};
  writev(1, iov, 2);
  // Sockets: AF_UNIX to a path that is not there, AF_INET bound to loopback.
  int u = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un un;
  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  strcpy(un.sun_path, "/nonexistent/sock");
  connect(u, (struct sockaddr*)&un, sizeof un);
  close(u);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in in;
  memset(&in, 0, sizeof in);
  in.sin_family = AF_INET;
  in.sin_port = htons(0);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, (struct sockaddr*)&in, sizeof in);
  close(s);
  return n == 14 ? 0 : 1;
}
