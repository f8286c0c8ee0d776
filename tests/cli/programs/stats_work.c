// For `capsule run --stats` (tests/cli/stats_test.py, docs/stats.md):
//   stats_work CALLS PAGES SLEEPS [PAUSE]
// makes exactly CALLS getpid system calls (raw syscall(2): the C library
// makes none of its own), writes one byte to each of PAGES fresh anonymous
// pages (mmap, so each is a zero-fill fault), and sleeps SLEEPS times for
// 1 ms (each a voluntary context switch). With PAUSE, it first prints
// "ready" and waits until a line arrives on stdin (the test sends SIGUSR1
// to the CLI meanwhile). Prints "done" and exits 0.
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: stats_work CALLS PAGES SLEEPS [PAUSE]\n");
    return 2;
  }
  long calls = atol(argv[1]), pages = atol(argv[2]), sleeps = atol(argv[3]);
  if (argc > 4) {
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 3;
  }
  for (long i = 0; i < calls; ++i) syscall(SYS_getpid);
  if (pages > 0) {
    long page = sysconf(_SC_PAGESIZE);
    char* p = mmap(NULL, (size_t)(pages * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 4;
    for (long i = 0; i < pages; ++i) p[i * page] = 1;
  }
  for (long i = 0; i < sleeps; ++i) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  printf("done\n");
  return 0;
}
