/* Memory syscalls: mmap flags, munmap, mprotect, mremap, madvise, the mlock
 * family, msync, mincore, brk — results and Linux's error codes. */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#endif
#define PG 4096ul

static long sys_mmap(void* a, size_t l, int p, int f, int fd, long off) {
  return syscall(SYS_mmap, a, l, p, f, fd, off);
}
static char* map(size_t len, int flags) {
  long r = sys_mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
  CHECK(r > 0, "mmap(%zu, flags %#x) = %ld errno %d", len, flags, r, errno);
  return r > 0 ? (char*)r : 0;
}
static int resident(char* p, size_t pages, int want) {
  unsigned char v[64];
  if (syscall(SYS_mincore, p, pages * PG, v) != 0) return 0;
  for (size_t i = 0; i < pages; ++i)
    if ((v[i] & 1) != want) return 0;
  return 1;
}

static void test_mmap(void) {
  const int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS;
  EXPECT_ERR(EINVAL, sys_mmap(0, 0, rw, pa, -1, 0));
  EXPECT_ERR(EINVAL, sys_mmap(0, PG, rw, MAP_ANONYMOUS, -1, 0));          /* no type */
  EXPECT_ERR(EINVAL, sys_mmap(0, PG, rw, pa, -1, 100));                   /* offset */
  EXPECT_ERR(EINVAL, sys_mmap((void*)0x7000001, PG, rw, pa | MAP_FIXED, -1, 0));
  /* MAP_SHARED_VALIDATE is for files; anonymous shared memory cannot grow down. */
  EXPECT_ERR(EINVAL, sys_mmap(0, PG, rw, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0));
  EXPECT_ERR(EINVAL, sys_mmap(0, PG, rw, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0));
  EXPECT_ERR(ENOMEM, sys_mmap(0, (size_t)-PG, rw, pa, -1, 0));

  char* p = map(4 * PG, 0);
  for (int i = 0; i < 4; ++i) p[i * PG] = (char)i + 1;
  CHECK(p[3 * PG] == 4, "read back");
  /* MAP_FIXED_NOREPLACE: EEXIST over a mapping, the exact address when free. */
  EXPECT_ERR(EEXIST, sys_mmap(p + PG, PG, rw, pa | MAP_FIXED_NOREPLACE, -1, 0));
  CHECK(p[PG] == 2, "NOREPLACE must not touch the old mapping");
  EXPECT_OK(syscall(SYS_munmap, p + 2 * PG, PG));
  long r = sys_mmap(p + 2 * PG, PG, rw, pa | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK(r == (long)(p + 2 * PG), "MAP_FIXED_NOREPLACE at a free address = %#lx", r);
  CHECK(p[2 * PG] == 0, "a fresh page is zero");
  /* MAP_FIXED replaces. */
  r = sys_mmap(p, PG, rw, pa | MAP_FIXED, -1, 0);
  CHECK(r == (long)p && p[0] == 0, "MAP_FIXED replaced = %#lx", r);
  EXPECT_OK(syscall(SYS_munmap, p, 4 * PG));

  /* MAP_POPULATE and MAP_LOCKED map the pages at once; plain mmap does not. */
  char* q = map(8 * PG, 0);
  CHECK(resident(q, 8, 0), "a fresh mapping is not resident");
  q[5 * PG] = 1;
  unsigned char v[8];
  EXPECT_OK(syscall(SYS_mincore, q, 8 * PG, v));
  CHECK(v[5] == 1 && v[4] == 0, "mincore after touching page 5: %d %d", v[5], v[4]);
  EXPECT_OK(syscall(SYS_munmap, q, 8 * PG));
  q = map(8 * PG, MAP_POPULATE);
  CHECK(q && resident(q, 8, 1), "MAP_POPULATE makes every page resident");
  EXPECT_OK(syscall(SYS_munmap, q, 8 * PG));
  q = map(4 * PG, MAP_LOCKED);
  CHECK(q && resident(q, 4, 1), "MAP_LOCKED makes every page resident");
  EXPECT_OK(syscall(SYS_munmap, q, 4 * PG));
  q = map(64 * PG, MAP_NORESERVE);
  if (q) q[63 * PG] = 9;
  EXPECT_OK(syscall(SYS_munmap, q, 64 * PG));
  q = map(16 * PG, MAP_STACK);
  if (q) q[0] = 1;
  EXPECT_OK(syscall(SYS_munmap, q, 16 * PG));
  q = map(16 * PG, MAP_GROWSDOWN);
  if (q) q[15 * PG] = 1;
  EXPECT_OK(syscall(SYS_munmap, q, 16 * PG));
  /* Shared anonymous memory. */
  r = sys_mmap(0, PG, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(r > 0, "MAP_SHARED|MAP_ANONYMOUS = %ld", r);
  if (r > 0) {
    ((char*)r)[10] = 5;
    EXPECT_OK(syscall(SYS_munmap, r, PG));
  }
}

static void test_munmap_mprotect(void) {
  char* p = map(4 * PG, 0);
  EXPECT_ERR(EINVAL, syscall(SYS_munmap, p + 1, PG));
  EXPECT_ERR(EINVAL, syscall(SYS_munmap, p, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_munmap, 0x7ffffffff000ul, 2 * PG));
  EXPECT_ERR(EINVAL, syscall(SYS_mprotect, p + 1, PG, PROT_READ));
  EXPECT_ERR(EINVAL, syscall(SYS_mprotect, p, PG, 0x40));
  EXPECT_ERR(EINVAL, syscall(SYS_mprotect, p, PG, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP));
  EXPECT_ERR(EINVAL, syscall(SYS_mprotect, p, PG, PROT_READ | PROT_GROWSDOWN));  /* not a stack */
  CHECK(syscall(SYS_mprotect, p, PG, PROT_READ | PROT_WRITE | 8 /*PROT_SEM*/) == 0, "PROT_SEM is accepted");
  CHECK(syscall(SYS_mprotect, p, 0, PROT_READ) == 0, "mprotect of nothing");
  p[PG] = 42;
  CHECK(syscall(SYS_mprotect, p, 4 * PG, PROT_READ) == 0, "mprotect read-only");
  CHECK(p[PG] == 42, "data kept across mprotect");
  CHECK(syscall(SYS_mprotect, p, 4 * PG, PROT_READ | PROT_WRITE) == 0, "mprotect read-write");
  p[PG] = 43;
  EXPECT_OK(syscall(SYS_munmap, p + 2 * PG, PG));
  EXPECT_ERR(ENOMEM, syscall(SYS_mprotect, p, 4 * PG, PROT_READ));   /* a hole */
  EXPECT_ERR(ENOMEM, syscall(SYS_mprotect, p + 2 * PG, PG, PROT_READ));
  EXPECT_OK(syscall(SYS_munmap, p, 4 * PG));
  CHECK(syscall(SYS_munmap, p, 4 * PG) == 0, "munmap of nothing mapped is fine");
}

static void test_mremap(void) {
  char* p = map(3 * PG, 0);
  memset(p, 7, 2 * PG);
  EXPECT_OK(syscall(SYS_munmap, p + 2 * PG, PG));  /* a free page right above */
  EXPECT_ERR(EINVAL, syscall(SYS_mremap, p + 1, PG, 2 * PG, MREMAP_MAYMOVE, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_mremap, p, PG, 0, MREMAP_MAYMOVE, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_mremap, p, PG, 2 * PG, 0x80, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_mremap, p, PG, 2 * PG, MREMAP_FIXED, p + 64 * PG));
  EXPECT_ERR(EFAULT, syscall(SYS_mremap, 0x10000000ul, PG, 2 * PG, MREMAP_MAYMOVE, 0));
  /* Blocked growth in place without MAYMOVE: ENOMEM. */
  char* guard = (char*)sys_mmap(p + 2 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK(guard == p + 2 * PG, "neighbour mapping");
  EXPECT_ERR(ENOMEM, syscall(SYS_mremap, p, 2 * PG, 8 * PG, 0));
  long r = syscall(SYS_mremap, p, 2 * PG, 8 * PG, MREMAP_MAYMOVE);
  CHECK(r > 0 && r != (long)p, "mremap MAYMOVE moved = %#lx", r);
  char* n = (char*)r;
  if (r > 0) {
    CHECK(n[0] == 7 && n[2 * PG - 1] == 7, "data moved");
    CHECK(n[7 * PG] == 0, "the grown part is zero");
    /* shrink in place */
    r = syscall(SYS_mremap, n, 8 * PG, 3 * PG, 0);
    CHECK(r == (long)n, "shrink in place = %#lx", r);
    /* MREMAP_FIXED to a chosen free address; overlapping source and target is EINVAL. */
    EXPECT_ERR(EINVAL, syscall(SYS_mremap, n, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, n + PG));
    char* target = map(3 * PG, 0);
    r = syscall(SYS_mremap, n, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    CHECK(r == (long)target && target[0] == 7, "MREMAP_FIXED = %#lx", r);
    EXPECT_ERR(EFAULT, syscall(SYS_mremap, n, PG, PG, 0));  /* the source is gone */
    EXPECT_OK(syscall(SYS_munmap, target, 3 * PG));
  }
  EXPECT_OK(syscall(SYS_munmap, guard, PG));
}

static void test_madvise(void) {
  char* p = map(4 * PG, 0);
  memset(p, 0x5a, 4 * PG);
  CHECK(syscall(SYS_madvise, p, 4 * PG, MADV_DONTNEED) == 0, "MADV_DONTNEED");
  CHECK(p[0] == 0 && p[3 * PG + 100] == 0, "DONTNEED zero-fills anonymous pages");
  int hints[] = {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTFORK,
                 MADV_DOFORK, 8 /*FREE*/, 14 /*HUGEPAGE*/, 15 /*NOHUGEPAGE*/};
  for (unsigned i = 0; i < sizeof hints / sizeof *hints; ++i)
    CHECK(syscall(SYS_madvise, p, 4 * PG, hints[i]) == 0, "madvise advice %d", hints[i]);
  EXPECT_ERR(EINVAL, syscall(SYS_madvise, p, PG, 999));
  EXPECT_ERR(EINVAL, syscall(SYS_madvise, p + 1, PG, MADV_NORMAL));
  CHECK(syscall(SYS_madvise, p, 0, MADV_DONTNEED) == 0, "empty range");
  EXPECT_OK(syscall(SYS_munmap, p + PG, PG));
  EXPECT_ERR(ENOMEM, syscall(SYS_madvise, p, 4 * PG, MADV_NORMAL));
  p[3 * PG] = 1;
  EXPECT_ERR(ENOMEM, syscall(SYS_madvise, p, 4 * PG, MADV_DONTNEED));
  CHECK(p[3 * PG] == 0, "the mapped part is still discarded");
  EXPECT_OK(syscall(SYS_mlock, p, PG));
  EXPECT_ERR(EINVAL, syscall(SYS_madvise, p, PG, MADV_DONTNEED));  /* locked */
  EXPECT_OK(syscall(SYS_munmap, p, 4 * PG));
}

static void test_mlock_msync_mincore(void) {
  char* p = map(4 * PG, 0);
  CHECK(syscall(SYS_mlock, p + 10, 2 * PG) == 0, "mlock rounds the start down");
  CHECK(resident(p, 3, 1), "mlock populates");
  EXPECT_OK(syscall(SYS_munlock, p, 4 * PG));
  CHECK(syscall(SYS_mlock, p, 0) == 0, "mlock of nothing");
  EXPECT_OK(syscall(SYS_mlock2, p, PG, 1 /*MLOCK_ONFAULT*/));
  EXPECT_ERR(EINVAL, syscall(SYS_mlock2, p, PG, 2));
  EXPECT_ERR(ENOMEM, syscall(SYS_mlock, 0x10000000ul, PG));
  EXPECT_ERR(ENOMEM, syscall(SYS_munlock, 0x10000000ul, PG));
  EXPECT_ERR(EINVAL, syscall(SYS_mlockall, 0));
  EXPECT_ERR(EINVAL, syscall(SYS_mlockall, 4 /*MCL_ONFAULT alone*/));
  EXPECT_ERR(EINVAL, syscall(SYS_mlockall, 0x10));
  CHECK(syscall(SYS_mlockall, MCL_CURRENT | MCL_FUTURE) == 0, "mlockall");
  char* l = map(2 * PG, 0);
  CHECK(l && resident(l, 2, 1), "MCL_FUTURE locks (and populates) new mappings");
  CHECK(syscall(SYS_munlockall) == 0, "munlockall");
  char* u = map(2 * PG, 0);
  CHECK(u && resident(u, 2, 0), "after munlockall new mappings are lazy again");
  EXPECT_OK(syscall(SYS_munmap, l, 2 * PG));
  EXPECT_OK(syscall(SYS_munmap, u, 2 * PG));

  CHECK(syscall(SYS_msync, p, 4 * PG, MS_SYNC) == 0, "msync MS_SYNC");
  CHECK(syscall(SYS_msync, p, 4 * PG, MS_ASYNC | MS_INVALIDATE) == 0, "msync MS_ASYNC|MS_INVALIDATE");
  EXPECT_ERR(EINVAL, syscall(SYS_msync, p, PG, MS_ASYNC | MS_SYNC));
  EXPECT_ERR(EINVAL, syscall(SYS_msync, p, PG, 8));
  EXPECT_ERR(EINVAL, syscall(SYS_msync, p + 1, PG, MS_SYNC));
  EXPECT_ERR(ENOMEM, syscall(SYS_msync, 0x10000000ul, PG, MS_SYNC));

  unsigned char v[4];
  EXPECT_ERR(EINVAL, syscall(SYS_mincore, p + 1, PG, v));
  EXPECT_ERR(ENOMEM, syscall(SYS_mincore, 0x10000000ul, PG, v));
  EXPECT_ERR(EFAULT, syscall(SYS_mincore, p, PG, BAD_PTR));
  EXPECT_ERR(EFAULT, syscall(SYS_mincore, p, PG, KERNEL_PTR));
  EXPECT_OK(syscall(SYS_munmap, p, 4 * PG));
  /* A large range: the vector is filled in chunks. */
  size_t pages = 3000;
  char* big = map(pages * PG, 0);
  unsigned char* vec = malloc(pages);
  if (big && vec) {
    big[2999 * PG] = 1;
    big[1000 * PG] = 1;
    EXPECT_OK(syscall(SYS_mincore, big, pages * PG, vec));
    int count = 0;
    for (size_t i = 0; i < pages; ++i) count += vec[i] & 1;
    CHECK(count == 2 && vec[2999] && vec[1000], "mincore over 3000 pages: %d resident", count);
  }
  EXPECT_OK(syscall(SYS_munmap, big, pages * PG));
  free(vec);
}

static void test_brk(void) {
  long cur = syscall(SYS_brk, 0);
  CHECK(cur > 0, "brk(0) = %#lx", cur);
  long n = syscall(SYS_brk, cur + 3 * PG);
  CHECK(n == cur + 3 * (long)PG, "brk grows = %#lx", n);
  if (n == cur + 3 * (long)PG) {
    ((char*)cur)[3 * PG - 1] = 1;
    CHECK(syscall(SYS_brk, cur) == cur, "brk shrinks");
  }
  CHECK(syscall(SYS_brk, 0x10) == cur, "a bad break leaves it unchanged");
}

int main(void) {
  test_mmap();
  test_munmap_mprotect();
  test_mremap();
  test_madvise();
  test_mlock_msync_mincore();
  test_brk();
  return finish("abi_mm");
}
