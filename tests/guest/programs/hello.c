/* hello: the smallest program. Prints "hello from <libc>" and exits with
 * the status given as argv[1] (default 0): exit status propagation. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
#ifdef __GLIBC__
  const char *libc = "glibc";
#else
  const char *libc = "musl";
#endif
  printf("hello from %s\n", libc);
  return argc > 1 ? atoi(argv[1]) : 0;
}
