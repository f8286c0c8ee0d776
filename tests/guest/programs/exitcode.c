/* exitcode: how a program ends and what status the harness must see.
 *   exitcode exit N          exit_group(N)                     -> N & 255
 *   exitcode thread-exit N   a second thread calls exit(N)     -> N
 *   exitcode main-exit N     main pthread_exit()s, the other thread exits N -> N
 *   exitcode last-thread     every thread pthread_exit()s      -> 0
 *   exitcode segv            null write                        -> 139 (128+SIGSEGV)
 *   exitcode segv-thread     null write in a second thread     -> 139
 *   exitcode stack-overflow  unbounded recursion               -> 139
 *   exitcode abort           abort()                           -> 134 (128+SIGABRT)
 *   exitcode signal N        raise(N) with the default action  -> 128+N (fatal N) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static int status;

static void ms_sleep(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void *exit_later(void *arg) {
  (void)arg;
  ms_sleep(50);
  exit(status);
}

static void *just_return(void *arg) {
  (void)arg;
  ms_sleep(50);
  pthread_exit(NULL);
}

static void null_write(void) {
  *(volatile int *)0 = 1;
}

static void *segv_thread(void *arg) {
  (void)arg;
  null_write();
  return NULL;
}

static int __attribute__((noinline)) recurse(volatile char *prev, int depth) {
  volatile char pad[1024];
  pad[0] = prev ? prev[0] + 1 : 0;
  if (depth == -1) return 0; /* never: keeps the compiler from calling it infinite */
  return recurse(pad, depth + 1) + pad[1];
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: exitcode MODE [N]\n");
    return 2;
  }
  const char *m = argv[1];
  status = argc > 2 ? atoi(argv[2]) : 0;
  printf("exitcode: %s %d\n", m, status);
  pthread_t th;
  if (!strcmp(m, "exit")) {
    syscall(SYS_exit_group, status);
  } else if (!strcmp(m, "thread-exit")) {
    pthread_create(&th, NULL, exit_later, NULL);
    pthread_join(th, NULL);
    printf("FAIL exitcode: join returned\n");
    return 3;
  } else if (!strcmp(m, "main-exit")) {
    pthread_create(&th, NULL, exit_later, NULL);
    pthread_exit(NULL);
  } else if (!strcmp(m, "last-thread")) {
    pthread_create(&th, NULL, just_return, NULL);
    pthread_exit(NULL);
  } else if (!strcmp(m, "segv")) {
    null_write();
  } else if (!strcmp(m, "segv-thread")) {
    pthread_create(&th, NULL, segv_thread, NULL);
    pthread_join(th, NULL);
  } else if (!strcmp(m, "stack-overflow")) {
    return recurse(NULL, 0);
  } else if (!strcmp(m, "abort")) {
    abort();
  } else if (!strcmp(m, "signal")) {
    signal(status, SIG_DFL);
    raise(status);
    ms_sleep(100);
  } else {
    fprintf(stderr, "exitcode: unknown mode %s\n", m);
    return 2;
  }
  printf("FAIL exitcode: %s did not end the program\n", m);
  return 3;
}
