/* The checks every guest test program makes (tests/guest): one
 * "FAIL file:line: ..." line per failed check, counted in g_failures; the
 * program prints "PASS name" and exits 0 when none failed. The programs
 * also build and run natively on Linux, which is how their expectations
 * are shown to be Linux's. */
#ifndef CAPSULE_GUEST_CHECK_H
#define CAPSULE_GUEST_CHECK_H
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int g_failures;

/* cond must hold; the message says what was being checked. */
#define CHECK(cond, ...)                                      \
  do {                                                        \
    if (!(cond)) {                                            \
      ++g_failures;                                           \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
      printf(__VA_ARGS__);                                    \
      printf(" (errno %d %s)\n", errno, strerror(errno));     \
      fflush(stdout);                                         \
    }                                                         \
  } while (0)

/* call must fail with -1 and errno e. */
#define EXPECT_ERR(e, call)                                                             \
  do {                                                                                  \
    errno = 0;                                                                          \
    long r_ = (long)(call);                                                             \
    int en_ = errno;                                                                    \
    if (!(r_ == -1 && en_ == (e))) {                                                    \
      ++g_failures;                                                                     \
      printf("FAIL %s:%d: %s = %ld errno %d (%s), expected %s\n", __FILE__, __LINE__, \
             #call, r_, en_, strerror(en_), #e);                                        \
      fflush(stdout);                                                                   \
    }                                                                                   \
  } while (0)

#endif
