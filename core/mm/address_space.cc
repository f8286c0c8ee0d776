// Application address spaces: VMAs (core/mm/vma.h) over a private lower
// half of a page table, filled on demand. docs/address-space.md.
#include "core/address_space.h"
#include "arch/percpu.h"

#include <atomic>
#include <new>

#include "arch/x64/cpu/trap_frame.h"
#include "arch/x64/cpu/x64.h"
#include "core/mm.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "arch/arch.h"
#include "arch/power.h"
#include "lib/symbols.h"
#include "core/mm/address_space.h"
#include "core/mm/mm_internal.h"
#include "core/sched/thread.h"
#include "core/thread.h"
#include "core/stats.h"
#include "core/trace.h"

namespace capsule {
namespace {

using namespace mm;

constexpr uintptr_t page_down(uintptr_t v) { return v & ~uintptr_t(PAGE_SIZE - 1); }
constexpr uintptr_t page_up(uintptr_t v) { return (v + PAGE_SIZE - 1) & ~uintptr_t(PAGE_SIZE - 1); }
constexpr uintptr_t min(uintptr_t a, uintptr_t b) { return a < b ? a : b; }
constexpr uintptr_t max(uintptr_t a, uintptr_t b) { return a > b ? a : b; }

// Up to this many pages are flushed one by one (invlpg); more reload CR3.
constexpr size_t FLUSH_PAGES_MAX = 32;
constexpr unsigned KERNEL_HALF_FIRST = 256;  // PML4 index of 0xffff800000000000

x64::TableMemory& tables() { return mm::live_tables(); }

// The address space loaded on a CPU is PerCpu::loaded_as (several
// processes run at once: each CPU has its own).
AddressSpace* loaded_here() {
  IrqGuard irq;
  return static_cast<AddressSpace*>(this_cpu()->loaded_as);
}
std::atomic<UserFaultHandler> g_fault_handler{nullptr};
std::atomic<OutOfMemoryHandler> g_oom_handler{nullptr};
std::atomic<TlbShootdown> g_shootdown{nullptr};

// Every address space, for mm::backing_shrinking (a file truncated under
// its mappings). Lock order: this list, then an address space's lock.
SpinLock g_list_lock;
AddressSpace* g_list = nullptr;

// Destroyed address spaces whose PML4 page and object stay until no CPU
// has them loaded: a CPU that last ran the process and then switched to a
// kernel thread (or idles) keeps its CR3 (docs/process.md, "Exit"). A dead
// space is never loaded again, so once no CPU holds it, none will. At most
// one per CPU lingers. Under g_list_lock.
AddressSpace* g_graveyard = nullptr;

// Thread context with interrupts on: a backing's page() (a sleeping lock)
// may be called. The #PF vector runs with interrupts off on an IST stack.
bool can_sleep() { return x64::read_rflags() & (1u << 9); }

// Calls f(va, pte) for each leaf entry with a page in [start, end), skipping
// missing tables whole.
template <typename F>
void for_each_pte(uint64_t root, uintptr_t start, uintptr_t end, F&& f) {
  for (uintptr_t va = start; va < end;) {
    uint64_t span;
    uint64_t* pte = x64::pte_lookup(tables(), root, va, &span);
    if (!pte) {
      va = (va & ~(span - 1)) + span;
      continue;
    }
    if (pte_has_page(*pte)) f(va, pte);
    va += PAGE_SIZE;
  }
}

// Frees the lower half's tables below a PML4 (not the PML4 itself).
void free_lower_tables(uint64_t root) {
  uint64_t* pml4 = tables().table(root);
  for (unsigned i = 0; i < KERNEL_HALF_FIRST; ++i) {
    if (!(pml4[i] & x64::PTE_PRESENT)) continue;
    uint64_t pdpt_pa = pml4[i] & x64::PTE_ADDR_MASK;
    uint64_t* pdpt = tables().table(pdpt_pa);
    for (unsigned j = 0; j < 512; ++j) {
      if (!(pdpt[j] & x64::PTE_PRESENT) || (pdpt[j] & x64::PTE_HUGE)) continue;
      uint64_t pd_pa = pdpt[j] & x64::PTE_ADDR_MASK;
      uint64_t* pd = tables().table(pd_pa);
      for (unsigned k = 0; k < 512; ++k)
        if ((pd[k] & x64::PTE_PRESENT) && !(pd[k] & x64::PTE_HUGE)) page_free(pd[k] & x64::PTE_ADDR_MASK);
      page_free(pd_pa);
    }
    page_free(pdpt_pa);
    pml4[i] = 0;
  }
}

}  // namespace

namespace mm {

x64::Translation translate_in(uint64_t root, uintptr_t va) { return x64::translate(tables(), root, va); }

namespace {
std::atomic<uint64_t> g_zero_page{0};
}  // namespace

uint64_t zero_page_phys() {
  if (uint64_t z = g_zero_page.load(std::memory_order_acquire)) return z;
  auto pa = page_alloc(0);
  if (!pa) panic("mm: no page for the zero page");
  __builtin_memset(phys_to_virt(*pa), 0, PAGE_SIZE);
  uint64_t expected = 0;
  if (!g_zero_page.compare_exchange_strong(expected, *pa, std::memory_order_acq_rel)) {
    page_free(*pa);
    return expected;
  }
  return *pa;
}

Result<uint64_t> anon_page_alloc() {
  uint64_t pa = TRY(page_alloc(0));
  __builtin_memset(phys_to_virt(pa), 0, PAGE_SIZE);
  __atomic_store_n(&frame_of(pa).next, 1u, __ATOMIC_RELAXED);
  return pa;
}

// Atomic: after fork a page is counted by page tables of several address
// spaces, each under its own lock.
void anon_page_get(uint64_t phys) { __atomic_add_fetch(&frame_of(phys).next, 1u, __ATOMIC_RELAXED); }

uint32_t anon_page_refs(uint64_t phys) { return __atomic_load_n(&frame_of(phys).next, __ATOMIC_ACQUIRE); }

void anon_page_put(uint64_t phys) {
  PageFrame& f = frame_of(phys);
  uint32_t left = __atomic_sub_fetch(&f.next, 1u, __ATOMIC_ACQ_REL);
  if (left == ~0u) panic("anon_page_put: page {:#x} has no references", phys);
  if (left == 0) page_free(phys);
}

}  // namespace mm

const char* user_fault_name(UserFault f) {
  switch (f) {
    case UserFault::None: return "handled";
    case UserFault::NoMapping: return "no mapping";
    case UserFault::WriteToReadOnly: return "write to read-only";
    case UserFault::ExecOfNx: return "exec of NX";
    case UserFault::NoAccess: return "no access";
    case UserFault::OutOfMemory: return "out of memory";
    case UserFault::BusError: return "bus error";
  }
  return "?";
}

// ---- life cycle -----------------------------------------------------------

Result<AddressSpace*> AddressSpace::create() {
  auto* as = new (std::nothrow) AddressSpace;
  if (!as) return Error::NoMemory;
  auto root = tables().alloc_table();
  if (!root) {
    delete as;
    return Error::NoMemory;
  }
  // The kernel half: the same PDPTs as the kernel's own PML4. mm_init gives
  // every kernel-half slot that can ever be used its PDPT, so this copy
  // never goes stale.
  const uint64_t* kernel = tables().table(kernel_root());
  uint64_t* mine = tables().table(*root);
  for (unsigned i = KERNEL_HALF_FIRST; i < 512; ++i) mine[i] = kernel[i];
  as->root_ = *root;
  {
    SpinGuard g(g_list_lock);
    as->next_in_list_ = g_list;
    g_list = as;
  }
  mm::g_backing_shrink_hook.store(shrink_all, std::memory_order_release);
  mm::g_backing_filled_hook.store(filled_all, std::memory_order_release);
  mm::g_backing_punch_hook.store(punched_all, std::memory_order_release);
  return as;
}

namespace {
bool loaded_anywhere(const AddressSpace* as) {
  for (uint32_t i = 0; i < MAX_CPUS; ++i) {
    PerCpu* c = cpu_by_index(i);
    if (!c) break;
    if (__atomic_load_n(&c->loaded_as, __ATOMIC_ACQUIRE) == as) return true;
  }
  return false;
}
}  // namespace

void AddressSpace::destroy(AddressSpace* as) {
  if (!as) return;
  if (loaded_here() == as) activate_kernel();
  {
    SpinGuard g(g_list_lock);
    for (AddressSpace** p = &g_list; *p; p = &(*p)->next_in_list_)
      if (*p == as) {
        *p = as->next_in_list_;
        break;
      }
  }
  {
    EditGuard g(*as);
    as->vmas_.clear(*as);
    // Every CPU drops its cached translations (and paging-structure
    // entries) of this space before its tables are freed.
    as->flush(0, USER_END);
    free_lower_tables(as->root_);
  }
  // The root and the object go once no CPU has them loaded: now, or at a
  // later destroy (the graveyard).
  AddressSpace* free_now = nullptr;
  {
    SpinGuard g(g_list_lock);
    as->next_in_list_ = g_graveyard;
    g_graveyard = as;
    for (AddressSpace** p = &g_graveyard; *p;) {
      AddressSpace* d = *p;
      if (loaded_anywhere(d)) {
        p = &d->next_in_list_;
        continue;
      }
      *p = d->next_in_list_;
      d->next_in_list_ = free_now;
      free_now = d;
    }
  }
  while (AddressSpace* d = free_now) {
    free_now = d->next_in_list_;
    page_free(d->root_);
    delete d;
  }
}

// fork(2): the child gets the same VMAs; private anonymous pages are
// shared read-only with PTE_SW_COW and a reference each, and copied by the
// first write on either side (fault_in); shared mappings and file pages
// map the same page in both. Shared anonymous memory is faulted in first,
// so parent and child find the same pages there later too.
Result<AddressSpace*> AddressSpace::fork() {
  AddressSpace* child = TRY(create());
  if (auto r = fork_into(*child); !r.ok()) {
    destroy(child);
    return r.error();
  }
  return child;
}

Result<void> AddressSpace::fork_into(AddressSpace& c) {
  SpinGuard g(lock_);
  for (Vma* v = vmas_.first(); v; v = VmaSet::next(*v))
    if (v->anonymous() && (v->flags & VM_SHARED) && !(v->flags & VM_DONTCOPY) && (v->prot & VM_PROT_MASK))
      TRY(populate_locked(v->start, v->end));
  // The child is not reachable yet (only the list of every space, whose
  // walkers take one space's lock at a time): taking its lock here cannot
  // deadlock.
  SpinGuard gc(c.lock_);
  TRY(c.vmas_.copy_from(vmas_));
  Result<void> ok;
  bool made_cow = false;
  uint64_t copied = 0;
  for (Vma* v = vmas_.first(); v && ok.ok(); v = VmaSet::next(*v)) {
    // madvise(2): MADV_DONTFORK leaves the range out of the child (no VMA,
    // copy_from skipped it); MADV_WIPEONFORK gives it the VMA without the
    // pages, so its first touch sees zeros.
    if (v->flags & (VM_DONTCOPY | VM_WIPEONFORK)) continue;
    const bool shared = v->flags & VM_SHARED;
    for_each_pte(root_, v->start, v->end, [&](uintptr_t va, uint64_t* pte) {
      if (!ok.ok()) return;
      auto slot = x64::pte_create(tables(), c.root_, va);
      if (!slot) {
        ok = slot.error();
        return;
      }
      uint64_t e = *pte;
      if (e & PTE_SW_ANON) {
        if (!shared && !(e & PTE_SW_COW)) {
          e = (e | PTE_SW_COW) & ~x64::PTE_WRITE;
          *pte = e;
          made_cow = true;
        }
        anon_page_get(e & x64::PTE_ADDR_MASK);
      }
      **slot = e & ~(x64::PTE_ACCESSED | x64::PTE_DIRTY);
      ++copied;
    });
  }
  c.resident_ += copied;
  // The parent's threads on other CPUs must stop writing through the old
  // writable entries.
  if (made_cow) flush(0, USER_END);
  return ok;
}

void AddressSpace::activate() {
  IrqGuard irq;
  x64::write_cr3(root_);
  __atomic_store_n(&this_cpu()->loaded_as, static_cast<void*>(this), __ATOMIC_RELEASE);
}

void AddressSpace::activate_kernel() {
  IrqGuard irq;
  x64::write_cr3(kernel_root());
  __atomic_store_n(&this_cpu()->loaded_as, static_cast<void*>(nullptr), __ATOMIC_RELEASE);
}

uint64_t AddressSpace::fault_count() {
  SpinGuard g(lock_);
  return faults_;
}

uintptr_t AddressSpace::brk_start() {
  SpinGuard g(lock_);
  return vmas_.brk_start();
}

uintptr_t AddressSpace::brk_end() {
  SpinGuard g(lock_);
  return vmas_.brk_current();
}

uint64_t AddressSpace::resident_pages() {
  SpinGuard g(lock_);
  return resident_;
}

size_t AddressSpace::peek(uintptr_t addr, void* out, size_t len) {
  SpinGuard g(lock_);
  size_t done = 0;
  while (done < len) {
    const uintptr_t va = addr + done;
    if (va < addr || va >= USER_END) break;  // wrapped, or past the application half
    uint64_t* pte = x64::pte_lookup(tables(), root_, page_down(va), nullptr);
    if (!pte || !pte_has_page(*pte)) break;
    const size_t off = va & (PAGE_SIZE - 1);
    const size_t n = PAGE_SIZE - off < len - done ? PAGE_SIZE - off : len - done;
    __builtin_memcpy(static_cast<char*>(out) + done,
                     static_cast<const char*>(phys_to_virt(*pte & x64::PTE_ADDR_MASK)) + off, n);
    done += n;
  }
  return done;
}

uint64_t AddressSpace::peak_resident_pages() {
  SpinGuard g(lock_);
  return peak_resident_;
}

size_t AddressSpace::vma_count() {
  SpinGuard g(lock_);
  return vmas_.count();
}

AddressSpace* current_address_space() {
  // An application thread's own (stable across migration); otherwise what
  // this CPU has loaded (kernel threads, the in-kernel tests).
  Thread* t = thread_current();
  if (t && t->as) return t->as;
  return loaded_here();
}

void set_tlb_shootdown(TlbShootdown fn) { g_shootdown.store(fn); }

void AddressSpace::flush(uintptr_t start, uintptr_t end) {
  if (start >= end) return;
  if (loaded_here() == this) {
    if ((end - start) / PAGE_SIZE <= FLUSH_PAGES_MAX) {
      for (uintptr_t va = start; va < end; va += PAGE_SIZE) x64::invlpg(va);
    } else {
      x64::write_cr3(x64::read_cr3());  // drops every non-global entry
    }
  }
  if (TlbShootdown fn = g_shootdown.load(std::memory_order_relaxed)) fn(this, start, end);
}

// ---- VmaObserver ----------------------------------------------------------

// Entries are cleared and flushed before the pages go back to the allocator,
// so no CPU can still write to a page that has a new owner. Pages are freed
// in batches to bound the list.
void AddressSpace::unmap_pages(const Vma&, uintptr_t start, uintptr_t end) {
  constexpr size_t BATCH = 64;
  uint64_t pages[BATCH];
  size_t n = 0;
  uintptr_t batch_start = start;
  uint64_t dropped = 0;  // counted here: the lambda is outside the lock analysis
  for_each_pte(root_, start, end, [&](uintptr_t va, uint64_t* pte) {
    uint64_t e = *pte;
    *pte = 0;
    ++dropped;
    if (!(e & PTE_SW_ANON)) return;  // the backing's page
    pages[n++] = e & x64::PTE_ADDR_MASK;
    if (n == BATCH) {
      flush(batch_start, va + PAGE_SIZE);
      for (size_t i = 0; i < n; ++i) anon_page_put(pages[i]);
      n = 0;
      batch_start = va + PAGE_SIZE;
    }
  });
  flush(batch_start, end);
  for (size_t i = 0; i < n; ++i) anon_page_put(pages[i]);
  resident_ -= dropped;
}

void AddressSpace::protect_pages(uintptr_t start, uintptr_t end, uint32_t prot) {
  for_each_pte(root_, start, end, [&](uintptr_t, uint64_t* pte) {
    *pte = reprotect_pte(*pte, prot);
  });
  flush(start, end);
}

// Two passes, so a failure leaves everything where it was: first the
// destination's tables, then the entries.
Result<void> AddressSpace::move_pages(uintptr_t from, uintptr_t to, size_t len) {
  Result<void> ok;
  for_each_pte(root_, from, from + len, [&](uintptr_t va, uint64_t*) {
    if (ok.ok()) {
      auto slot = x64::pte_create(tables(), root_, to + (va - from));
      if (!slot) ok = slot.error();
    }
  });
  TRY(ok);
  for_each_pte(root_, from, from + len, [&](uintptr_t va, uint64_t* pte) {
    uint64_t* dst = x64::pte_lookup(tables(), root_, to + (va - from), nullptr);
    *dst = *pte & ~(x64::PTE_ACCESSED | x64::PTE_DIRTY);
    *pte = 0;
  });
  flush(from, from + len);
  return {};
}

// ---- demand paging --------------------------------------------------------

// Under the lock. Serves anonymous pages and pages already in the table
// (refresh, copy-on-write); a file page not mapped yet is BusError here:
// the callers fetch it without the lock (fill_file_pages).
UserFault AddressSpace::fault_in(Vma& vma, uintptr_t page, bool write, uint32_t* kind) {
  auto slot = x64::pte_create(tables(), root_, page);
  if (!slot) return UserFault::OutOfMemory;
  uint64_t* pte = *slot;
  const uint64_t e = *pte;
  if (pte_has_page(e)) {
    if (write && (e & PTE_SW_COW) && (vma.prot & VM_WRITE)) {
      const uint64_t old = e & x64::PTE_ADDR_MASK;
      // An anonymous page shared by fork that no other page table maps any
      // more: this space takes it back, writable, without a copy. (Only a
      // fork of this space, under this lock, could add a reference.)
      if ((e & PTE_SW_ANON) && anon_page_refs(old) == 1) {
        *pte = make_pte(old, vma.prot, true);
        x64::invlpg(page);  // a stricter entry may be cached; widening needs no shoot-down
        *kind = stats::FAULT_COW_REUSE;
        return UserFault::None;
      }
      // The first write to a private mapping's file page, or to an
      // anonymous page fork shares: the mapping gets its own copy from now
      // on (mmap(2) MAP_PRIVATE; fork(2) copy-on-write). A file page is
      // alive: shrinking the file unmaps it under this lock before the file
      // frees it; a shared anonymous page holds our reference until the put.
      auto p = anon_page_alloc();
      if (!p) return UserFault::OutOfMemory;
      __builtin_memcpy(phys_to_virt(*p), phys_to_virt(old), PAGE_SIZE);
      *pte = make_pte(*p, vma.prot, true);
      flush(page, page + PAGE_SIZE);  // other CPUs may hold the read-only page
      if (e & PTE_SW_ANON) anon_page_put(old);
      *kind = stats::FAULT_COW_COPY;
      return UserFault::None;
    }
    // Already there: another CPU won the race, or this CPU's TLB held an
    // older, stricter entry. Bring the entry in line with the VMA.
    uint64_t want = reprotect_pte(e, vma.prot);
    if ((e & ~(x64::PTE_ACCESSED | x64::PTE_DIRTY)) != want) *pte = want;
    x64::invlpg(page);
    *kind = stats::FAULT_SPURIOUS;
    return UserFault::None;
  }
  if (!vma.anonymous()) return UserFault::BusError;
  auto p = anon_page_alloc();
  if (!p) return UserFault::OutOfMemory;
  // Not present before: no TLB can hold it [SDM 4.10.2.3].
  *pte = make_pte(*p, vma.prot, true);
  ++resident_;
  if (resident_ > peak_resident_) peak_resident_ = resident_;
  *kind = stats::FAULT_ANON;
  return UserFault::None;
}

bool AddressSpace::page_mapped_locked(uintptr_t va) {
  lock_.assert_held();
  uint64_t* pte = x64::pte_lookup(tables(), root_, va, nullptr);
  return pte && pte_has_page(*pte);
}

UserFault AddressSpace::handle_fault(uintptr_t addr, uint64_t error_code) {
  uint32_t kind = FAULT_KIND_NONE;
  const UserFault r = serve_fault(addr, error_code, &kind);
  trace::point<trace::Event::PageFault>(addr, error_code, uint64_t(r), kind);  // --trace (core/trace.h)
  return r;
}

// handle_fault's work; *kind: how it was served (a core/stats.h slot), or
// FAULT_KIND_DEFERRED when it must be served again where it may sleep.
UserFault AddressSpace::serve_fault(uintptr_t addr, uint64_t error_code, uint32_t* kind_out) {
  constexpr uint64_t PF_WRITE = 1 << 1, PF_FETCH = 1 << 4;  // [SDM 4.7]
  const uintptr_t page = page_down(addr);
  const bool sleepable = can_sleep();  // asked before the lock turns interrupts off
  for (int attempt = 0;; ++attempt) {
    {
      SpinGuard g(lock_);
      Vma* v = vmas_.find(addr);
      if (!v) v = vmas_.grow_stack(addr);
      if (!v) return UserFault::NoMapping;
      if (!(v->prot & VM_PROT_MASK)) return UserFault::NoAccess;
      if ((error_code & PF_WRITE) && !(v->prot & VM_WRITE)) return UserFault::WriteToReadOnly;
      if ((error_code & PF_FETCH) && !(v->prot & VM_EXEC)) return UserFault::ExecOfNx;
      if ((error_code & PF_WRITE) && (v->flags & VM_SHARED) && !v->anonymous() && zero_mapped_locked(page)) {
        // A write to a hole of a shared file mapping: the file gives the
        // page (it may be full: SIGBUS, as tmpfs), fetched below.
        if (!sleepable) {
          *kind_out = FAULT_KIND_DEFERRED;
          return UserFault::BusError;
        }
        unmap_pages(*v, page, page + PAGE_SIZE);
      } else if (v->anonymous() || page_mapped_locked(page)) {
        uint32_t kind = stats::FAULT_SPURIOUS;
        UserFault r = fault_in(*v, page, error_code & PF_WRITE, &kind);
        if (r == UserFault::None) {
          ++faults_;
          // Found mapped after this fault fetched it: a file page.
          kind = attempt && kind == stats::FAULT_SPURIOUS ? stats::FAULT_FILE : kind;
          stats::count(stats::Slot(kind));
          *kind_out = kind;
        }
        return r;
      }
      // A file page that is not mapped: past the end of the file (mmap
      // maps every page inside it at once), or dropped since (the file
      // shrank and grew again). Fetched and still absent: past the end,
      // SIGBUS. A few tries, not one: a file's clean page may be evicted
      // between the fetch and this look (docs/vfs.md "Page cache eviction").
      if (attempt >= 4) return UserFault::BusError;
    }
    // Fetching may sleep. From the #PF vector (interrupts off) the answer
    // is BusError for now: an application fault is served again from its
    // thread's stack (linux/signal_delivery.cc calls handle_fault there), a copy
    // helper's becomes EFAULT.
    if (!can_sleep()) {
      *kind_out = FAULT_KIND_DEFERRED;
      return UserFault::BusError;
    }
    if (auto r = fill_file_pages(page, page + PAGE_SIZE, (error_code & PF_WRITE) ? Fill::Write : Fill::Read);
        !r.ok())
      return r.error() == Error::NoMemory ? UserFault::OutOfMemory : UserFault::BusError;
  }
}

// Without the lock: page() may sleep, and a file system calls
// shrink_backing (which takes the lock) with its own lock held. So: note
// what is missing under the lock, fetch without it, install under it if
// each page's VMA still maps the same file offset and no shrink ran in
// between (shrink_gen_); otherwise fetch again.
Result<void> AddressSpace::fill_file_pages(uintptr_t start, uintptr_t end, Fill mode) {
  constexpr size_t BATCH = 32;
  uintptr_t va = start;
  while (va < end) {
    VmBacking* b = nullptr;
    uint64_t off0 = 0, gen = 0;
    uintptr_t batch_end = 0, vma_end = 0;
    uint32_t missing = 0;  // bit i: page va + i*PAGE_SIZE
    {
      SpinGuard g(lock_);
      Vma* v = vmas_.first_ending_after(va);
      if (!v || v->start >= end) return {};
      if (v->start > va) va = v->start;
      vma_end = v->end;
      if (v->anonymous()) {
        va = v->end;
        continue;
      }
      batch_end = min(min(v->end, end), va + BATCH * PAGE_SIZE);
      for (uintptr_t a = va; a < batch_end; a += PAGE_SIZE)
        if (!page_mapped_locked(a)) missing |= 1u << ((a - va) / PAGE_SIZE);
      if (!missing) {
        va = batch_end;
        continue;
      }
      b = v->backing;
      b->retain();
      off0 = v->offset + (va - v->start);
      gen = shrink_gen_;
    }
    uint64_t phys[BATCH];
    const size_t n = (batch_end - va) / PAGE_SIZE;
    size_t got = 0;
    bool past_end = false;
    uintptr_t skip_to = 0;  // Fill::Eager: the next page the file holds
    Error err = Error::None;
    for (; got < n; ++got) {
      if (!(missing & (1u << got))) continue;
      const uint64_t off = off0 + got * PAGE_SIZE;
      uint64_t next = ~uint64_t(0);
      auto p = mode == Fill::Write ? b->page(off) : b->page_for_read(off, mode == Fill::Read, &next);
      if (!p && p.error() == Error::NotFound) {
        // A hole, left unmapped (Fill::Eager): skip to the next page the
        // file holds; what lies between faults in when touched.
        missing &= ~(1u << got);
        const uint64_t batch_off_end = off0 + n * PAGE_SIZE;
        if (next > off && next >= batch_off_end) {
          skip_to = next - off0 > vma_end - va ? vma_end : va + page_down(next - off0);
          if (skip_to < batch_end) skip_to = batch_end;
          break;
        }
        continue;
      }
      if (!p) {
        // NoSpace (a shared write past the file system's size) is SIGBUS,
        // as tmpfs; memory running out is the OOM answer.
        if (p.error() == Error::NoMemory) err = Error::NoMemory;
        else if (p.error() == Error::NoSpace) err = Error::NoSpace;
        past_end = true;
        break;
      }
      phys[got] = *p;
    }
    bool again = false;
    {
      SpinGuard g(lock_);
      if (shrink_gen_ != gen) {
        again = true;
      } else {
        for (size_t i = 0; i < got; ++i) {
          if (!(missing & (1u << i))) continue;
          const uintptr_t a = va + i * PAGE_SIZE;
          Vma* v = vmas_.find(a);
          if (!v || v->backing != b || v->offset + (a - v->start) != off0 + i * PAGE_SIZE) continue;
          auto slot = x64::pte_create(tables(), root_, a);
          if (!slot) {
            err = Error::NoMemory;
            break;
          }
          if (pte_has_page(**slot)) continue;
          // Shared: the file's own page. Private: the same page read-only,
          // copied at the first write (PTE_SW_COW). The zero page (a hole)
          // is read-only in both. Not present before: no flush.
          const bool cow = !(v->flags & VM_SHARED) || phys[i] == zero_page_phys();
          **slot = make_pte(phys[i], v->prot, false, cow);
          ++resident_;
          if (resident_ > peak_resident_) peak_resident_ = resident_;
        }
      }
    }
    b->release();
    if (err != Error::None) return err;
    if (again) continue;
    va = past_end ? vma_end : skip_to ? skip_to : batch_end;
  }
  return {};
}

bool AddressSpace::zero_mapped_locked(uintptr_t va) {
  lock_.assert_held();
  uint64_t* pte = x64::pte_lookup(tables(), root_, va, nullptr);
  return pte && pte_has_page(*pte) && !(*pte & PTE_SW_ANON) && (*pte & x64::PTE_ADDR_MASK) == zero_page_phys();
}

void AddressSpace::filled_all(VmBacking& b, uint64_t from, uint64_t to) {
  SpinGuard g(g_list_lock);
  for (AddressSpace* as = g_list; as; as = as->next_in_list_) as->drop_file_entries(b, from, to, true);
}

void AddressSpace::punched_all(VmBacking& b, uint64_t from, uint64_t to) {
  SpinGuard g(g_list_lock);
  for (AddressSpace* as = g_list; as; as = as->next_in_list_) as->drop_file_entries(b, from, to, false);
}

// The entries for [from, to) of b that show the file (its pages, or only
// the zero page when zero_only) go; private copies stay, as Linux's
// unmap_mapping_range without even_cows. Fetches in flight start again:
// they may have seen the hole, or a page about to be freed.
void AddressSpace::drop_file_entries(VmBacking& b, uint64_t from, uint64_t to, bool zero_only) {
  const uint64_t lo = page_down(from), hi = page_up(to);
  const uint64_t zero = zero_page_phys();
  SpinGuard g(lock_);
  ++shrink_gen_;
  for (Vma* v = vmas_.first(); v; v = VmaSet::next(*v)) {
    if (v->backing != &b || v->offset >= hi || v->offset + v->size() <= lo) continue;
    const uintptr_t s = lo > v->offset ? v->start + (lo - v->offset) : v->start;
    const uintptr_t e = v->offset + v->size() > hi ? v->start + (hi - v->offset) : v->end;
    uint64_t dropped = 0;
    for_each_pte(root_, s, e, [&](uintptr_t, uint64_t* pte) {
      if ((*pte & PTE_SW_ANON) || (zero_only && (*pte & x64::PTE_ADDR_MASK) != zero)) return;
      *pte = 0;
      ++dropped;
    });
    if (dropped) {
      flush(s, e);
      resident_ -= dropped;
    }
  }
}

void AddressSpace::shrink_all(VmBacking& b, uint64_t new_size) {
  SpinGuard g(g_list_lock);
  for (AddressSpace* as = g_list; as; as = as->next_in_list_) as->shrink_backing(b, new_size);
}

void AddressSpace::shrink_backing(VmBacking& b, uint64_t new_size) {
  const uint64_t cut = page_up(new_size);
  SpinGuard g(lock_);
  ++shrink_gen_;
  for (Vma* v = vmas_.first(); v; v = VmaSet::next(*v)) {
    if (v->backing != &b || v->offset + v->size() <= cut) continue;
    const uintptr_t from = cut > v->offset ? v->start + (cut - v->offset) : v->start;
    unmap_pages(*v, from, v->end);
  }
}

Result<void> AddressSpace::populate_locked(uintptr_t addr, uintptr_t end) {
  lock_.assert_held();
  for (Vma* v = vmas_.first_ending_after(addr); v && v->start < end; v = VmaSet::next(*v)) {
    if (!(v->prot & VM_PROT_MASK)) continue;
    for (uintptr_t va = max(v->start, addr); va < min(v->end, end); va += PAGE_SIZE) {
      uint64_t* pte = x64::pte_lookup(tables(), root_, va, nullptr);
      if (pte && pte_has_page(*pte)) continue;
      uint32_t kind;
      UserFault r = fault_in(*v, va, false, &kind);
      if (r == UserFault::OutOfMemory) return Error::NoMemory;
      if (r != UserFault::None) break;  // past the backing's end: the rest faults later
    }
  }
  return {};
}

// A big MAP_POPULATE or mlock fills hundreds of MiB: under one hold of the
// lock (a spinlock: interrupts off) a 256 MiB populate kept a 1-vCPU VM's
// timer and every other thread out for 0.55 s under TCG. A chunk of 2 MiB
// at a time lets interrupts and the scheduler in between, as Linux's
// populate may reschedule; the walk re-reads the VMAs each chunk, so a
// range another thread unmaps meanwhile is simply not filled.
Result<void> AddressSpace::populate_chunked(uintptr_t addr, uintptr_t end) {
  constexpr uintptr_t CHUNK = 2ul << 20;
  while (addr < end) {
    const uintptr_t to = end - addr > CHUNK ? addr + CHUNK : end;
    {
      SpinGuard g(lock_);
      TRY(populate_locked(addr, to));
    }
    addr = to;
  }
  return {};
}

// ---- the system-call level ------------------------------------------------

// File mappings are filled at once, up to the end of the file: a page of
// a file cannot be fetched from the #PF vector (the file's lock sleeps),
// and the kernel's copy helpers must find the pages of a mapped file
// (read() into a library's .data). Failing to fill is not an error here:
// the pages then fault in from the thread's stack.
Result<uintptr_t> AddressSpace::mmap(const MapRequest& req, bool populate) {
  uintptr_t a;
  {
    EditGuard g(*this);
    a = TRY(vmas_.map(req, *this));
  }
  if (populate || (req.flags & VM_LOCKED)) (void)populate_chunked(a, a + page_up(req.len));
  if (req.backing)
    (void)fill_file_pages(a, a + page_up(req.len), populate || (req.flags & VM_LOCKED) ? Fill::Read : Fill::Eager);
  return a;
}

Result<void> AddressSpace::munmap(uintptr_t addr, size_t len) {
  EditGuard g(*this);
  return vmas_.unmap(addr, len, *this);
}

Result<void> AddressSpace::mprotect(uintptr_t addr, size_t len, uint32_t prot) {
  EditGuard g(*this);
  return vmas_.protect(addr, len, prot, *this);
}

Result<uintptr_t> AddressSpace::mremap(uintptr_t old_addr, size_t old_len, size_t new_len, uint32_t flags,
                                       uintptr_t new_addr) {
  uintptr_t a;
  bool locked;
  {
    EditGuard g(*this);
    a = TRY(vmas_.remap(old_addr, old_len, new_len, flags, new_addr, *this));
    Vma* v = vmas_.find(a);
    locked = v && (v->flags & VM_LOCKED);
  }
  if (locked) (void)populate_chunked(a, a + page_up(new_len));
  (void)fill_file_pages(a, a + page_up(new_len));  // a file mapping that grew
  return a;
}

void AddressSpace::set_brk_base(uintptr_t base) {
  SpinGuard g(lock_);
  vmas_.set_brk_base(base);
}

uintptr_t AddressSpace::brk(uintptr_t new_brk) {
  EditGuard g(*this);
  return vmas_.brk(new_brk, *this);
}

void AddressSpace::set_mmap_base(uintptr_t base) {
  SpinGuard g(lock_);
  vmas_.set_mmap_base(base);
}

Result<void> AddressSpace::populate(uintptr_t addr, size_t len) {
  if (len > USER_END || addr > USER_END - len) return Error::NoMemory;
  TRY(populate_chunked(page_down(addr), page_up(addr + len)));
  return fill_file_pages(page_down(addr), page_up(addr + len), Fill::Read);
}

Result<void> AddressSpace::mlock(uintptr_t addr, size_t len) {
  // mlock(2) rounds the start down to a page.
  const uintptr_t start = page_down(addr);
  if (len > USER_END || addr > USER_END - len) return Error::NoMemory;
  len += addr - start;
  {
    EditGuard g(*this);
    TRY(vmas_.change_flags(start, len, VM_LOCKED, 0));
  }
  TRY(populate_chunked(start, page_up(start + len)));
  return fill_file_pages(start, page_up(start + len), Fill::Read);
}

Result<void> AddressSpace::munlock(uintptr_t addr, size_t len) {
  const uintptr_t start = page_down(addr);
  if (len > USER_END || addr > USER_END - len) return Error::NoMemory;
  EditGuard g(*this);
  return vmas_.change_flags(start, len + (addr - start), 0, VM_LOCKED);
}

Result<void> AddressSpace::set_fork_flags(uintptr_t addr, size_t len, uint32_t set, uint32_t clear) {
  if (len > USER_END || addr > USER_END - len) return Error::NoMemory;
  EditGuard g(*this);
  if (set & VM_WIPEONFORK) {
    const uintptr_t end = page_up(addr + len);
    for (Vma* v = vmas_.first_ending_after(addr); v && v->start < end; v = VmaSet::next(*v))
      if (!v->anonymous() || (v->flags & VM_SHARED)) return Error::Invalid;  // madvise(2)
  }
  return vmas_.change_flags(addr, len, set, clear);
}

Result<uint64_t> AddressSpace::shared_futex_key(uintptr_t uaddr) {
  SpinGuard g(lock_);
  Vma* v = vmas_.find(uaddr);
  if (!v) return Error::Fault;
  if (!(v->flags & VM_SHARED)) return uint64_t(0);
  const uintptr_t page = page_down(uaddr);
  if (!page_mapped_locked(page)) {
    if (!v->anonymous() || !(v->prot & VM_PROT_MASK)) return Error::Fault;
    uint32_t kind;
    if (fault_in(*v, page, false, &kind) != UserFault::None) return Error::Fault;
  }
  uint64_t* pte = x64::pte_lookup(tables(), root_, page, nullptr);
  return (*pte & x64::PTE_ADDR_MASK) | (uaddr & (PAGE_SIZE - 1));
}

Result<void> AddressSpace::mincore(uintptr_t addr, size_t len, uint8_t* vec) {
  if (addr % PAGE_SIZE) return Error::Invalid;
  if (len == 0) return {};
  if (len > USER_END || addr > USER_END - len) return Error::NoMemory;
  const uintptr_t end = page_up(addr + len);
  SpinGuard g(lock_);
  if (!vmas_.fully_mapped(addr, end)) return Error::NoMemory;
  for (uintptr_t va = addr; va < end; va += PAGE_SIZE) {
    uint64_t* pte = x64::pte_lookup(tables(), root_, va, nullptr);
    vec[(va - addr) / PAGE_SIZE] = pte && pte_has_page(*pte) ? 1 : 0;
  }
  return {};
}

Result<void> AddressSpace::msync(uintptr_t addr, size_t len) {
  if (addr % PAGE_SIZE) return Error::Invalid;
  if (len == 0) return {};
  if (len > USER_END || addr > USER_END - len) return Error::NoMemory;
  // The objects behind shared mappings in the range sync outside the lock
  // (it is a spinlock; a sync may sleep). A few at a time: a range over
  // more shared files than that is walked again.
  constexpr size_t BATCH = 8;
  const uintptr_t end = page_up(addr + len);
  for (uintptr_t from = addr;;) {
    VmBacking* objects[BATCH];
    size_t n = 0;
    uintptr_t next = end;
    {
      SpinGuard g(lock_);
      if (from == addr && !vmas_.fully_mapped(addr, end)) return Error::NoMemory;
      for (Vma* v = vmas_.first_ending_after(from); v && v->start < end; v = VmaSet::next(*v)) {
        if (!(v->flags & VM_SHARED) || !v->backing) continue;
        if (n == BATCH) {
          next = v->start;
          break;
        }
        v->backing->retain();
        objects[n++] = v->backing;
      }
    }
    Result<void> r;
    for (size_t i = 0; i < n; ++i) {
      if (r.ok()) r = objects[i]->sync();
      objects[i]->release();
    }
    if (!r.ok()) return r.error();
    if (next >= end) return {};
    from = next;
  }
}

Result<void> AddressSpace::discard(uintptr_t addr, size_t len) {
  if (addr % PAGE_SIZE) return Error::Invalid;
  if (len == 0) return {};
  if (len > USER_END || addr > USER_END - len) return Error::Invalid;
  const uintptr_t end = page_up(addr + len);
  bool whole;
  {
    SpinGuard g(lock_);
    for (Vma* v = vmas_.first_ending_after(addr); v && v->start < end; v = VmaSet::next(*v))
      if (v->flags & VM_LOCKED) return Error::Invalid;  // madvise(2): EINVAL on locked pages
    for (Vma* v = vmas_.first_ending_after(addr); v && v->start < end; v = VmaSet::next(*v))
      unmap_pages(*v, max(v->start, addr), min(v->end, end));
    whole = vmas_.fully_mapped(addr, end);
  }
  // File mappings see the file again (private copies are gone).
  (void)fill_file_pages(addr, end);
  return whole ? Result<void>() : Error::NoMemory;
}

// ---- faults nobody serves -------------------------------------------------

void set_user_fault_handler(UserFaultHandler h) { g_fault_handler.store(h); }
void set_out_of_memory_handler(OutOfMemoryHandler h) { g_oom_handler.store(h); }

void on_user_fault(uintptr_t addr, uint64_t error_code, UserFault why, x64::TrapFrame& frame) {
  if (UserFaultHandler h = g_fault_handler.load()) {
    h(addr, error_code, why, frame);
    return;
  }
  // As a panic, but the backtrace is the faulting code's, not this handler's.
  if (!panic_begin()) {
    kprint("\npanic: nested segmentation fault at {:#x} while panicking, halting\n", addr);
    panic_stop();
  }
  StringView fn;
  uintptr_t off = 0;
  if (!symbolize(frame.rip, fn, off)) fn = "?";
  kprint("\npanic: segmentation fault at {:#x} ({}), error {:#x}, RIP {:#x} {}+{:#x}\n", addr,
         user_fault_name(why), error_code, frame.rip, fn, off);
  print_backtrace(frame.rip, frame.rbp);
  panic_stop();
}

namespace {
int serve_user_fault(uintptr_t addr, uint64_t error_code) {
  AddressSpace* as = current_address_space();
  return as ? int(as->handle_fault(addr, error_code)) : -1;
}
// As Linux's allocator calling the OOM killer before a fault gives up: a
// read() into fresh memory with none free ends the largest process, not
// the call with EFAULT. Bounded: each retry follows another process's end.
int serve_user_fault_sleeping(uintptr_t addr, uint64_t error_code) {
  AddressSpace* as = current_address_space();
  if (!as) return -1;
  UserFault why = as->handle_fault(addr, error_code);
  for (int i = 0; i < 8 && why == UserFault::OutOfMemory; ++i) {
    OutOfMemoryHandler h = g_oom_handler.load();
    if (!h || !h(addr)) break;
    why = as->handle_fault(addr, error_code);
  }
  return int(why);
}
void report_user_fault(uintptr_t addr, uint64_t error_code, int why, x64::TrapFrame& frame) {
  on_user_fault(addr, error_code, UserFault(why), frame);
}
const MmHooks g_arch_mm_hooks = {mmio_map, is_stack_guard, serve_user_fault, serve_user_fault_sleeping,
                                   report_user_fault};
}  // namespace

void mm::register_arch_hooks() { arch_set_mm_hooks(&g_arch_mm_hooks); }

}  // namespace capsule
