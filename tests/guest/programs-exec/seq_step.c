/* One step of a command sequence (`-- a ; b ; c` on the kernel command
 * line, docs/cmdline.md), or a launcher for execve:
 *
 *   seq_step write PATH TEXT     creates PATH with TEXT and a newline
 *   seq_step append PATH TEXT    appends TEXT and a newline
 *   seq_step cat PATH            prints "cat: " and each line of PATH
 *   seq_step exit N              prints "exit N", exits with N
 *   seq_step argv ARGS...        prints "arg[i]=<ARG>" for each argument
 *   seq_step dirty               leaves state a fresh process must not see:
 *                                descriptors 3 and 4 open, the working
 *                                directory changed, SIGUSR1 ignored, SIGTERM
 *                                blocked, threads running when it exits
 *   seq_step fresh [DIR]         checks that it starts as a fresh process:
 *                                only 0-2 open (and on the console), the
 *                                working directory DIR (default /), default
 *                                signal actions, nothing blocked, one thread
 *   seq_step exec PATH ARGS...   execve(PATH, [PATH, ARGS...]); FAIL if it
 *                                returns
 *
 * One "FAIL file:line: ..." line per failed check (and exit 1). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../include/guest_check.h"

static void* spin(void* arg) {
  (void)arg;
  for (;;) {
  }
  return NULL;
}

static void* nap(void* arg) {
  (void)arg;
  for (;;) sleep(100);
  return NULL;
}

static int put(const char* path, const char* text, int flags) {
  FILE* f = fopen(path, flags ? "a" : "w");
  CHECK(f != NULL, "open %s", path);
  if (!f) return 1;
  fprintf(f, "%s\n", text);
  fclose(f);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* cmd = argc > 1 ? argv[1] : "";
  if (!strcmp(cmd, "write") && argc == 4) return put(argv[2], argv[3], 0);
  if (!strcmp(cmd, "append") && argc == 4) return put(argv[2], argv[3], 1);
  if (!strcmp(cmd, "cat") && argc == 3) {
    FILE* f = fopen(argv[2], "r");
    CHECK(f != NULL, "open %s", argv[2]);
    if (!f) return 1;
    char line[256];
    while (fgets(line, sizeof line, f)) printf("cat: %s", line);
    fclose(f);
    return 0;
  }
  if (!strcmp(cmd, "exit") && argc == 3) {
    printf("exit %s\n", argv[2]);
    return atoi(argv[2]);
  }
  if (!strcmp(cmd, "argv")) {
    for (int i = 2; i < argc; ++i) printf("arg[%d]=<%s>\n", i - 2, argv[i]);
    return 0;
  }
  if (!strcmp(cmd, "dirty")) {
    int a = open("/", O_RDONLY | O_DIRECTORY);
    int b = dup(1);
    CHECK(a == 3 && b == 4, "descriptors %d %d", a, b);
    mkdir("/tmp", 01777);
    CHECK(chdir("/tmp") == 0, "chdir");
    signal(SIGUSR1, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, spin, NULL) == 0, "thread");
    CHECK(pthread_create(&t, NULL, nap, NULL) == 0, "thread");
    usleep(10000);
    printf("dirty done\n");
    exit(g_failures ? 1 : 0);  /* exit_group with the threads running */
  }
  if (!strcmp(cmd, "fresh")) {
    const char* want = argc > 2 ? argv[2] : "/";
    for (int fd = 3; fd < 64; ++fd) CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "fd %d open", fd);
    CHECK((fcntl(0, F_GETFL) & O_ACCMODE) == O_RDONLY, "fd 0 mode");
    CHECK((fcntl(1, F_GETFL) & O_ACCMODE) == O_WRONLY, "fd 1 mode");
    CHECK((fcntl(2, F_GETFL) & O_ACCMODE) == O_WRONLY, "fd 2 mode");
    char cwd[PATH_MAX];
    CHECK(getcwd(cwd, sizeof cwd) && !strcmp(cwd, want), "cwd '%s', want '%s'", cwd, want);
    struct sigaction sa;
    for (int s = 1; s < 32; ++s) {
      if (s == SIGKILL || s == SIGSTOP) continue;
      CHECK(sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL, "signal %d not default", s);
    }
    sigset_t set;
    CHECK(sigprocmask(SIG_BLOCK, NULL, &set) == 0 && sigismember(&set, SIGTERM) == 0, "SIGTERM blocked");
    CHECK(syscall(SYS_gettid) == getpid(), "tid %ld pid %d", syscall(SYS_gettid), getpid());
    printf("fresh %s\n", g_failures ? "FAILED" : "ok");
    return g_failures ? 1 : 0;
  }
  if (!strcmp(cmd, "exec") && argc >= 3) {
    execv(argv[2], argv + 2);
    CHECK(0, "execv %s returned", argv[2]);
    return 1;
  }
  printf("FAIL %s:%d: bad arguments\n", __FILE__, __LINE__);
  return 2;
}
