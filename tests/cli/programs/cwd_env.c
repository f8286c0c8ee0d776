/* What `capsule run --cwd DIR --env K=V` must hand the program (tests/cli):
 *   cwd_env EXPECTED_CWD [K=V ...]
 * checks that getcwd() is EXPECTED_CWD, that a relative open finds the file
 * "marker" there (the kernel's working directory, not just a string), that
 * each K has the value V, and that PATH and HOME are set. Prints one
 * "FAIL file:line: ..." per failed check, then "PASS cwd_env"; exits with
 * $EXIT_STATUS when that is set (the exit-status path of run.sh). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                      \
  do {                                                        \
    if (!(cond)) {                                            \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);             \
      printf(__VA_ARGS__);                                    \
      printf("\n");                                           \
      failures++;                                             \
    }                                                         \
  } while (0)

int main(int argc, char** argv) {
  char cwd[4096];
  if (argc < 2) {
    printf("FAIL %s:%d: usage: cwd_env EXPECTED_CWD [K=V...]\n", __FILE__, __LINE__);
    return 1;
  }
  CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd failed");
  printf("cwd=%s\n", cwd);
  CHECK(strcmp(cwd, argv[1]) == 0, "cwd is '%s', expected '%s'", cwd, argv[1]);
  int fd = open("marker", O_RDONLY);
  CHECK(fd >= 0, "relative open of 'marker' in the working directory failed");
  if (fd >= 0) {
    char buf[64] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    CHECK(n > 0 && strncmp(buf, "marker", 6) == 0, "marker reads '%s'", buf);
    close(fd);
  }
  for (int i = 2; i < argc; ++i) {
    char* eq = strchr(argv[i], '=');
    if (!eq) continue;
    *eq = 0;
    const char* v = getenv(argv[i]);
    printf("%s=%s\n", argv[i], v ? v : "(unset)");
    CHECK(v && strcmp(v, eq + 1) == 0, "%s is '%s', expected '%s'", argv[i], v ? v : "(unset)", eq + 1);
  }
  CHECK(getenv("PATH") != NULL, "PATH is not set");
  CHECK(getenv("HOME") != NULL, "HOME is not set");
  if (!failures) printf("PASS cwd_env\n");
  const char* st = getenv("EXIT_STATUS");
  if (st) return atoi(st);
  return failures ? 1 : 0;
}
