/* Assertions for the ABI test programs: each failed check prints one
 * "FAIL file:line: ..." line; the program exits 0 only if none failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int g_failures, g_checks;

#define CHECK(cond, ...)                                                  \
  do {                                                                    \
    ++g_checks;                                                           \
    if (!(cond)) {                                                        \
      ++g_failures;                                                       \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);              \
      printf(__VA_ARGS__);                                                \
      printf("\n");                                                       \
    }                                                                     \
  } while (0)

/* A raw system call that must fail with errno `e`. */
#define EXPECT_ERR(e, call)                                                         \
  do {                                                                              \
    errno = 0;                                                                      \
    long r_ = (long)(call);                                                         \
    int en_ = errno;                                                                \
    CHECK(r_ == -1 && en_ == (e), "%s = %ld errno %d (%s), expected %s", #call, r_, \
          en_, strerror(en_), #e);                                                  \
  } while (0)

/* A call that must succeed (returns >= 0); yields its result. */
#define EXPECT_OK(call)                                                                   \
  ({                                                                                      \
    errno = 0;                                                                            \
    long r_ = (long)(call);                                                               \
    int en_ = errno;                                                                      \
    CHECK(r_ >= 0 || r_ < -4095, "%s = %ld errno %d (%s)", #call, r_, en_, strerror(en_)); \
    r_;                                                                                   \
  })

/* Pointers no program may pass: unmapped low memory, the kernel half. */
#define BAD_PTR ((void*)0x10)
#define KERNEL_PTR ((void*)0xffffffff80000000ul)

static int finish(const char* name) {
  if (g_failures) printf("%s: %d of %d checks FAILED\n", name, g_failures, g_checks);
  else printf("PASS %s: %d checks\n", name, g_checks);
  fflush(stdout);
  return g_failures ? 1 : 0;
}
