/* Execs itself 300 times, each image touching 8 MiB of heap: in a 64 MiB VM
 * this only works if each execve frees the old image's memory. Prints
 * "PASS exec_loop" at the end (and runs the same natively). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 0;
  size_t size = 8 << 20;
  char* big = malloc(size);
  if (!big) {
    printf("FAIL %s:%d: malloc in image %d\n", __FILE__, __LINE__, n);
    return 1;
  }
  memset(big, n & 0xff, size);
  if (n >= 300) {
    printf("PASS exec_loop\n");
    return 0;
  }
  char buf[16];
  snprintf(buf, sizeof buf, "%d", n + 1);
  char* av[] = {argv[0], buf, NULL};
  execv(argv[0], av);
  printf("FAIL %s:%d: execv in image %d\n", __FILE__, __LINE__, n);
  return 1;
}
