/* A thread that waits on a futex nobody wakes (issue 20): with the kernel's
 * hung-task detector set to 1 s (--hung-task=1), the report must name the
 * futex wait and its address while the program goes on; main then exits
 * and the VM with it (exit_group ends the waiting thread). On Linux it
 * runs the same and prints the same lines of its own.
 *
 * futex_forever sysrq: main also asks the kernel for a thread dump by
 * writing 't' to /proc/sysrq-trigger (and 'c', which Linux takes as
 * "crash" and Capsule refuses in its log): each write takes its byte.
 * A third thread spins in user code meanwhile, so on 2 CPUs the dump
 * shows a thread running on the other CPU (asked where it is by NMI). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint32_t g_word;
static volatile int g_stop_spin;

static void* spinner(void* p) {
  (void)p;
  while (!g_stop_spin) {}
  return NULL;
}

static void* waiter(void* p) {
  (void)p;
  /* No timeout, nobody wakes it: returns only on a signal. */
  syscall(SYS_futex, &g_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  return NULL;
}

static int sysrq(const char* key) {
  int fd = open("/proc/sysrq-trigger", O_WRONLY);
  if (fd < 0) return -1;
  ssize_t n = write(fd, key, strlen(key));
  close(fd);
  return (int)n;
}

int main(int argc, char** argv) {
  pthread_t t;
  if (pthread_create(&t, NULL, waiter, NULL) != 0) {
    printf("FAIL pthread_create\n");
    return 1;
  }
  printf("futex_forever: a thread waits on futex %p\n", (void*)&g_word);
  fflush(stdout);
  struct timespec ts = {3, 0};
  if (argc > 1 && strcmp(argv[1], "sysrq") == 0) {
    pthread_t s;
    if (pthread_create(&s, NULL, spinner, NULL) != 0) {
      printf("FAIL pthread_create\n");
      return 1;
    }
    struct timespec one = {1, 0};
    nanosleep(&one, NULL); /* the waiter is asleep by then, the spinner on a CPU */
    int t = sysrq("t"), c = sysrq("c");
    g_stop_spin = 1;
    pthread_join(s, NULL);
    printf("futex_forever: sysrq t wrote %d, c wrote %d\n", t, c);
    fflush(stdout);
    ts.tv_sec = 1;
  }
  nanosleep(&ts, NULL);
  printf("futex_forever: main goes on\n");
  fflush(stdout);
  return 0; /* exit_group: the waiter goes with it */
}
