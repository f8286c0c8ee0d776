/* touch_mem MIB [read]: allocates MIB mebibytes one at a time and writes
 * every page of each (with "read": the kernel writes them, a read() from
 * /dev/zero into each mebibyte), then prints "touched MIB MiB". The memory
 * test (tests/cli/memory_test.py) runs it on the host and in a VM with
 * enough memory (the same line), and in a VM with too little (killed,
 * status 137, with the kernel's line on stderr: the out-of-memory killer
 * chooses it whether the program's own store or the kernel's copy found no
 * page — never a short read or EFAULT). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "read") != 0)) {
    fprintf(stderr, "usage: touch_mem MIB [read]\n");
    return 2;
  }
  long mib = strtol(argv[1], NULL, 10);
  int zero = -1;
  if (argc == 3 && (zero = open("/dev/zero", O_RDONLY)) < 0) {
    perror("/dev/zero");
    return 1;
  }
  for (long i = 0; i < mib; ++i) {
    char* p = malloc(1 << 20);
    if (!p) {
      printf("malloc failed after %ld MiB\n", i);
      return 1;
    }
    if (zero >= 0) {
      ssize_t n = read(zero, p, 1 << 20);
      if (n != 1 << 20) {
        printf("read of /dev/zero gave %zd after %ld MiB\n", n, i);
        return 1;
      }
    } else {
      for (long off = 0; off < (1 << 20); off += 4096) p[off] = (char)(i + off);
    }
  }
  printf("touched %ld MiB\n", mib);
  return 0;
}
