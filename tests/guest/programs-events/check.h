/* Shared by the events ABI test programs: one "FAIL file:line: ..." line per
 * failed check, "PASS name" at the end (tests/guest/events_abi.cmake). */
#ifndef EVENTS_CHECK_H
#define EVENTS_CHECK_H
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../include/guest_check.h"
static void* volatile g_bad = (void*)16; /* unmapped */

static inline int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static inline int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static inline void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* A wait of `ms` milliseconds (the expression, true when the call did what
 * it should) must never end early and must end within 50 ms of its time.
 * The host may be busy (the VM's CPUs are host threads), so lateness gets
 * up to three tries; earliness and wrong results none. */
#define CHECK_WAIT(ms, expr)                                                                        \
  do {                                                                                              \
    int64_t best_ = INT64_MAX, worst_early_ = INT64_MAX;                                           \
    int bad_ = 0;                                                                                   \
    for (int try_ = 0; try_ < 3 && best_ >= ((ms) + 50) * 1000LL; ++try_) {                         \
      int64_t t0_ = now_us();                                                                       \
      if (!(expr)) bad_ = 1;                                                                        \
      int64_t dt_ = now_us() - t0_;                                                                 \
      if (dt_ < (ms) * 1000LL && dt_ < worst_early_) worst_early_ = dt_;                            \
      if (dt_ < best_) best_ = dt_;                                                                 \
    }                                                                                               \
    CHECK(!bad_ && worst_early_ == INT64_MAX && best_ < ((ms) + 50) * 1000LL,                       \
          "%s: a %d ms wait took %ld us (best try)%s", #expr, (int)(ms), (long)best_,             \
          worst_early_ != INT64_MAX ? ", and one ended early" : "");                               \
  } while (0)

static inline int finish(const char* name) {
  if (g_failures) {
    printf("%d checks failed in %s\n", g_failures, name);
    return 1;
  }
  printf("PASS %s\n", name);
  return 0;
}
#endif
