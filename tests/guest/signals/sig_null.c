// A null dereference with no handler: SIGSEGV, status 128+11.
#include "sigtest.h"
int main(int argc, char** argv) {
  printf("sig_null: dereferencing NULL\n");
  fflush(stdout);
  volatile int* p = (volatile int*)(long)(argc - 1);
  *p = 1;
  printf("sig_null: still alive\n");
  return 0;
}
