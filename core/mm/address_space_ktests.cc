// In-kernel tests of application address spaces, demand paging and the
// copy helpers (--test=vm, docs/address-space.md). Each test creates an
// address space, activates it, and checks that every page went back to the
// page allocator once it is destroyed.
#include "arch/x64/cpu/x64.h"
#include "core/address_space.h"
#include "lib/ktest.h"
#include "core/mm.h"
#include "arch/uaccess.h"
#include "core/mm/address_space.h"
#include "core/mm/mm_internal.h"

namespace capsule {
namespace {

using namespace mm;

constexpr uintptr_t P = PAGE_SIZE;
constexpr uint32_t RW = VM_READ | VM_WRITE;

uint64_t free_pages_now() {
  kernel_heap_trim();
  return memory_stats().free_bytes / PAGE_SIZE;
}

// An address space made current for the test's lifetime; checks on the way
// out that everything it held went back to the allocator.
class TestSpace {
 public:
  TestSpace() : free0_(free_pages_now()) {
    auto r = AddressSpace::create();
    KEXPECT(r.ok());
    as_ = r.value_or(nullptr);
    if (as_) as_->activate();
  }
  ~TestSpace() {
    AddressSpace::destroy(as_);
    KEXPECT(current_address_space() == nullptr);
    uint64_t now = free_pages_now();
    if (now != free0_) kprint("vm: {} pages before, {} after\n", free0_, now);
    KEXPECT(now == free0_);
  }
  AddressSpace* operator->() { return as_; }
  explicit operator bool() const { return as_ != nullptr; }

 private:
  uint64_t free0_;
  AddressSpace* as_ = nullptr;
};

MapRequest anon(uintptr_t addr, size_t len, uint32_t prot, Placement pl = Placement::Fixed) {
  MapRequest r;
  r.addr = addr;
  r.len = len;
  r.prot = prot;
  r.placement = pl;
  return r;
}

template <typename T>
T* ptr(uintptr_t a) {
  return reinterpret_cast<T*>(a);
}

uint64_t g_rng = 0x9e3779b97f4a7c15ull;
uint64_t rnd(uint64_t n) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng % n;
}

}  // namespace

KTEST(vm_demand_paging) {
  TestSpace as;
  if (!as) return;
  KEXPECT(as->root() != kernel_root());
  KEXPECT(x64::read_cr3() == as->root());
  constexpr size_t N = 16;
  auto a = as->mmap(anon(0, N * P, RW, Placement::Hint));
  KEXPECT(a.ok());
  if (!a) return;
  KEXPECT(*a >= USER_START && *a + N * P <= USER_END);
  KEXPECT(as->resident_pages() == 0);
  // Direct access, as the application would: one fault per page, zeros first.
  for (size_t i = 0; i < N; ++i) {
    volatile uint64_t* p = ptr<volatile uint64_t>(*a + i * P + 8 * i);
    KEXPECT(*p == 0);
    *p = 0xabc000 + i;
  }
  KEXPECT(as->fault_count() == N);
  KEXPECT(as->resident_pages() == N);
  for (size_t i = 0; i < N; ++i) KEXPECT(*ptr<volatile uint64_t>(*a + i * P + 8 * i) == 0xabc000 + i);
  KEXPECT(as->fault_count() == N);  // no more faults once mapped
  // The pages are supervisor pages with the VMA's permissions.
  x64::Translation t = translate_in(as->root(), *a);
  KEXPECT(t.present && t.writable && !t.executable && !(t.entry & x64::PTE_USER));
  KEXPECT(t.entry & PTE_SW_ANON);
  KEXPECT(frame_of(t.phys & ~(P - 1)).next == 1);
  // The kernel half is the kernel's.
  KEXPECT(translate_in(as->root(), KERNEL_VMA + 0x100000).present);
  kprint("vm.demand_paging: {} pages at {:#x}, {} faults\n", N, *a, as->fault_count());
}

KTEST(vm_protect_and_copy_helpers) {
  TestSpace as;
  if (!as) return;
  const uintptr_t a = 0x10000000;
  KEXPECT(as->mmap(anon(a, 4 * P, RW)).ok());
  const char msg[] = "hello, capsule";
  // A lazily mapped page: the copy faults it in and succeeds.
  KEXPECT(copy_to_user(ptr<void>(a + P - 4), msg, sizeof(msg)).ok());  // across two pages
  KEXPECT(as->fault_count() == 2);
  char buf[32] = {};
  KEXPECT(copy_from_user(buf, ptr<void>(a + P - 4), sizeof(msg)).ok());
  KEXPECT(__builtin_memcmp(buf, msg, sizeof(msg)) == 0);
  // strncpy_from_user: length, too long, runs into unmapped memory.
  auto n = strncpy_from_user(buf, ptr<char>(a + P - 4), sizeof(buf));
  KEXPECT(n.ok() && *n == sizeof(msg) - 1);
  KEXPECT(strncpy_from_user(buf, ptr<char>(a + P - 4), 5).error() == Error::TooBig);
  KEXPECT(strncpy_from_user(buf, ptr<char>(a + P - 4), sizeof(msg)).ok());
  KEXPECT(strncpy_from_user(buf, ptr<char>(a + P - 4), sizeof(msg) - 1).error() == Error::TooBig);
  // get_user/put_user/clear_user.
  KEXPECT(put_user(ptr<uint64_t>(a + 2 * P), uint64_t(77)).ok());
  KEXPECT(get_user(ptr<const uint64_t>(a + 2 * P)).value_or(0) == 77);
  KEXPECT(clear_user(ptr<void>(a + 2 * P), 8).ok());
  KEXPECT(get_user(ptr<const uint64_t>(a + 2 * P)).value_or(1) == 0);

  // Read-only: copy_to_user fails, copy_from_user works.
  KEXPECT(as->mprotect(a, 4 * P, VM_READ).ok());
  KEXPECT(copy_to_user(ptr<void>(a + P - 4), "x", 1).error() == Error::Fault);
  KEXPECT(put_user(ptr<uint64_t>(a + 3 * P), uint64_t(1)).error() == Error::Fault);  // not yet faulted in
  KEXPECT(copy_from_user(buf, ptr<void>(a + P - 4), sizeof(msg)).ok());
  KEXPECT(__builtin_memcmp(buf, msg, sizeof(msg)) == 0);
  KEXPECT(!translate_in(as->root(), a).writable);
  // PROT_NONE keeps the contents; back to RW sees them again.
  KEXPECT(as->mprotect(a, 4 * P, 0).ok());
  KEXPECT(copy_from_user(buf, ptr<void>(a + P - 4), 1).error() == Error::Fault);
  KEXPECT(!translate_in(as->root(), a).present);
  KEXPECT(as->mprotect(a, 4 * P, RW).ok());
  KEXPECT(copy_from_user(buf, ptr<void>(a + P - 4), sizeof(msg)).ok());
  KEXPECT(__builtin_memcmp(buf, msg, sizeof(msg)) == 0);

  // Unmapped: Fault, and the pages went back (checked by TestSpace too).
  const uint64_t resident = as->resident_pages();
  KEXPECT(as->munmap(a, P).ok());
  KEXPECT(as->resident_pages() == resident - 1);
  KEXPECT(copy_from_user(buf, ptr<void>(a), 1).error() == Error::Fault);
  KEXPECT(copy_from_user(buf, ptr<void>(a + P - 4), 8).error() == Error::Fault);
  KEXPECT(copy_from_user(buf, ptr<void>(a + P), 8).ok());
  // Kernel addresses and ranges leaving the lower half: Fault, not read.
  KEXPECT(copy_from_user(buf, ptr<void>(KERNEL_VMA), 8).error() == Error::Fault);
  KEXPECT(copy_to_user(ptr<void>(DIRECT_MAP_BASE), buf, 8).error() == Error::Fault);
  KEXPECT(copy_from_user(buf, ptr<void>(USER_END - 4), 8).error() == Error::Fault);
  KEXPECT(copy_from_user(buf, ptr<void>(0), 8).error() == Error::Fault);
  KEXPECT(strncpy_from_user(buf, ptr<char>(KERNEL_VMA), 8).error() == Error::Fault);
  KEXPECT(copy_from_user(buf, ptr<void>(KERNEL_VMA), 0).error() == Error::Fault);
  KEXPECT(copy_from_user(buf, ptr<void>(0x1000), 0).ok());  // nothing to copy
}

KTEST(vm_map_fixed_over_the_middle) {
  TestSpace as;
  if (!as) return;
  const uintptr_t a = 0x10000000;
  KEXPECT(as->mmap(anon(a, 8 * P, RW)).ok());
  for (int i = 0; i < 8; ++i) *ptr<volatile uint32_t>(a + i * P) = 100 + i;
  KEXPECT(as->resident_pages() == 8);
  KEXPECT(as->mmap(anon(a + 3 * P, 2 * P, VM_READ)).value_or(0) == a + 3 * P);
  KEXPECT(as->vma_count() == 3);
  KEXPECT(as->resident_pages() == 6);
  for (int i = 0; i < 8; ++i) {
    uint32_t want = (i == 3 || i == 4) ? 0 : 100 + i;
    KEXPECT(*ptr<volatile uint32_t>(a + i * P) == want);
  }
  KEXPECT(put_user(ptr<uint32_t>(a + 3 * P), 1u).error() == Error::Fault);
  // NOREPLACE over it: Exists, nothing changed.
  KEXPECT(as->mmap(anon(a + 2 * P, P, RW, Placement::FixedNoReplace)).error() == Error::Exists);
  KEXPECT(*ptr<volatile uint32_t>(a + 2 * P) == 102);
}

KTEST(vm_brk) {
  TestSpace as;
  if (!as) return;
  const uintptr_t bss_end = 0x00600123;
  as->set_brk_base(bss_end);
  const uintptr_t start = 0x00601000;
  KEXPECT(as->brk(0) == start);
  KEXPECT(as->brk(start + 5 * P) == start + 5 * P);
  for (int i = 0; i < 5; ++i) *ptr<volatile uint32_t>(start + i * P) = 7;
  KEXPECT(as->brk(start + 2 * P + 10) == start + 2 * P + 10);
  KEXPECT(as->resident_pages() == 3);
  uint32_t v;
  KEXPECT(copy_from_user(&v, ptr<void>(start + 2 * P), 4).ok() && v == 7);
  KEXPECT(copy_from_user(&v, ptr<void>(start + 3 * P), 4).error() == Error::Fault);
  KEXPECT(as->brk(start + 5 * P) == start + 5 * P);  // grows back: fresh zero pages
  KEXPECT(copy_from_user(&v, ptr<void>(start + 3 * P), 4).ok() && v == 0);
  KEXPECT(as->brk(start - P) == start + 5 * P);  // below the start: unchanged
  KEXPECT(as->brk(start) == start);
  KEXPECT(as->resident_pages() == 0);
}

KTEST(vm_mremap_moves_contents) {
  TestSpace as;
  if (!as) return;
  const uintptr_t a = 0x10000000;
  KEXPECT(as->mmap(anon(a, 4 * P, RW)).ok());
  KEXPECT(as->mmap(anon(a + 4 * P, P, VM_READ)).ok());  // blocks growth in place
  for (int i = 0; i < 4; ++i) *ptr<volatile uint64_t>(a + i * P + 16) = 0x5500 + i;
  const uint64_t faults = as->fault_count();
  auto b = as->mremap(a, 4 * P, 16 * P, REMAP_MAYMOVE, 0);
  KEXPECT(b.ok() && *b != a);
  if (!b) return;
  for (int i = 0; i < 4; ++i) KEXPECT(*ptr<volatile uint64_t>(*b + i * P + 16) == 0x5500u + i);
  KEXPECT(as->fault_count() == faults);  // the pages moved, not copied
  KEXPECT(*ptr<volatile uint64_t>(*b + 10 * P) == 0);
  uint64_t v;
  KEXPECT(copy_from_user(&v, ptr<void>(a), 8).error() == Error::Fault);
  // Shrink in place, grow in place.
  KEXPECT(as->mremap(*b, 16 * P, 2 * P, 0, 0).value_or(0) == *b);
  KEXPECT(copy_from_user(&v, ptr<void>(*b + 2 * P), 8).error() == Error::Fault);
  KEXPECT(as->mremap(*b, 2 * P, 3 * P, 0, 0).value_or(0) == *b);
  KEXPECT(*ptr<volatile uint64_t>(*b + P + 16) == 0x5501);
  KEXPECT(*ptr<volatile uint64_t>(*b + 2 * P + 16) == 0);
}

KTEST(vm_populate_mincore_mlock_discard) {
  TestSpace as;
  if (!as) return;
  const uintptr_t a = 0x10000000;
  KEXPECT(as->mmap(anon(a, 8 * P, RW), true).ok());  // MAP_POPULATE
  KEXPECT(as->resident_pages() == 8);
  *ptr<volatile uint32_t>(a) = 1;
  KEXPECT(as->fault_count() == 0);
  uint8_t vec[8];
  KEXPECT(as->discard(a + 2 * P, 3 * P).ok());  // MADV_DONTNEED
  KEXPECT(as->mincore(a, 8 * P, vec).ok());
  KEXPECT(vec[0] == 1 && vec[1] == 1 && vec[2] == 0 && vec[4] == 0 && vec[5] == 1);
  KEXPECT(as->mincore(a, 9 * P, vec).error() == Error::NoMemory);
  KEXPECT(as->mincore(a + 1, P, vec).error() == Error::Invalid);
  KEXPECT(as->mlock(a + 2 * P + 5, P).ok());  // rounds down: pages 2 and 3
  KEXPECT(as->mincore(a, 8 * P, vec).ok());
  KEXPECT(vec[2] == 1 && vec[3] == 1 && vec[4] == 0);
  KEXPECT(as->discard(a, 8 * P).error() == Error::Invalid);  // locked pages
  KEXPECT(as->munlock(a, 8 * P).ok());
  KEXPECT(as->vma_count() == 1);  // flags equal again: merged
  KEXPECT(as->msync(a, 8 * P).ok());
  KEXPECT(as->msync(a, 9 * P).error() == Error::NoMemory);
  KEXPECT(*ptr<volatile uint32_t>(a) == 1);
}

KTEST(vm_stack_grows_down) {
  TestSpace as;
  if (!as) return;
  const uintptr_t top = 0x7ff000000000;
  MapRequest st = anon(top - 4 * P, 4 * P, RW);
  st.flags = VM_GROWSDOWN;
  KEXPECT(as->mmap(st).ok());
  *ptr<volatile uint64_t>(top - 8) = 1;
  *ptr<volatile uint64_t>(top - 20 * P) = 2;  // below the VMA: it grows
  KEXPECT(*ptr<volatile uint64_t>(top - 20 * P) == 2);
  uint64_t v;
  KEXPECT(copy_from_user(&v, ptr<void>(top - 20 * P - 9 * 1024 * 1024), 8).error() == Error::Fault);
  size_t n = 0;
  as->for_each_vma([&](const Vma& vma) {
    ++n;
    KEXPECT(vma.start == top - 20 * P);
  });
  KEXPECT(n == 1);
}

// 1000 random operations in a 64-page window, against a model of every
// page's protection and contents (a tag in its first word).
KTEST(vm_random_against_model) {
  TestSpace as;
  if (!as) return;
  constexpr uintptr_t W = 0x20000000;
  constexpr int PAGES = 64;
  struct Page {
    int prot;  // -1: unmapped
    uint32_t tag;
  };
  static Page model[PAGES];
  for (Page& p : model) p = {-1, 0};
  constexpr uint32_t PROTS[] = {0, VM_READ, RW, RW, VM_READ | VM_EXEC};
  auto at = [](int i) { return W + uintptr_t(i) * P; };
  auto all_same = [&](int s, int n) {
    for (int i = s; i < s + n; ++i)
      if (model[i].prot < 0 || model[i].prot != model[s].prot) return false;
    return true;
  };
  auto all_mapped = [&](int s, int n) {
    for (int i = s; i < s + n; ++i)
      if (model[i].prot < 0) return false;
    return true;
  };
  uint32_t next_tag = 1;
  unsigned counts[8] = {};
  for (int op = 0; op < 1000; ++op) {
    int s = int(rnd(PAGES));
    int n = 1 + int(rnd(8));
    if (s + n > PAGES) n = PAGES - s;
    const unsigned kind = unsigned(rnd(8));
    ++counts[kind];
    switch (kind) {
      case 0: {  // mmap fixed
        uint32_t prot = PROTS[rnd(5)];
        KEXPECT(as->mmap(anon(at(s), n * P, prot)).value_or(0) == at(s));
        for (int i = s; i < s + n; ++i) model[i] = {int(prot), 0};
        break;
      }
      case 1:  // munmap
        KEXPECT(as->munmap(at(s), n * P).ok());
        for (int i = s; i < s + n; ++i) model[i] = {-1, 0};
        break;
      case 2: {  // mprotect
        uint32_t prot = PROTS[rnd(5)];
        auto r = as->mprotect(at(s), n * P, prot);
        if (all_mapped(s, n)) {
          KEXPECT(r.ok());
          for (int i = s; i < s + n; ++i) model[i].prot = int(prot);
        } else {
          KEXPECT(r.error() == Error::NoMemory);
        }
        break;
      }
      case 3:
      case 4: {  // write a page's tag through the helper and directly
        uint32_t tag = next_tag++;
        auto r = put_user(ptr<uint32_t>(at(s)), tag);
        if (model[s].prot >= 0 && (model[s].prot & VM_WRITE)) {
          KEXPECT(r.ok());
          model[s].tag = tag;
          *ptr<volatile uint32_t>(at(s) + 64) = tag;  // the application's way
        } else {
          KEXPECT(r.error() == Error::Fault);
        }
        break;
      }
      case 5: {  // read a page's tag
        auto r = get_user(ptr<const uint32_t>(at(s)));
        if (model[s].prot > 0) {
          KEXPECT(r.ok() && *r == model[s].tag);
        } else {
          KEXPECT(r.error() == Error::Fault);
        }
        break;
      }
      case 6: {  // mremap to a fixed place in the window, or in place
        int old_n = n > 4 ? 4 : n;
        int new_n = 1 + int(rnd(6));
        int d = int(rnd(PAGES - new_n + 1));
        bool fixed = rnd(2);
        uint32_t flags = fixed ? REMAP_MAYMOVE | REMAP_FIXED : 0;
        if (!fixed && s + new_n > PAGES) new_n = PAGES - s;  // stay in the window
        auto r = as->mremap(at(s), old_n * P, new_n * P, flags, at(d));
        if (fixed && d < s + old_n && s < d + new_n) {
          KEXPECT(r.error() == Error::Invalid);
          break;
        }
        if (!all_same(s, old_n)) {
          KEXPECT(r.error() == Error::Fault);
          break;
        }
        if (!fixed && new_n > old_n) {  // grows in place only if the pages after are free
          bool room = true;
          for (int i = s + old_n; room && i < s + new_n; ++i) room = model[i].prot < 0;
          if (!room) {
            KEXPECT(r.error() == Error::NoMemory);
            break;
          }
        }
        KEXPECT(r.ok());
        if (!r) break;
        const int prot = model[s].prot;
        Page moved[8];
        for (int i = 0; i < old_n; ++i) moved[i] = model[s + i];
        for (int i = s; i < s + old_n; ++i) model[i] = {-1, 0};
        int dest = fixed ? d : s;
        KEXPECT(*r == at(dest));
        for (int i = 0; i < new_n; ++i) model[dest + i] = i < old_n ? moved[i] : Page{prot, 0};
        break;
      }
      case 7: {  // MADV_DONTNEED (read-only and PROT_NONE pages lose contents too)
        auto r = as->discard(at(s), n * P);
        for (int i = s; i < s + n; ++i)
          if (model[i].prot >= 0) model[i].tag = 0;
        KEXPECT(all_mapped(s, n) ? r.ok() : r.error() == Error::NoMemory);
        break;
      }
    }
    if (op % 100 == 99) {  // every page, through the helpers
      for (int i = 0; i < PAGES; ++i) {
        auto r = get_user(ptr<const uint32_t>(at(i)));
        if (model[i].prot > 0) {
          KEXPECT(r.ok() && *r == model[i].tag);
          if (model[i].tag) KEXPECT(*ptr<volatile uint32_t>(at(i) + 64) == model[i].tag);
        } else {
          KEXPECT(r.error() == Error::Fault);
        }
      }
    }
  }
  kprint("vm.random_against_model: 1000 ops (map {} unmap {} protect {} write {} read {} remap {} discard {}), "
         "{} faults, {} VMAs\n",
         counts[0], counts[1], counts[2], counts[3] + counts[4], counts[5], counts[6], counts[7],
         as->fault_count(), as->vma_count());
}

namespace {

// A file as the address space sees one (mm::VmBacking): a few real pages
// with a pattern, and a size that can shrink.
class FakeFile final : public VmBacking {
 public:
  static constexpr size_t N = 4;
  FakeFile() {
    for (size_t i = 0; i < N; ++i) {
      auto p = page_alloc(0);
      KEXPECT(p.ok());
      pages[i] = p.value_or(0);
      if (pages[i]) __builtin_memset(phys_to_virt(pages[i]), int('a' + i), P);
    }
  }
  ~FakeFile() {
    for (uint64_t p : pages)
      if (p) page_free(p);
  }
  Result<uint64_t> page(uint64_t off) override {
    if (off >= (size + P - 1) / P * P || !pages[off / P]) return Error::Range;
    return pages[off / P];
  }
  void retain() override { ++refs; }
  void release() override { --refs; }
  char byte(size_t page, size_t at) { return static_cast<char*>(phys_to_virt(pages[page]))[at]; }

  uint64_t pages[N] = {};
  uint64_t size = N * P;
  int refs = 0;
};

}  // namespace

KTEST(vm_file_mappings) {
  FakeFile f;  // first: its pages are not the address space's to return
  TestSpace as;
  if (!as) return;
  const uintptr_t a = 0x20000000, b = 0x28000000;
  MapRequest priv = anon(a, FakeFile::N * P, RW);
  priv.backing = &f;
  KEXPECT(as->mmap(priv).ok());
  KEXPECT(f.refs == 1 && f.vm_maps.load() == 1);
  // Filled at mmap: the file's own pages, read-only, copy-on-write.
  for (size_t i = 0; i < FakeFile::N; ++i) {
    x64::Translation t = translate_in(as->root(), a + i * P);
    KEXPECT(t.present && !t.writable && (t.phys & ~(P - 1)) == f.pages[i]);
    KEXPECT((t.entry & PTE_SW_COW) && !(t.entry & PTE_SW_ANON));
  }
  KEXPECT(*ptr<volatile char>(a + 5) == 'a');
  // The first write copies the page; the file keeps its bytes.
  *ptr<volatile char>(a + 5) = 'X';
  x64::Translation t0 = translate_in(as->root(), a);
  KEXPECT(t0.writable && (t0.entry & PTE_SW_ANON) && (t0.phys & ~(P - 1)) != f.pages[0]);
  KEXPECT(*ptr<volatile char>(a + 5) == 'X' && *ptr<volatile char>(a + 6) == 'a' && f.byte(0, 5) == 'a');
  // A copy helper writing into a private file page copies it too.
  KEXPECT(copy_to_user(ptr<void>(a + P + 10), "kern", 4).ok());
  KEXPECT(f.byte(1, 10) == 'b' && *ptr<volatile char>(a + P + 10) == 'k');
  // mprotect keeps an uncopied page read-only.
  KEXPECT(as->mprotect(a + 2 * P, P, VM_READ).ok());
  KEXPECT(as->mprotect(a + 2 * P, P, RW).ok());
  KEXPECT(!translate_in(as->root(), a + 2 * P).writable);

  // Shared: the file's pages, writable; stores land in the file.
  MapRequest shared = anon(b, FakeFile::N * P, RW);
  shared.backing = &f;
  shared.flags = VM_SHARED;
  KEXPECT(as->mmap(shared).ok());
  KEXPECT(f.refs == 2 && f.vm_maps.load() == 2);
  x64::Translation ts = translate_in(as->root(), b + 3 * P);
  KEXPECT(ts.present && ts.writable && (ts.phys & ~(P - 1)) == f.pages[3] && !(ts.entry & PTE_SW_ANON));
  *ptr<volatile char>(b + 3 * P + 1) = 'S';
  KEXPECT(f.byte(3, 1) == 'S');
  KEXPECT(*ptr<volatile char>(a + 3 * P + 1) == 'S');  // the private view was never written there

  // The file shrinks to a page and a bit: every mapping loses pages 2 and 3.
  f.size = P + 100;
  backing_shrinking(f, f.size);
  for (uintptr_t base : {a, b}) {
    KEXPECT(translate_in(as->root(), base + P).present);
    KEXPECT(!translate_in(as->root(), base + 2 * P).present);
    KEXPECT(!translate_in(as->root(), base + 3 * P).present);
  }
  // A touch there finds nothing in the file: SIGBUS for the program.
  KEXPECT(as->handle_fault(b + 3 * P, 0) == UserFault::BusError);
  KEXPECT(as->handle_fault(a + 2 * P, 2) == UserFault::BusError);
  // It grows back: the page is found again from thread context.
  f.size = FakeFile::N * P;
  KEXPECT(as->handle_fault(b + 2 * P, 0) == UserFault::None);
  KEXPECT((translate_in(as->root(), b + 2 * P).phys & ~(P - 1)) == f.pages[2]);

  // MADV_DONTNEED drops the private copies: the file shows again.
  KEXPECT(as->discard(a, 2 * P).ok());
  KEXPECT(*ptr<volatile char>(a + 5) == 'a' && *ptr<volatile char>(a + P + 10) == 'b');
  KEXPECT((translate_in(as->root(), a).phys & ~(P - 1)) == f.pages[0]);

  KEXPECT(as->munmap(a, FakeFile::N * P).ok());
  KEXPECT(as->munmap(b + P, P).ok());  // splits the shared VMA in two
  KEXPECT(f.vm_maps.load() == 2 && f.refs == 2);
  KEXPECT(as->munmap(b, FakeFile::N * P).ok());
  KEXPECT(f.vm_maps.load() == 0 && f.refs == 0);
}

namespace {
}  // namespace

KTEST(vm_many_spaces_return_memory) {
  const uint64_t free0 = free_pages_now();
  for (int round = 0; round < 20; ++round) {
    auto r = AddressSpace::create();
    KEXPECT(r.ok());
    if (!r) return;
    AddressSpace* as = *r;
    as->activate();
    for (int i = 0; i < 10; ++i) {
      auto a = as->mmap(anon(0, (1 + i) * 3 * P, RW, Placement::Hint), i % 2);
      KEXPECT(a.ok());
      if (a) *ptr<volatile uint8_t>(*a + P) = 1;
    }
    // Far apart: several page tables per space.
    KEXPECT(as->mmap(anon(0x400000, P, RW)).ok());
    *ptr<volatile uint8_t>(0x400000) = 1;
    AddressSpace::destroy(as);
  }
  KEXPECT(free_pages_now() == free0);
}

// Deliberate faults (tests/guest/vm.cmake): the default on_user_fault panics.
KTEST_FAULT(vm_segfault_write_readonly) {
  auto r = AddressSpace::create();
  if (!r) return;
  (*r)->activate();
  const uintptr_t a = 0x30000000;
  KEXPECT((*r)->mmap(anon(a, P, VM_READ)).ok());
  kprint("vm.segfault_write_readonly: writing to {:#x}\n", a + 16);
  *ptr<volatile uint32_t>(a + 16) = 1;
  KEXPECT(!"the write did not fault");
}

KTEST_FAULT(vm_segfault_no_mapping) {
  auto r = AddressSpace::create();
  if (!r) return;
  (*r)->activate();
  kprint("vm.segfault_no_mapping: reading {:#x}\n", 0x12345678);
  (void)*ptr<volatile uint32_t>(0x12345678);
  KEXPECT(!"the read did not fault");
}

}  // namespace capsule
