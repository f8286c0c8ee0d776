#pragma once
// The application half's map: a set of VMAs (virtual memory areas), each a
// page-aligned range [start, end) with one protection, one set of flags and
// one backing (anonymous memory, or an object such as a file at an offset).
//
// Pure range logic with Linux's semantics (mmap(2), munmap(2), mprotect(2),
// mremap(2), brk(2)); it never touches a page table. Whatever must happen
// to pages (unmap and free them, change their permissions, move them) is
// reported to a VmaObserver, which the AddressSpace (core/mm/address_space.h)
// implements over its page tables and the host tests implement over a model.
//
// Layout, as Linux lays out x86-64 processes:
//   USER_START (64 KiB, Linux's default vm.mmap_min_addr) .. USER_END
//   (0x7fff_ffff_f000, Linux's TASK_SIZE: the last page below the canonical
//   hole is left out). mmap without MAP_FIXED searches top-down below
//   mmap_base (set by the loader below the stack), then bottom-up above it.
//
// VMAs live in an intrusive red-black tree ordered by start: lookup is
// O(log n). Gap search walks the tree from the top down, O(gaps visited).
// Every operation either completes or fails with nothing changed: the nodes
// it may need are allocated and the map-count limit is checked before the
// first change (Linux applies mprotect up to the first hole and then fails
// with ENOMEM; here the whole call fails and changes nothing).
//
// Not thread-safe: the owner holds the address space's lock.
#include <cstddef>
#include <atomic>
#include <cstdint>

#include "core/mm.h"
#include "lib/rbtree.h"
#include "lib/result.h"

namespace capsule::mm {

// USER_START and USER_END: arch/memory_layout.h (through core/mm.h).
constexpr size_t DEFAULT_MAX_MAP_COUNT = 65530;  // Linux vm.max_map_count
// Linux's stack_guard_gap: nothing is placed, and no stack grows, closer
// than this to a grows-down VMA.
constexpr size_t STACK_GUARD_GAP = 256 * PAGE_SIZE;
constexpr size_t DEFAULT_STACK_LIMIT = 8ull << 20;  // RLIMIT_STACK's default

// Protection bits (same values as Linux's PROT_*; linux/ still translates).
constexpr uint32_t VM_READ = 1, VM_WRITE = 2, VM_EXEC = 4;
constexpr uint32_t VM_PROT_MASK = VM_READ | VM_WRITE | VM_EXEC;

// VMA flags.
constexpr uint32_t VM_SHARED = 1 << 0;     // MAP_SHARED: writes reach the backing / survive fork
constexpr uint32_t VM_GROWSDOWN = 1 << 1;  // a stack: a fault just below extends it
constexpr uint32_t VM_NORESERVE = 1 << 2;  // MAP_NORESERVE (no accounting here anyway)
constexpr uint32_t VM_LOCKED = 1 << 3;     // mlock / MAP_LOCKED: populated, never evicted
// A shared mapping of a file opened without write access: mprotect may not
// add VM_WRITE (mmap(2), mprotect(2): EACCES).
constexpr uint32_t VM_NOWRITE = 1 << 4;
// madvise(MADV_DONTFORK): fork leaves the range out of the child.
constexpr uint32_t VM_DONTCOPY = 1 << 5;
// madvise(MADV_WIPEONFORK), private anonymous memory only: the child gets
// the range empty (zeros on first touch).
constexpr uint32_t VM_WIPEONFORK = 1 << 6;

// The object behind a file-backed VMA (the VFS implements it). Each VMA
// holding the object holds one reference and counts in `vm_maps`.
class VmBacking {
 public:
  // Physical address of the object's page at byte `offset` (page aligned).
  // The object keeps the page alive while it is referenced and until it
  // shrinks below it (see backing_shrinking); shared VMAs map it directly,
  // private VMAs map it read-only and copy it at the first write.
  // Error::Range past the end of the object (SIGBUS for the program). May
  // sleep: the address spaces never call it with their lock held.
  virtual Result<uint64_t> page(uint64_t offset) = 0;
  // For a read (a read fault, or filling a mapping at mmap): the page if
  // the object holds one at `offset`. A hole (nothing written there) is
  // zero_page_phys() when `zero_ok` (mapped read-only; a write fault then
  // calls page()), else NotFound with *next set to the offset of the next
  // page the object holds (~0 for none): mmap leaves holes unmapped, so a
  // sparse file costs no page tables. The default is page(): objects
  // without holes. Range past the end. May sleep.
  virtual Result<uint64_t> page_for_read(uint64_t offset, bool zero_ok, uint64_t* next) {
    (void)zero_ok;
    (void)next;
    return page(offset);
  }
  virtual void retain() = 0;
  virtual void release() = 0;
  // msync(2) of a shared mapping of it: the object sends the pages it
  // keeps back to its store (a network or disk file system). Nothing to do
  // for objects that live in memory. May sleep: called without locks.
  virtual Result<void> sync() { return {}; }
  // True for a file's vnode (vfs::Vnode), which /proc/<pid>/maps names by
  // its path; false for kernel objects (the vDSO).
  virtual bool is_file() const { return false; }

  // VMAs (in any address space) that map this object; maintained by VmaSet.
  std::atomic<uint32_t> vm_maps{0};
  // Those of them that are VM_SHARED without VM_NOWRITE: mappings that
  // write (or may be mprotect'ed to write) the object (memfd's F_SEAL_WRITE
  // is EBUSY while there are any, Linux's i_mmap_writable).
  std::atomic<uint32_t> vm_writable_maps{0};

 protected:
  ~VmBacking() = default;
};

// Installed by the address spaces (core/mm/address_space.cc): unmaps every
// page of `b` at or beyond byte page_up(new_size) from every address space,
// private copies included (Linux's truncate_pagecache), so that a later
// touch faults and finds nothing there (SIGBUS).
using BackingShrinkHook = void (*)(VmBacking& b, uint64_t new_size);
inline std::atomic<BackingShrinkHook> g_backing_shrink_hook{nullptr};

// A file system calls this when a mapped object shrinks (truncate), before
// it frees the pages beyond the new size. Cheap when nothing maps it.
inline void backing_shrinking(VmBacking& b, uint64_t new_size) {
  if (b.vm_maps.load(std::memory_order_acquire) == 0) return;
  if (BackingShrinkHook h = g_backing_shrink_hook.load(std::memory_order_acquire)) h(b, new_size);
}

// The physical address of the shared page of zeros that read faults on
// holes map (read-only, PTE_SW_COW: a write copies it, or for a shared
// mapping fetches the object's page with page()). Allocated at the first
// call (before any address space exists: AddressSpace::create), never freed.
uint64_t zero_page_phys();

// Installed by the address spaces: drops the mappings of the zero page for
// bytes [from, to) of `b` in every address space (the object just put a
// page of its own where there was a hole), so the next access finds the
// new page.
using BackingFilledHook = void (*)(VmBacking& b, uint64_t from, uint64_t to);
inline std::atomic<BackingFilledHook> g_backing_filled_hook{nullptr};

// A file system calls this after it gave a page to a hole of a mapped
// object (a write, fallocate). Cheap when nothing maps it.
inline void backing_filled(VmBacking& b, uint64_t from, uint64_t to) {
  if (from >= to || b.vm_maps.load(std::memory_order_acquire) == 0) return;
  if (BackingFilledHook h = g_backing_filled_hook.load(std::memory_order_acquire)) h(b, from, to);
}

// Installed by the address spaces: drops every mapping of the object's
// own pages (and the zero page) for bytes [from, to) of `b` in every
// address space; private copies stay. A file system calls
// backing_punching before it frees pages inside the file (hole punching).
using BackingPunchHook = void (*)(VmBacking& b, uint64_t from, uint64_t to);
inline std::atomic<BackingPunchHook> g_backing_punch_hook{nullptr};

inline void backing_punching(VmBacking& b, uint64_t from, uint64_t to) {
  if (from >= to || b.vm_maps.load(std::memory_order_acquire) == 0) return;
  if (BackingPunchHook h = g_backing_punch_hook.load(std::memory_order_acquire)) h(b, from, to);
}

struct Vma {
  uintptr_t start = 0;
  uintptr_t end = 0;
  uint32_t prot = 0;
  uint32_t flags = 0;
  VmBacking* backing = nullptr;  // nullptr: anonymous memory
  uint64_t offset = 0;           // backing offset of `start`
  RbNode node;
  Vma* next_dropped = nullptr;   // VmaSet::take_dropped's list

  size_t size() const { return end - start; }
  bool anonymous() const { return backing == nullptr; }
  bool contains(uintptr_t a) const { return a >= start && a < end; }
};

// What the page-table side must do. Ranges are page aligned and lie inside
// the VMA passed along.
class VmaObserver {
 public:
  // [start, end) of `vma` leaves the address space: unmap and release pages.
  virtual void unmap_pages(const Vma& vma, uintptr_t start, uintptr_t end) = 0;
  // [start, end) now has protection `prot`.
  virtual void protect_pages(uintptr_t start, uintptr_t end, uint32_t prot) = 0;
  // mremap: whatever is mapped in [from, from+len) moves to [to, to+len)
  // (which is empty). On failure nothing may have moved.
  virtual Result<void> move_pages(uintptr_t from, uintptr_t to, size_t len) = 0;

 protected:
  ~VmaObserver() = default;
};

enum class Placement : uint8_t {
  Hint,            // addr is a hint (0: none); search if it does not fit
  Fixed,           // MAP_FIXED: exactly addr, replacing what is there
  FixedNoReplace,  // MAP_FIXED_NOREPLACE: exactly addr, Error::Exists if taken
};

struct MapRequest {
  uintptr_t addr = 0;
  size_t len = 0;
  uint32_t prot = 0;
  uint32_t flags = 0;
  VmBacking* backing = nullptr;
  uint64_t offset = 0;
  Placement placement = Placement::Hint;
  // Hint only: the mapping must lie in [LOW_WINDOW_START, LOW_WINDOW_END)
  // (Linux's MAP_32BIT on x86-64: the second GiB, searched bottom-up);
  // a hint outside it is ignored.
  bool low_window = false;
};
inline constexpr uintptr_t LOW_WINDOW_START = uintptr_t(1) << 30, LOW_WINDOW_END = uintptr_t(2) << 30;

// mremap flags (same values as Linux's MREMAP_*).
constexpr uint32_t REMAP_MAYMOVE = 1, REMAP_FIXED = 2;

class VmaSet {
 public:
  VmaSet() = default;
  VmaSet(const VmaSet&) = delete;
  VmaSet& operator=(const VmaSet&) = delete;
  // Frees the nodes without telling anyone: call clear() first when pages
  // are mapped.
  ~VmaSet();

  // mmap. Errors as Linux: Invalid (len 0, misaligned fixed address or
  // offset, unknown prot bits), NoMemory (no gap, beyond USER_END, map-count
  // limit, out of memory), Exists (FixedNoReplace over a mapping),
  // Permission (a fixed address below USER_START).
  Result<uintptr_t> map(const MapRequest& req, VmaObserver& obs);
  // munmap: any range; holes are fine. Invalid for a misaligned start, an
  // empty range or one outside the lower half; NoMemory if splitting would
  // pass the map-count limit.
  Result<void> unmap(uintptr_t addr, size_t len, VmaObserver& obs);
  // mprotect: every page of the range must be mapped (NoMemory otherwise).
  Result<void> protect(uintptr_t addr, size_t len, uint32_t prot, VmaObserver& obs);
  // Sets and clears flags on a fully mapped range (mlock/munlock: VM_LOCKED).
  Result<void> change_flags(uintptr_t addr, size_t len, uint32_t set, uint32_t clear);
  // mremap. Fault if [old, old+old_len) is not inside one VMA; NoMemory if it
  // cannot grow in place and may not (or cannot) move. Returns the new start.
  Result<uintptr_t> remap(uintptr_t old_addr, size_t old_len, size_t new_len, uint32_t flags,
                          uintptr_t new_addr, VmaObserver& obs);

  // brk: the heap starts at page_up(base) (the loader picks base: the end of
  // the program's bss plus a random or fixed offset); brk() moves its end
  // and returns the resulting break, which is unchanged on failure (Linux).
  void set_brk_base(uintptr_t base);
  uintptr_t brk(uintptr_t new_brk, VmaObserver& obs);
  uintptr_t brk_start() const { return brk_start_; }
  uintptr_t brk_current() const { return brk_; }

  // A fault at addr just below a VM_GROWSDOWN VMA: extend that VMA down to
  // addr's page if the stack limit and the guard gap to the VMA below allow.
  // Returns the VMA, or nullptr.
  Vma* grow_stack(uintptr_t addr);

  // Unmaps everything (exit, execve).
  void clear(VmaObserver& obs);
  // fork: this (empty) set becomes a copy of `o`'s VMAs but the
  // VM_DONTCOPY ones (each backing gains a reference), layout bases and
  // limits. NoMemory (this then holds what was copied so far).
  Result<void> copy_from(const VmaSet& o);

  // The nodes the edits since the last call removed that hold a backing
  // reference: the caller releases them with release_dropped once it holds
  // no spinlock, as a file's release may sleep (ext4 takes its volume's
  // mutex; sleeping under the address space's spinlock let other CPUs
  // spin on it for as long as the disk took).
  Vma* take_dropped() {
    Vma* d = dropped_;
    dropped_ = nullptr;
    return d;
  }
  static void release_dropped(Vma* d);

  Vma* find(uintptr_t addr) const;             // the VMA containing addr
  bool fully_mapped(uintptr_t start, uintptr_t end) const;  // no hole in [start, end)
  Vma* first_ending_after(uintptr_t addr) const;  // first VMA with end > addr
  Vma* first() const { return tree_.first(); }
  static Vma* next(const Vma& v) { return Tree::next(v); }
  size_t count() const { return tree_.size(); }

  void set_mmap_base(uintptr_t base) { mmap_base_ = base; }
  uintptr_t mmap_base() const { return mmap_base_; }
  void set_max_count(size_t n) { max_count_ = n; }
  void set_stack_limit(size_t bytes) { stack_limit_ = bytes; }

  // Invariants: sorted, disjoint, aligned, inside the lower half, the tree
  // balanced, no two adjacent VMAs that should have merged. For tests.
  bool check() const;

 private:
  struct ByStart {
    bool operator()(const Vma& a, const Vma& b) const { return a.start < b.start; }
  };
  using Tree = IntrusiveRbTree<Vma, &Vma::node, ByStart>;
  static constexpr size_t MAX_SPARE = 4;

  Result<void> reserve_nodes(size_t n);
  Vma* take_node();
  void free_node(Vma* v);
  void release_spares();
  bool within_limit(size_t new_nodes) const { return tree_.size() + new_nodes <= max_count_; }

  bool overlaps(uintptr_t start, uintptr_t end) const;
  bool range_free(uintptr_t start, uintptr_t end) const;  // and clear of stack guard gaps
  size_t unmap_splits(uintptr_t start, uintptr_t end) const;
  Result<uintptr_t> find_gap(size_t len) const;
  Result<uintptr_t> find_gap_low(size_t len) const;  // MapRequest::low_window

  Vma* split(Vma& v, uintptr_t at);  // v keeps [start, at); returns [at, end)
  void remove_range(uintptr_t start, uintptr_t end, VmaObserver* obs);
  Vma* insert_new(uintptr_t start, uintptr_t end, uint32_t prot, uint32_t flags, VmBacking* b,
                  uint64_t offset);
  void merge_around(uintptr_t start, uintptr_t end);
  static bool mergeable(const Vma& a, const Vma& b);

  template <typename F>
  Result<void> change(uintptr_t addr, size_t len, F&& apply_to, VmaObserver* obs);

  Tree tree_;
  Vma* dropped_ = nullptr;
  Vma* spare_[MAX_SPARE] = {};
  size_t spare_count_ = 0;
  uintptr_t mmap_base_ = USER_END - (128ull << 20) - STACK_GUARD_GAP;
  size_t max_count_ = DEFAULT_MAX_MAP_COUNT;
  size_t stack_limit_ = DEFAULT_STACK_LIMIT;
  uintptr_t brk_start_ = 0;
  uintptr_t brk_ = 0;
};

}  // namespace capsule::mm
