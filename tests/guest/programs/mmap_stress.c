/* mmap_stress: random mmap(MAP_FIXED)/munmap/mprotect/write/MADV_DONTNEED
 * inside a 64-page window, each result checked against a model of every
 * page (mapped?, protection, content tag). Accessibility is probed with a
 * SIGSEGV handler + sigsetjmp, mapping state with mincore. Deterministic seed
 * (argv[1] may give another one). */
#include "check.h"

#define NPAGES 64
#define NOPS 300

enum { UNMAPPED = -1 };
static int prot_of[NPAGES];      /* UNMAPPED or PROT_* */
static uint64_t tag_of[NPAGES];  /* value at offset 0 and PAGE-8; 0 = zero page */
static char *base;
static uint64_t rng;

static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static const char *prot_name(int p) {
  switch (p) {
    case UNMAPPED: return "unmapped";
    case PROT_NONE: return "none";
    case PROT_READ: return "r";
    case PROT_READ | PROT_WRITE: return "rw";
  }
  return "?";
}

static int verify_page(int i, int op) {
  char *p = base + (size_t)i * PAGE;
  int before = g_fails;
  unsigned char v;
  int mc = mincore(p, PAGE, &v);
  int want_mapped = prot_of[i] != UNMAPPED;
  if (want_mapped && mc != 0)
    FAILF("op %d page %d (%s): mincore got errno %d want 0", op, i, prot_name(prot_of[i]), errno);
  if (!want_mapped && !(mc == -1 && errno == ENOMEM))
    FAILF("op %d page %d (unmapped): mincore got %d errno %d want ENOMEM", op, i, mc, errno);
  int r = probe_read(p), w = probe_write(p);
  int want_r = prot_of[i] == PROT_READ || prot_of[i] == (PROT_READ | PROT_WRITE);
  int want_w = prot_of[i] == (PROT_READ | PROT_WRITE);
  if (r != want_r) FAILF("op %d page %d (%s): readable got %d want %d", op, i, prot_name(prot_of[i]), r, want_r);
  if (w != want_w) FAILF("op %d page %d (%s): writable got %d want %d", op, i, prot_name(prot_of[i]), w, want_w);
  if (r && want_r) {
    uint64_t a = *(volatile uint64_t *)p, b = *(volatile uint64_t *)(p + PAGE - 8);
    if (a != tag_of[i] || b != tag_of[i])
      FAILF("op %d page %d: content got %#llx/%#llx want %#llx", op, i, (unsigned long long)a,
            (unsigned long long)b, (unsigned long long)tag_of[i]);
  }
  return g_fails == before;
}

static void verify_range(int a, int n, int op) {
  for (int i = a; i < a + n; i++) verify_page(i, op);
}

int main(int argc, char **argv) {
  check_init("mmap_stress");
  probe_install();
  rng = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x9e3779b97f4a7c15ULL;
  if (!rng) rng = 1;
  printf("mmap_stress: seed %#llx, %d ops on %d pages\n", (unsigned long long)rng, NOPS, NPAGES);

  void *m = mmap(NULL, NPAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) { FAILF("reserve window: mmap errno %d", errno); return check_finish(); }
  base = m;
  for (int i = 0; i < NPAGES; i++) prot_of[i] = PROT_NONE, tag_of[i] = 0;
  verify_range(0, NPAGES, -1);

  static const int prots[3] = {PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE};
  int counts[5] = {0};
  for (int op = 0; op < NOPS && g_fails < 10; op++) {
    int a = (int)(rnd() % NPAGES);
    int n = 1 + (int)(rnd() % 8);
    if (a + n > NPAGES) n = NPAGES - a;
    char *p = base + (size_t)a * PAGE;
    int kind = (int)(rnd() % 5);
    int all_mapped = 1;
    for (int i = a; i < a + n; i++) all_mapped &= prot_of[i] != UNMAPPED;
    switch (kind) {
      case 0: { /* map */
        int prot = prots[rnd() % 3];
        void *q = mmap(p, n * PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (q != p) FAILF("op %d: mmap fixed page %d x%d got %p want %p", op, a, n, q, (void *)p);
        for (int i = a; i < a + n; i++) prot_of[i] = prot, tag_of[i] = 0;
        break;
      }
      case 1: /* unmap */
        if (munmap(p, n * PAGE) != 0) FAILF("op %d: munmap page %d x%d errno %d", op, a, n, errno);
        for (int i = a; i < a + n; i++) prot_of[i] = UNMAPPED;
        break;
      case 2: { /* protect */
        int prot = prots[rnd() % 3];
        if (all_mapped) {
          if (mprotect(p, n * PAGE, prot) != 0)
            FAILF("op %d: mprotect page %d x%d errno %d want 0", op, a, n, errno);
          for (int i = a; i < a + n; i++) prot_of[i] = prot;
        } else if (prot_of[a] == UNMAPPED) {
          /* Starts in a hole: ENOMEM and nothing changes. */
          errno = 0;
          long r = syscall(SYS_mprotect, p, n * PAGE, prot);
          if (r != -1 || errno != ENOMEM)
            FAILF("op %d: mprotect from hole page %d x%d got %ld errno %d want ENOMEM", op, a, n, r, errno);
        } else {
          kind = 4; /* partial ranges have unspecified partial effects: skip */
          n = 0;
        }
        break;
      }
      case 3: /* write a tag into each writable page */
        for (int i = a; i < a + n; i++) {
          if (prot_of[i] != (PROT_READ | PROT_WRITE)) continue;
          uint64_t t = ((uint64_t)(op + 1) << 8) | (uint64_t)i;
          char *pg = base + (size_t)i * PAGE;
          *(volatile uint64_t *)pg = t;
          *(volatile uint64_t *)(pg + PAGE - 8) = t;
          tag_of[i] = t;
        }
        break;
      case 4: /* MADV_DONTNEED drops private anonymous contents */
        if (all_mapped) {
          if (madvise(p, n * PAGE, MADV_DONTNEED) != 0)
            FAILF("op %d: madvise page %d x%d errno %d", op, a, n, errno);
          for (int i = a; i < a + n; i++) tag_of[i] = 0;
        } else {
          n = 0;
        }
        break;
    }
    counts[kind]++;
    verify_range(a, n, op);
    if (op % 25 == 24) verify_range(0, NPAGES, op);
  }
  verify_range(0, NPAGES, NOPS);
  CHECK_OK(munmap(base, NPAGES * PAGE), "munmap window");
  for (int i = 0; i < NPAGES; i++) prot_of[i] = UNMAPPED;
  verify_range(0, NPAGES, NOPS + 1);
  printf("mmap_stress: map %d unmap %d protect %d write %d dontneed/skip %d\n", counts[0], counts[1],
         counts[2], counts[3], counts[4]);
  CHECK(counts[0] > 20 && counts[1] > 20 && counts[2] > 20, "every operation kind exercised");
  return check_finish();
}
