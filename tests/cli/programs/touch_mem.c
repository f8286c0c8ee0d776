/* touch_mem MIB: allocates MIB mebibytes one at a time and writes every
 * page of each, then prints "touched MIB MiB". The memory test
 * (tests/cli/memory_test.py) runs it on the host and in a VM with enough
 * memory (the same line), and in a VM with too little (killed, status
 * 137, with the kernel's line on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: touch_mem MIB\n");
    return 2;
  }
  long mib = strtol(argv[1], NULL, 10);
  for (long i = 0; i < mib; ++i) {
    char* p = malloc(1 << 20);
    if (!p) {
      printf("malloc failed after %ld MiB\n", i);
      return 1;
    }
    for (long off = 0; off < (1 << 20); off += 4096) p[off] = (char)(i + off);
  }
  printf("touched %ld MiB\n", mib);
  return 0;
}
