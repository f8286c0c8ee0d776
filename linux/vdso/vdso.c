/* Capsule's vDSO: clock_gettime, gettimeofday, time, clock_getres and
 * getcpu without a system call, as the Linux x86-64 vDSO exports them
 * (vdso(7): symbols __vdso_* with version LINUX_2.6, which glibc's and
 * musl's lookups ask for). Built as its own freestanding shared object by
 * cmake/vdso.cmake and embedded in the kernel (core/vdso, docs/vdso.md).
 *
 * Runs as application code. No data, no relocations: the only state is the
 * vvar page one page below the text (capsule_vvar, placed by vdso.lds).
 * Clocks the vvar page cannot serve fall back to the real system call, so
 * behaviour (and errors, returned as -errno like Linux's vDSO) matches. */
#include <stddef.h>
#include <stdint.h>

#include "core/vdso/vvar.h"

/* Linux x86-64 ABI values (uapi/linux/time.h, unistd_64.h). */
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define NR_gettimeofday 96
#define NR_time 201
#define NR_clock_gettime 228
#define NR_clock_getres 229
#define NR_getcpu 309

struct timespec64 { int64_t tv_sec; int64_t tv_nsec; };
struct timeval64 { int64_t tv_sec; int64_t tv_usec; };
struct timezone_ { int tz_minuteswest; int tz_dsttime; };

extern const struct capsule_vvar capsule_vvar __attribute__((visibility("hidden")));

#define barrier() __asm__ __volatile__("" ::: "memory")

static long syscall2(long nr, long a, long b) {
  long r;
  __asm__ __volatile__("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return r;
}

static long syscall3(long nr, long a, long b, long c) {
  long r;
  __asm__ __volatile__("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static inline uint64_t rdtsc_ordered(void) {
  uint32_t lo, hi;
  /* lfence: the TSC is read after the sequence counter [SDM Vol. 2B, RDTSC] */
  __asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
  return ((uint64_t)hi << 32) | lo;
}

static inline uint32_t read_seq(const volatile struct capsule_vvar* v) {
  uint32_t s;
  for (;;) {
    s = v->seq;
    if (!(s & 1)) break;
    __asm__ __volatile__("pause");
  }
  barrier();
  return s;
}

/* Nanoseconds since boot (realtime: plus the offset). 0 = not available.
 * Always inlined: a call and its return are two translation-block lookups
 * under TCG, about as much as the RDTSC itself (bench/README.md). */
static inline __attribute__((always_inline)) int read_ns(int realtime, int64_t* out) {
  const volatile struct capsule_vvar* v = &capsule_vvar;
  uint64_t boot, mult, tsc;
  int64_t off;
  uint32_t s;
  do {
    s = read_seq(v);
    if (!(v->flags & CAPSULE_VVAR_TSC_OK)) return 0;
    boot = v->boot_tsc;
    mult = v->mult;
    off = v->realtime_offset_ns;
    tsc = rdtsc_ordered();
    barrier();
  } while (v->seq != s);
  uint64_t ticks = tsc > boot ? tsc - boot : 0;
  int64_t ns = (int64_t)(uint64_t)(((unsigned __int128)ticks * mult) >> 32);
  *out = realtime ? ns + off : ns;
  return 1;
}

static int clock_served(long clk, int* realtime) {
  switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
      *realtime = 1;
      return 1;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:  /* nothing suspends a Capsule VM: same as MONOTONIC */
      *realtime = 0;
      return 1;
  }
  return 0;
}

static void split(int64_t ns, int64_t* sec, int64_t* sub) {
  int64_t s = ns / 1000000000;
  int64_t r = ns % 1000000000;
  if (r < 0) { r += 1000000000; s -= 1; }  /* before 1970: floor, as timespec wants */
  *sec = s;
  *sub = r;
}

int __vdso_clock_gettime(long clk, struct timespec64* ts) {
  int realtime;
  int64_t ns;
  if (!clock_served(clk, &realtime) || !read_ns(realtime, &ns))
    return (int)syscall2(NR_clock_gettime, clk, (long)ts);
  split(ns, &ts->tv_sec, &ts->tv_nsec);
  return 0;
}

int __vdso_gettimeofday(struct timeval64* tv, struct timezone_* tz) {
  int64_t ns;
  if (tv) {
    if (!read_ns(1, &ns)) return (int)syscall2(NR_gettimeofday, (long)tv, (long)tz);
    int64_t sub;
    split(ns, &tv->tv_sec, &sub);
    tv->tv_usec = sub / 1000;
  }
  if (tz) {  /* the kernel's timezone is UTC, as Linux's default sys_tz */
    tz->tz_minuteswest = 0;
    tz->tz_dsttime = 0;
  }
  return 0;
}

long __vdso_time(long* t) {
  int64_t ns, sec, sub;
  if (!read_ns(1, &ns)) return syscall2(NR_time, (long)t, 0);
  split(ns, &sec, &sub);
  if (t) *t = sec;
  return sec;
}

int __vdso_clock_getres(long clk, struct timespec64* res) {
  int realtime;
  if (!clock_served(clk, &realtime) || !(capsule_vvar.flags & CAPSULE_VVAR_TSC_OK))
    return (int)syscall2(NR_clock_getres, clk, (long)res);
  if (res) {  /* every served clock is read from the TSC: 1 ns */
    res->tv_sec = 0;
    res->tv_nsec = 1;
  }
  return 0;
}

int __vdso_getcpu(unsigned* cpu, unsigned* node, void* unused) {
  uint32_t flags = capsule_vvar.flags;
  uint64_t aux;
  if (flags & CAPSULE_VVAR_RDPID) {
    __asm__ __volatile__("rdpid %0" : "=r"(aux));
  } else if (flags & CAPSULE_VVAR_RDTSCP) {
    uint32_t lo, hi, c;
    __asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
    aux = c;
  } else {
    return (int)syscall3(NR_getcpu, (long)cpu, (long)node, (long)unused);
  }
  /* IA32_TSC_AUX = (node << 12) | cpu, as Linux writes it */
  if (cpu) *cpu = (unsigned)(aux & 0xfff);
  if (node) *node = (unsigned)((aux >> 12) & 0xfffff);
  return 0;
}

/* The unprefixed names Linux's vDSO also exports (weak). */
int clock_gettime(long, struct timespec64*) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval64*, struct timezone_*) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long*) __attribute__((weak, alias("__vdso_time")));
int clock_getres(long, struct timespec64*) __attribute__((weak, alias("__vdso_clock_getres")));
int getcpu(unsigned*, unsigned*, void*) __attribute__((weak, alias("__vdso_getcpu")));

/* ELF note "Linux", type 0, desc = LINUX_VERSION_CODE, like Linux's vDSO:
 * older glibc read the kernel version from it (6.1.0, as uname reports). */
struct linux_note { uint32_t namesz, descsz, type; char name[8]; uint32_t desc; };
__attribute__((section(".note.Linux"), aligned(4), used)) static const struct linux_note version_note = {
    6, 4, 0, "Linux", (6u << 16) | (1u << 8) | 0u};
