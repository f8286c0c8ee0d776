/* Tiny assertion helpers for the thread guest tests: every failure prints
 * the line and the values, and the program exits 1. */
#pragma once
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_checks;
#define CHECK(cond)                                                         \
  do {                                                                      \
    ++g_checks;                                                             \
    if (!(cond)) {                                                          \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                \
      fflush(stdout);                                                       \
      exit(1);                                                              \
    }                                                                       \
  } while (0)
#define CHECK_EQ(a, b)                                                      \
  do {                                                                      \
    long long va_ = (long long)(a), vb_ = (long long)(b);                   \
    ++g_checks;                                                             \
    if (va_ != vb_) {                                                       \
      printf("FAIL %s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b, va_, vb_); \
      fflush(stdout);                                                       \
      exit(1);                                                              \
    }                                                                       \
  } while (0)
/* A raw syscall's result: -1 with errno as expected. */
#define CHECK_ERR(call, err)                                                \
  do {                                                                      \
    errno = 0;                                                              \
    long r_ = (long)(call);                                                 \
    int e_ = errno;                                                         \
    ++g_checks;                                                             \
    if (r_ != -1 || e_ != (err)) {                                          \
      printf("FAIL %s:%d: %s = %ld errno %d (%s), want errno %d (%s)\n", __FILE__, __LINE__, #call, r_, e_, \
             strerror(e_), (err), strerror(err));                           \
      fflush(stdout);                                                       \
      exit(1);                                                              \
    }                                                                       \
  } while (0)
