/* mem: brk, mmap flavours, munmap, mprotect, mremap, madvise, mlock family,
 * msync, mincore, and their error codes. */
#include "check.h"

static char *map(size_t len, int prot, int flags) {
  void *p = mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : (char *)p;
}

static int resident(void *p) {
  unsigned char v = 0xff;
  if (mincore(p, PAGE, &v) != 0) return -1;
  return v & 1;
}

static void test_brk(void) {
  long cur = syscall(SYS_brk, 0);
  CHECK(cur > 0, "brk(0) returns the break");
  long want = cur + 64 * 1024;
  long got = syscall(SYS_brk, want);
  CHECK_HEX(got, want, "brk grow by 64 KiB");
  if (got == want) {
    char *p = (char *)cur;
    memset(p, 0x5a, 64 * 1024);
    CHECK_EQ(p[0] + p[64 * 1024 - 1], 0x5a * 2, "brk memory writable");
    /* A value below the start of the heap is refused: brk returns the old break. */
    CHECK_HEX(syscall(SYS_brk, 4096), want, "brk(too low) returns current break");
    CHECK_HEX(syscall(SYS_brk, cur + 4096), cur + 4096, "brk shrink");
    CHECK(!probe_read((char *)cur + 8192), "brk shrink unmaps the tail");
    CHECK_HEX(syscall(SYS_brk, cur + 8192), cur + 8192, "brk regrow");
    CHECK_EQ(((char *)cur)[4096 + 100], 0, "brk regrown page is zero");
    CHECK_HEX(syscall(SYS_brk, cur), cur, "brk back to start");
  }
}

static void test_mmap_basic(void) {
  char *p = map(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  CHECK(p != NULL, "mmap anon private");
  if (!p) return;
  CHECK_EQ((uintptr_t)p % PAGE, 0, "mmap result page-aligned");
  CHECK((uintptr_t)p < 0x800000000000ULL, "mmap result in the lower half");
  CHECK_EQ(resident(p), 0, "untouched page not resident (demand paging)");
  p[0] = 1;
  p[PAGE * 3 + 17] = 2;
  CHECK_EQ(resident(p), 1, "touched page resident");
  CHECK_EQ(resident(p + PAGE), 0, "neighbour still not resident");
  int zero = 1;
  for (size_t i = PAGE; i < 3 * PAGE; i += 512) zero &= p[i] == 0;
  CHECK(zero, "anonymous memory is zero-filled");
  CHECK_EQ(p[0] + p[PAGE * 3 + 17], 3, "anon memory holds data");

  /* MAP_FIXED over the middle replaces pages, keeps the others. */
  p[PAGE] = 7;
  char *q = mmap(p + PAGE, PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK(q == p + PAGE, "MAP_FIXED returns the address asked for");
  CHECK_EQ(p[PAGE], 0, "MAP_FIXED replaced the page (zero again)");
  CHECK_EQ(p[0], 1, "MAP_FIXED kept the page before");
  CHECK_EQ(p[PAGE * 3 + 17], 2, "MAP_FIXED kept the page after");

  /* MAP_FIXED_NOREPLACE over an existing mapping: EEXIST. */
  CHECK_ERR(mmap(p + 2 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
            EEXIST, "MAP_FIXED_NOREPLACE over a mapping");
  CHECK_EQ(p[PAGE * 3 + 17], 2, "failed MAP_FIXED_NOREPLACE left data alone");

  /* MAP_FIXED_NOREPLACE into a hole works. */
  CHECK_OK(munmap(p + 2 * PAGE, PAGE), "munmap one page");
  CHECK(!probe_read(p + 2 * PAGE), "munmapped page faults");
  q = mmap(p + 2 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK(q == p + 2 * PAGE, "MAP_FIXED_NOREPLACE into a hole");
  CHECK(probe_read(p + 2 * PAGE), "NOREPLACE page readable");
  CHECK(!probe_write(p + 2 * PAGE), "NOREPLACE PROT_READ page not writable");

  /* A hint address that is free is honoured (Linux does so when free). */
  CHECK_OK(munmap(p, 4 * PAGE), "munmap whole");
  q = mmap(p, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(q == p, "free hint address honoured");
  munmap(q, PAGE);
  for (int i = 0; i < 4; i++) CHECK(!probe_read(p + i * PAGE), "munmap whole: pages fault");
}

static void test_mmap_flags(void) {
  char *s = map(2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED);
  CHECK(s != NULL, "mmap anon shared");
  if (s) {
    CHECK_EQ(s[5], 0, "shared anon zero");
    s[5] = 9;
    CHECK_EQ(s[5], 9, "shared anon writable");
    CHECK_OK(msync(s, 2 * PAGE, MS_SYNC), "msync MS_SYNC on shared");
    CHECK_OK(msync(s, PAGE, MS_ASYNC), "msync MS_ASYNC");
    CHECK_ERR(msync(s + 1, PAGE, MS_SYNC), EINVAL, "msync unaligned");
    CHECK_ERR(msync(s, PAGE, MS_SYNC | MS_ASYNC), EINVAL, "msync SYNC|ASYNC");
    munmap(s, 2 * PAGE);
    CHECK_ERR(msync(s, PAGE, MS_SYNC), ENOMEM, "msync unmapped");
  }
  /* 1 GiB with MAP_NORESERVE: only the touched pages cost memory. */
  size_t big = 1UL << 30;
  char *n = map(big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE);
  CHECK(n != NULL, "mmap 1 GiB MAP_NORESERVE");
  if (n) {
    n[0] = 1;
    n[big / 2] = 2;
    n[big - 1] = 3;
    CHECK_EQ(n[0] + n[big / 2] + n[big - 1], 6, "NORESERVE pages usable");
    CHECK_EQ(resident(n + PAGE * 100), 0, "NORESERVE untouched page not resident");
    munmap(n, big);
  }
  char *pop = map(8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_POPULATE);
  CHECK(pop != NULL, "mmap MAP_POPULATE");
  if (pop) {
    unsigned char v[8];
    CHECK_OK(mincore(pop, 8 * PAGE, v), "mincore populate");
    int all = 1;
    for (int i = 0; i < 8; i++) all &= v[i] & 1;
    CHECK(all, "MAP_POPULATE pages resident");
    CHECK_EQ(pop[3 * PAGE], 0, "populated page zero");
    munmap(pop, 8 * PAGE);
  }
  char *st = map(16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_STACK);
  CHECK(st != NULL, "mmap MAP_STACK");
  if (st) {
    st[16 * PAGE - 1] = 1;
    st[0] = 1;
    CHECK_EQ(st[0] + st[16 * PAGE - 1], 2, "MAP_STACK usable");
    munmap(st, 16 * PAGE);
  }
  char *gd = map(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_GROWSDOWN);
  CHECK(gd != NULL, "mmap MAP_GROWSDOWN");
  if (gd) {
    gd[4 * PAGE - 8] = 4;
    gd[PAGE] = 4;
    CHECK_EQ(gd[4 * PAGE - 8] + gd[PAGE], 8, "MAP_GROWSDOWN usable");
    munmap(gd - PAGE, 5 * PAGE); /* covers a grown guard page too */
  }
}

/* Raw syscalls for error checks: libc wrappers (musl's mprotect rounds the
 * range, its mmap pre-checks offsets) must not hide the kernel's answer. */
static long raw_mmap(void *a, size_t l, int prot, int fl, long off) {
  return syscall(SYS_mmap, a, l, prot, fl, -1, off);
}

static void test_mmap_errors(void) {
  CHECK_ERR(raw_mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0), EINVAL, "mmap length 0");
  CHECK_ERR(raw_mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, 0), EINVAL, "mmap neither PRIVATE nor SHARED");
  CHECK_ERR(raw_mmap((void *)0x10000001, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0),
            EINVAL, "mmap MAP_FIXED unaligned");
  CHECK_ERR(raw_mmap(NULL, (size_t)-PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0), ENOMEM, "mmap huge length");
  CHECK_ERR(raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 1), EINVAL, "mmap unaligned offset");
  CHECK_ERR(munmap((void *)0x10000001, PAGE), EINVAL, "munmap unaligned");
  CHECK_ERR(munmap((void *)0x10000000, 0), EINVAL, "munmap length 0");
  /* munmap of a range with nothing mapped is not an error. */
  char *p = map(PAGE, PROT_READ, MAP_PRIVATE);
  if (p) {
    munmap(p, PAGE);
    CHECK_OK(munmap(p, PAGE), "munmap of an unmapped range");
    CHECK_ERR(syscall(SYS_mprotect, p, PAGE, PROT_READ), ENOMEM, "mprotect unmapped range");
    unsigned char v;
    CHECK_ERR(mincore(p, PAGE, &v), ENOMEM, "mincore unmapped range");
  }
  CHECK_ERR(syscall(SYS_mprotect, 0x10000001, PAGE, PROT_READ), EINVAL, "mprotect unaligned");
}

static void test_mprotect(void) {
  char *p = map(3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  if (!p) { FAILF("mprotect: mmap failed"); return; }
  p[PAGE] = 42;
  CHECK_OK(mprotect(p + PAGE, PAGE, PROT_READ), "mprotect PROT_READ");
  CHECK(probe_read(p + PAGE), "read-only page readable");
  CHECK(!probe_write(p + PAGE), "read-only page not writable");
  CHECK_EQ(p[PAGE], 42, "read-only page keeps data");
  CHECK(probe_write(p), "page before stays writable");
  CHECK(probe_write(p + 2 * PAGE), "page after stays writable");
  CHECK_OK(mprotect(p + PAGE, PAGE, PROT_NONE), "mprotect PROT_NONE");
  CHECK(!probe_read(p + PAGE), "PROT_NONE page not readable");
  CHECK_OK(mprotect(p, 3 * PAGE, PROT_READ | PROT_WRITE), "mprotect RW again");
  CHECK(probe_write(p + PAGE), "page writable again");
  CHECK_EQ(p[PAGE], 42, "data survived PROT_NONE");
  /* Range running past the mapping: ENOMEM. */
  munmap(p + 2 * PAGE, PAGE);
  CHECK_ERR(syscall(SYS_mprotect, p, 3 * PAGE, PROT_READ), ENOMEM, "mprotect range with a hole at the end");
  munmap(p, 2 * PAGE);
}

static void test_mremap(void) {
  /* Grow in place: the 4 pages behind are made free first. */
  char *p = map(8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  if (!p) { FAILF("mremap: mmap failed"); return; }
  munmap(p + 4 * PAGE, 4 * PAGE);
  memset(p, 0x11, 4 * PAGE);
  char *q = mremap(p, 4 * PAGE, 8 * PAGE, 0);
  CHECK(q == p, "mremap grow in place");
  if (q == p) {
    CHECK_EQ(p[4 * PAGE - 1], 0x11, "grown mapping keeps data");
    CHECK_EQ(p[6 * PAGE], 0, "grown part zero");
    p[8 * PAGE - 1] = 1;
  }
  /* Shrink: the tail goes away. */
  q = mremap(p, 8 * PAGE, 2 * PAGE, 0);
  CHECK(q == p, "mremap shrink in place");
  CHECK(!probe_read(p + 3 * PAGE), "shrunk tail unmapped");
  CHECK_EQ(p[PAGE], 0x11, "shrunk mapping keeps data");
  /* Grow blocked by a neighbour, no MAYMOVE: ENOMEM. */
  char *blk = mmap(p + 2 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK(blk == p + 2 * PAGE, "neighbour mapping");
  CHECK_ERR(mremap(p, 2 * PAGE, 4 * PAGE, 0), ENOMEM, "mremap grow blocked without MAYMOVE");
  /* With MAYMOVE: moves, data follows, old range unmapped. */
  q = mremap(p, 2 * PAGE, 16 * PAGE, MREMAP_MAYMOVE);
  CHECK(q != MAP_FAILED && q != p, "mremap MAYMOVE moves");
  if (q != MAP_FAILED && q != p) {
    CHECK_EQ(q[0], 0x11, "moved data page 0");
    CHECK_EQ(q[2 * PAGE - 1], 0x11, "moved data page 1");
    CHECK_EQ(q[10 * PAGE], 0, "moved: new part zero");
    CHECK(!probe_read(p), "old range unmapped after move");
    CHECK(probe_read(blk), "neighbour untouched by move");
    /* MREMAP_FIXED onto a chosen address (replacing what is there). */
    char *r = mremap(q, 16 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p);
    CHECK(r == p, "MREMAP_FIXED to the old address");
    if (r == p) CHECK_EQ(p[PAGE], 0x11, "MREMAP_FIXED keeps data");
    CHECK(!probe_read(q), "MREMAP_FIXED source unmapped");
    CHECK(!probe_read(q + 3 * PAGE), "MREMAP_FIXED rest of source unmapped");
  }
  CHECK_ERR(syscall(SYS_mremap, p + 1, PAGE, 2 * PAGE, MREMAP_MAYMOVE), EINVAL, "mremap unaligned");
  CHECK_ERR(syscall(SYS_mremap, p, PAGE, 0, MREMAP_MAYMOVE), EINVAL, "mremap new size 0");
  CHECK_ERR(syscall(SYS_mremap, p, PAGE, PAGE, MREMAP_FIXED, p + 100 * PAGE), EINVAL, "MREMAP_FIXED without MAYMOVE");
  munmap(p, 3 * PAGE);
  CHECK_ERR(syscall(SYS_mremap, p, PAGE, 2 * PAGE, MREMAP_MAYMOVE), EFAULT, "mremap of an unmapped range");
}

static void test_madvise(void) {
  char *p = map(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  if (!p) { FAILF("madvise: mmap failed"); return; }
  memset(p, 0x33, 4 * PAGE);
  CHECK_OK(madvise(p + PAGE, 2 * PAGE, MADV_DONTNEED), "MADV_DONTNEED");
  CHECK_EQ(p[PAGE], 0, "MADV_DONTNEED zeroes private anon page 1");
  CHECK_EQ(p[3 * PAGE - 1], 0, "MADV_DONTNEED zeroes private anon page 2");
  CHECK_EQ(p[0], 0x33, "MADV_DONTNEED leaves page before");
  CHECK_EQ(p[3 * PAGE], 0x33, "MADV_DONTNEED leaves page after");
  CHECK_OK(madvise(p, 4 * PAGE, MADV_WILLNEED), "MADV_WILLNEED");
  CHECK_OK(madvise(p, 4 * PAGE, MADV_NORMAL), "MADV_NORMAL");
  CHECK_OK(madvise(p, 4 * PAGE, MADV_SEQUENTIAL), "MADV_SEQUENTIAL");
  CHECK_OK(madvise(p, 4 * PAGE, MADV_RANDOM), "MADV_RANDOM");
  CHECK_EQ(p[0], 0x33, "advice does not change data");
  CHECK_ERR(madvise(p + 1, PAGE, MADV_NORMAL), EINVAL, "madvise unaligned");
  CHECK_ERR(madvise(p, PAGE, 12345), EINVAL, "madvise unknown advice");
  munmap(p, 4 * PAGE);
  CHECK_ERR(madvise(p, PAGE, MADV_NORMAL), ENOMEM, "madvise unmapped");
}

static void test_mlock(void) {
  char *p = map(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  if (!p) { FAILF("mlock: mmap failed"); return; }
  CHECK_OK(mlock(p, 2 * PAGE), "mlock");
  unsigned char v[2];
  CHECK_OK(mincore(p, 2 * PAGE, v), "mincore after mlock");
  CHECK((v[0] & 1) && (v[1] & 1), "mlock makes pages resident");
  CHECK_OK(munlock(p, 2 * PAGE), "munlock");
  CHECK_OK(mlockall(MCL_CURRENT), "mlockall(MCL_CURRENT)");
  CHECK_OK(munlockall(), "munlockall");
  CHECK_ERR(mlockall(0), EINVAL, "mlockall(0)");
  munmap(p, 4 * PAGE);
  CHECK_ERR(mlock(p, PAGE), ENOMEM, "mlock unmapped");
}

static void test_mincore_errors(void) {
  char *p = map(PAGE, PROT_READ, MAP_PRIVATE);
  unsigned char v;
  if (!p) return;
  CHECK_ERR(mincore(p + 1, PAGE, &v), EINVAL, "mincore unaligned");
  munmap(p, PAGE);
}

int main(void) {
  check_init("mem");
  probe_install();
  test_brk();
  test_mmap_basic();
  test_mmap_flags();
  test_mmap_errors();
  test_mprotect();
  test_mremap();
  test_madvise();
  test_mlock();
  test_mincore_errors();
  return check_finish();
}
