// Default action of SIGTERM: the program ends with status 128+15.
#include "sigtest.h"
int main(void) {
  printf("sig_term: sending SIGTERM\n");
  fflush(stdout);
  kill(getpid(), SIGTERM);
  printf("sig_term: still alive\n");
  return 0;
}
