// A fault while SIGSEGV is blocked, with a handler installed: the kernel
// cannot deliver it, so the signal is forced (the action reset to the
// default and the signal unblocked, as Linux does) and the program ends
// with status 128+11; the console line says why the handler did not run.
#include "sigtest.h"
static void on_segv(int sig) {
  (void)sig;
  printf("sig_blocked: FAIL the handler ran although SIGSEGV was blocked\n");
  _exit(1);
}
int main(int argc, char** argv) {
  signal(SIGSEGV, on_segv);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGSEGV);
  sigprocmask(SIG_BLOCK, &s, NULL);
  printf("sig_blocked: dereferencing NULL with SIGSEGV blocked\n");
  fflush(stdout);
  volatile int* p = (volatile int*)(long)(argc - 1);
  *p = 1;
  printf("sig_blocked: still alive\n");
  return 0;
}
