// The program the debugger's tests step through (tests/cli/gdb_test.py,
// docs/gdb.md): built -g -O0, static and dynamic. The test breaks in main,
// steps over the lines marked below, prints `total`, breaks in the kernel's
// system-call dispatcher under getpid, and checks that the exit status (7)
// and the output are what they are without a debugger.
#include <stdio.h>
#include <unistd.h>

static int square(int x) { return x * x; }

int main(void) {
  int total = 0;                                   // gdb: first line of main
  for (int i = 1; i <= 3; ++i) total += square(i); // gdb: next
  pid_t pid = getpid();                            // gdb: next (total is 14)
  printf("gdb_target total %d pid %d\n", total, pid > 0 ? 1 : 0);
  return total == 14 ? 7 : 1;
}
