// Shared helpers for the signal guest tests: CHECK prints the failing
// expression and counts it; main returns the failure count (0 = pass).
#pragma once
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int g_failures;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #cond, errno); \
      g_failures++;                                                          \
    }                                                                        \
  } while (0)

static inline int install(int sig, void (*fn)(int, siginfo_t*, void*), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, NULL);
}

static inline int finish(const char* name) {
  if (g_failures) printf("%s: %d FAILED\n", name, g_failures);
  else printf("%s: all ok\n", name);
  fflush(stdout);
  return g_failures ? 1 : 0;
}
