/* abi-test: MEM 256M TIMEOUT 300 */
/* Long copies stop at a signal (Linux's signal_pending() between pages):
 * a 48 MiB read of /dev/zero or /dev/urandom and a 48 MiB getrandom(),
 * with a 1 ms interval timer whose handler has no SA_RESTART, return a
 * positive whole number of pages smaller than the request — the thread is
 * not held in the kernel until the whole buffer is filled (sysfuzz saw four
 * threads 60 s in getrandom calls of a few hundred MiB under TCG). Bad
 * input: a buffer that is unmapped from the start gives EFAULT, one that
 * ends in an unmapped page gives the bytes before it. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/time.h>

#include "check.h"

#define BIG (48ul << 20)

static volatile sig_atomic_t g_alarms;
static void on_alarm(int s) { (void)s; ++g_alarms; }

static void timer_on(int on) {
  struct itimerval it = {{0, on ? 1000 : 0}, {0, on ? 1000 : 0}};
  setitimer(ITIMER_REAL, &it, NULL);
}

/* The call under a 1 ms interval timer: a partial, page-aligned result. */
static void check_cut_short(const char* what, long r) {
  CHECK(r > 0 && (unsigned long)r < BIG, "%s: %ld of %lu bytes (expected a partial result)", what, r, BIG);
  CHECK(r % 4096 == 0, "%s: %ld bytes is not a whole number of pages", what, r);
  CHECK(g_alarms > 0, "%s: no SIGALRM was handled", what);
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;  /* no SA_RESTART */
  sigaction(SIGALRM, &sa, NULL);
  char* buf = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(buf != MAP_FAILED, "mmap %lu bytes", BIG);
  if (buf == MAP_FAILED) return 1;

  int zero = open("/dev/zero", O_RDONLY), urandom = open("/dev/urandom", O_RDONLY);
  CHECK(zero >= 0 && urandom >= 0, "open /dev/zero, /dev/urandom");
  struct {
    const char* what;
    int fd;
  } reads[] = {{"read /dev/zero", zero}, {"read /dev/urandom", urandom}, {"getrandom", -1}};
  for (unsigned i = 0; i < sizeof reads / sizeof reads[0]; ++i) {
    /* Release the pages, so the copy faults each one in again. */
    madvise(buf, BIG, MADV_DONTNEED);
    g_alarms = 0;
    timer_on(1);
    long r = reads[i].fd >= 0 ? read(reads[i].fd, buf, BIG) : syscall(SYS_getrandom, buf, BIG, 0);
    timer_on(0);
    check_cut_short(reads[i].what, r);
  }

  /* Bad buffers: unmapped from the start, and ending in an unmapped page. */
  char* two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(two + 4096, 4096);
  EXPECT_ERR(EFAULT, syscall(SYS_read, zero, BAD_PTR, 4096));
  EXPECT_ERR(EFAULT, syscall(SYS_read, urandom, BAD_PTR, 4096));
  EXPECT_ERR(EFAULT, syscall(SYS_getrandom, BAD_PTR, 4096, 0));
  long r = read(zero, two, 8192);
  CHECK(r == 4096, "read /dev/zero into 1 mapped page of 2: %ld", r);
  r = read(urandom, two, 8192);
  CHECK(r == 4096, "read /dev/urandom into 1 mapped page of 2: %ld", r);
  r = syscall(SYS_getrandom, two, 8192, 0);
  CHECK(r == 4096, "getrandom into 1 mapped page of 2: %ld", r);

  return finish("abi_longcall");
}
