/* A thread that waits on a futex nobody wakes (issue 20): with the kernel's
 * hung-task detector set to 1 s (--hung-task=1), the report must name the
 * futex wait and its address while the program goes on; main then exits
 * and the VM with it (exit_group ends the waiting thread). On Linux it
 * runs the same and prints the same lines of its own. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint32_t g_word;

static void* waiter(void* p) {
  (void)p;
  /* No timeout, nobody wakes it: returns only on a signal. */
  syscall(SYS_futex, &g_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  return NULL;
}

int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, waiter, NULL) != 0) {
    printf("FAIL pthread_create\n");
    return 1;
  }
  printf("futex_forever: a thread waits on futex %p\n", (void*)&g_word);
  fflush(stdout);
  struct timespec ts = {3, 0};
  nanosleep(&ts, NULL);
  printf("futex_forever: main goes on after 3 s\n");
  fflush(stdout);
  return 0; /* exit_group: the waiter goes with it */
}
