/* Shared helpers for the Capsule guest test programs.
 *
 * Every program is self-checking: each failed check prints one line
 *   FAIL <what>: got X want Y
 * and at the end the program prints "PASS <name>" and exits 0, or prints
 * "FAIL <name>: N check(s) failed" and exits 1.
 *
 * Only libc (glibc or musl), pthreads and raw syscall() are used; Linux
 * constants that musl's headers lack are defined here.
 */
#ifndef CAPSULE_GUEST_CHECK_H
#define CAPSULE_GUEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__
#define LIBC_NAME "glibc"
#else
#define LIBC_NAME "musl" /* musl defines no identifying macro */
#endif

static __attribute__((unused)) int g_fails;
static __attribute__((unused)) const char *g_prog = "?";

static __attribute__((unused)) void check_init(const char *name) {
  g_prog = name;
  /* Line-buffered so that a crash loses at most the current line. */
  setvbuf(stdout, NULL, _IOLBF, 0);
}

#define FAILF(...)          \
  do {                      \
    printf("FAIL " __VA_ARGS__); \
    printf("\n");           \
    g_fails++;              \
  } while (0)

/* CHECK(cond, what): fails with the condition's text. */
#define CHECK(cond, what)                                         \
  do {                                                            \
    if (!(cond)) FAILF("%s: got false want true (%s)", (what), #cond); \
  } while (0)

#define CHECK_EQ(got, want, what)                                      \
  do {                                                                 \
    long long _g = (long long)(got), _w = (long long)(want);          \
    if (_g != _w) FAILF("%s: got %lld want %lld", (what), _g, _w);    \
  } while (0)

#define CHECK_HEX(got, want, what)                                     \
  do {                                                                 \
    unsigned long long _g = (unsigned long long)(got),                 \
                       _w = (unsigned long long)(want);                \
    if (_g != _w) FAILF("%s: got %#llx want %#llx", (what), _g, _w);   \
  } while (0)

/* got must lie in [lo, hi]. */
#define CHECK_RANGE(got, lo, hi, what)                                       \
  do {                                                                       \
    long long _g = (long long)(got), _l = (long long)(lo), _h = (long long)(hi); \
    if (_g < _l || _g > _h)                                                  \
      FAILF("%s: got %lld want in [%lld, %lld]", (what), _g, _l, _h);        \
  } while (0)

/* expr must return -1 with errno == err (libc or syscall() convention). */
#define CHECK_ERR(expr, err, what)                                          \
  do {                                                                      \
    errno = 0;                                                              \
    long _r = (long)(expr);                                                 \
    int _e = errno;                                                         \
    if (_r != -1 || _e != (err))                                            \
      FAILF("%s: got ret %ld errno %d (%s) want -1 errno %d (%s)", (what), \
            _r, _e, strerror(_e), (err), strerror(err));                   \
  } while (0)

/* expr must return 0 (or, for CHECK_OK_GE, >= 0). */
#define CHECK_OK(expr, what)                                                \
  do {                                                                      \
    errno = 0;                                                              \
    long _r = (long)(expr);                                                 \
    int _e = errno;                                                         \
    if (_r != 0)                                                            \
      FAILF("%s: got ret %ld errno %d (%s) want 0", (what), _r, _e,        \
            strerror(_e));                                                  \
  } while (0)

static __attribute__((unused)) int check_finish(void) {
  if (g_fails == 0) {
    printf("PASS %s\n", g_prog);
    fflush(stdout);
    return 0;
  }
  printf("FAIL %s: %d check(s) failed\n", g_prog, g_fails);
  fflush(stdout);
  return 1;
}

/* ---- time ---- */
static inline long long now_ns(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static inline long long mono_ns(void) { return now_ns(CLOCK_MONOTONIC); }
#define MS(x) ((long long)(x) * 1000000LL)

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static inline long sys_gettid(void) { return syscall(SYS_gettid); }

/* ---- probing memory accessibility with SIGSEGV/SIGBUS + sigsetjmp ---- */
static __attribute__((unused)) sigjmp_buf probe_jmp;
static __attribute__((unused)) volatile sig_atomic_t probe_active;
static __attribute__((unused)) volatile int probe_sig;

static __attribute__((unused)) void probe_handler(int sig, siginfo_t *si, void *uc) {
  (void)si;
  (void)uc;
  if (!probe_active) {
    /* Not ours: restore the default action and let the fault kill us. */
    signal(sig, SIG_DFL);
    return;
  }
  probe_sig = sig;
  siglongjmp(probe_jmp, 1);
}

static __attribute__((unused)) void probe_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = probe_handler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
}

/* 1 if a byte at p can be read, 0 if reading faults. */
static __attribute__((unused)) int __attribute__((noinline)) probe_read(const void *p) {
  volatile int ok = 0;
  probe_active = 1;
  if (sigsetjmp(probe_jmp, 1) == 0) {
    (void)*(volatile const char *)p;
    ok = 1;
  }
  probe_active = 0;
  return ok;
}

/* 1 if the byte at p can be written (it is rewritten with its own value). */
static __attribute__((unused)) int __attribute__((noinline)) probe_write(void *p) {
  volatile int ok = 0;
  probe_active = 1;
  if (sigsetjmp(probe_jmp, 1) == 0) {
    /* A locked add of 0 writes without reading first from C's view. */
    __asm__ volatile("lock addb $0, %0" : "+m"(*(volatile char *)p));
    ok = 1;
  }
  probe_active = 0;
  return ok;
}

/* ---- Linux constants that musl 1.2.3 headers may lack ---- */
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_getcpu
#define SYS_getcpu 309
#endif

/* futex(2) operations (musl has no <linux/futex.h> in its include path). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_BITSET_MATCH_ANY 0xffffffff

#define PAGE 4096UL

#endif
