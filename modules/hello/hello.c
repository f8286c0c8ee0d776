/* The bundled demo (modules/hello): `./capsule run` with no program boots
 * this static hello world. */
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(int argc, char** argv) {
  struct utsname u;
  char cwd[256];
  printf("Hello from Capsule!\n");
  if (uname(&u) == 0) printf("  kernel: %s %s (%s)\n", u.sysname, u.release, u.machine);
  if (getcwd(cwd, sizeof cwd)) printf("  cwd:    %s\n", cwd);
  for (int i = 1; i < argc; ++i) printf("  argv[%d]: %s\n", i, argv[i]);
  return 0;
}
