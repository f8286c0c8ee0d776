#pragma once
// Application address spaces: the lower canonical half of a page table,
// described by VMAs (core/mm/vma.h) and filled on demand by the page-fault
// handler. One AddressSpace per process; the kernel half (PML4 entries
// 256..511) is the kernel's own, shared by every address space.
//
// Application pages are supervisor pages (no PTE_USER: everything runs at
// CPL0); writability and NX come from the VMA's protection, and CR0.WP=1
// makes the CPU honour read-only for CPL0 writes too.
//
// The linux/ layer calls these with Linux's arguments already translated
// (VM_READ/VM_WRITE/VM_EXEC, VM_SHARED, ...) and turns Error into -errno:
// NoMemory -> ENOMEM, Invalid -> EINVAL, Exists -> EEXIST, Fault -> EFAULT,
// Permission -> EPERM. docs/address-space.md.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/mm/vma.h"
#include "arch/spinlock.h"
#include "lib/result.h"
#include "lib/thread_annotations.h"

namespace capsule {

namespace x64 {
struct TrapFrame;
}

// Why a fault in the application half could not be served.
enum class UserFault : uint8_t {
  None = 0,         // served: resume
  NoMapping,        // no VMA (and no stack to grow)
  WriteToReadOnly,  // a write to a VMA without VM_WRITE
  ExecOfNx,         // an instruction fetch from a VMA without VM_EXEC
  NoAccess,         // a VMA with no access at all (PROT_NONE)
  OutOfMemory,      // no page to back it (Linux: the OOM killer)
  BusError,         // the backing object has no page there (SIGBUS)
};
const char* user_fault_name(UserFault f);  // "no mapping", "write to read-only", ...

class AddressSpace final : private mm::VmaObserver {
 public:
  // A new, empty address space; its kernel half is the kernel's.
  static Result<AddressSpace*> create();
  // fork(2): a copy-on-write copy (docs/address-space.md "Fork").
  // NoMemory.
  Result<AddressSpace*> fork();
  // Unmaps and frees every page and page table. No thread may run in it any
  // more; other CPUs may still have it loaded (they ran it last): its root
  // page and the object are freed once none has (if it is loaded here, the
  // kernel's own page table is loaded first).
  static void destroy(AddressSpace* as);

  // mmap (see VmaSet::map for the errors). `populate` is MAP_POPULATE; a
  // VM_LOCKED mapping is always populated. Population failing for lack of
  // memory is not an error (Linux: the pages fault in later).
  Result<uintptr_t> mmap(const mm::MapRequest& req, bool populate = false);
  Result<void> munmap(uintptr_t addr, size_t len);
  Result<void> mprotect(uintptr_t addr, size_t len, uint32_t prot);
  Result<uintptr_t> mremap(uintptr_t old_addr, size_t old_len, size_t new_len, uint32_t flags,
                           uintptr_t new_addr);
  void set_brk_base(uintptr_t base);
  uintptr_t brk(uintptr_t new_brk);
  void set_mmap_base(uintptr_t base);

  // Maps every page of the VMAs in [addr, addr+len) now (MAP_POPULATE,
  // MADV_WILLNEED); pages with no access are skipped. NoMemory if a page
  // cannot be allocated.
  Result<void> populate(uintptr_t addr, size_t len);
  // mlock/munlock: the whole range must be mapped (NoMemory otherwise);
  // mlock populates.
  Result<void> mlock(uintptr_t addr, size_t len);
  Result<void> munlock(uintptr_t addr, size_t len);
  // madvise(MADV_DONTFORK / DOFORK / WIPEONFORK / KEEPONFORK): sets and
  // clears VM_DONTCOPY / VM_WIPEONFORK on a fully mapped range (NoMemory
  // otherwise; Invalid for WIPEONFORK on a shared or file mapping).
  Result<void> set_fork_flags(uintptr_t addr, size_t len, uint32_t set, uint32_t clear);
  // mincore: vec[i] = 1 if page i of the range is resident. The range must
  // be mapped (NoMemory); addr page aligned (Invalid). vec is kernel memory.
  Result<void> mincore(uintptr_t addr, size_t len, uint8_t* vec);
  // msync: checks the range (Invalid, NoMemory as Linux); nothing to write
  // back: shared file mappings map the file's own pages.
  Result<void> msync(uintptr_t addr, size_t len);
  // MADV_DONTNEED: drops the pages of the mapped parts of the range; the
  // next touch of an anonymous page sees zeros, file mappings see the file
  // again (private copies are gone).
  Result<void> discard(uintptr_t addr, size_t len);

  // The key of a shared futex (futex(2) without FUTEX_PRIVATE_FLAG) at
  // uaddr: the physical address of the word when it lies in a VM_SHARED
  // mapping (its page is the file's or the shared anonymous object's, the
  // same in every address space that maps it; an anonymous page not there
  // yet is faulted in), 0 when the mapping is private (the caller keys by
  // address space and address). Fault: no mapping, or no page (a file
  // mapping past the end of its file).
  Result<uint64_t> shared_futex_key(uintptr_t uaddr);

  // The #PF path: serve a fault at addr (error code as the CPU pushed it).
  UserFault handle_fault(uintptr_t addr, uint64_t error_code);

  // Loads this page table on the calling CPU (CR3) and makes it current.
  void activate();
  // Back to the kernel's own page table; no address space is current.
  static void activate_kernel();

  uint64_t root() const { return root_; }
  // Counters, read under the lock (which also orders them after the
  // caller's own accesses to application memory, which may have faulted).
  uint64_t fault_count();
  uint64_t resident_pages();
  uint64_t peak_resident_pages();  // the most resident_pages() has been (--stats)
  // The heap's bounds: brk's start and current end (/proc/<pid>/maps).
  uintptr_t brk_start();
  uintptr_t brk_end();
  size_t vma_count();
  // Up to len bytes at addr copied into out from the pages present (no
  // fault is taken: the first page absent ends the copy); how many were
  // copied. For reading a space that is not loaded (/proc/<pid>/cmdline).
  size_t peek(uintptr_t addr, void* out, size_t len);
  // Runs f(const mm::Vma&) for each VMA, in address order, under the lock.
  template <typename F>
  void for_each_vma(F&& f) {
    SpinGuard g(lock_);
    for (const mm::Vma* v = vmas_.first(); v; v = mm::VmaSet::next(*v)) f(*v);
  }

 private:
  AddressSpace() = default;
  ~AddressSpace() = default;

  // VmaObserver: what VMA edits do to the page table.
  // VmaSet calls them from its edits, which run under lock_.
  void unmap_pages(const mm::Vma& vma, uintptr_t start, uintptr_t end) override REQUIRES(lock_);
  void protect_pages(uintptr_t start, uintptr_t end, uint32_t prot) override REQUIRES(lock_);
  Result<void> move_pages(uintptr_t from, uintptr_t to, size_t len) override REQUIRES(lock_);

  // *kind: how it was served (core/stats.h FAULT_*).
  UserFault fault_in(mm::Vma& vma, uintptr_t page, bool write, uint32_t* kind) REQUIRES(lock_);
  UserFault serve_fault(uintptr_t addr, uint64_t error_code, uint32_t* kind);
  // The fault's kind in its trace record (core/trace.h) when no stats slot says.
  static constexpr uint32_t FAULT_KIND_NONE = 0xff, FAULT_KIND_DEFERRED = 0xfe;
  Result<void> fork_into(AddressSpace& child);
  Result<void> populate_locked(uintptr_t addr, uintptr_t end) REQUIRES(lock_);
  // populate_locked over [addr, end) a chunk at a time, the lock (and
  // with it interrupts) taken for each chunk only.
  Result<void> populate_chunked(uintptr_t addr, uintptr_t end) EXCLUDES(lock_);
  bool page_mapped_locked(uintptr_t va) REQUIRES(lock_);
  // Maps the pages of the file-backed VMAs in [start, end) that are not
  // mapped yet, up to the end of each file. Called without the lock (the
  // backing's page() may sleep); see docs/address-space.md "File pages".
  // Eager (mmap, mremap, MADV_DONTNEED): only the pages the file holds,
  // holes stay unmapped. Read (a read fault, populate, mlock): holes get
  // the zero page. Write (a write fault on a shared mapping): the file's
  // own page, allocated if needed.
  enum class Fill { Eager, Read, Write };
  Result<void> fill_file_pages(uintptr_t start, uintptr_t end, Fill mode = Fill::Eager);
  // A file page mapped here is the zero page (a hole, read so far).
  bool zero_mapped_locked(uintptr_t va) REQUIRES(lock_);
  // mm::backing_filled / backing_punching: filled_all and punched_all (the
  // hooks) walk every address space.
  static void filled_all(mm::VmBacking& b, uint64_t from, uint64_t to);
  static void punched_all(mm::VmBacking& b, uint64_t from, uint64_t to);
  void drop_file_entries(mm::VmBacking& b, uint64_t from, uint64_t to, bool zero_only);
  void flush(uintptr_t start, uintptr_t end);
  // mm::backing_shrinking: shrink_all (the hook) walks every address space
  // and calls shrink_backing on each.
  static void shrink_all(mm::VmBacking& b, uint64_t new_size);
  void shrink_backing(mm::VmBacking& b, uint64_t new_size);

  // lock_ for an edit of the VMAs, taken as SpinGuard takes it (interrupts
  // off first: a timer tick must not switch away from the holder, or the
  // next thread on this CPU spins on the lock for ever). The backing
  // references the edit dropped are released after the lock and with
  // interrupts back as they were (VmaSet::take_dropped): a release may sleep.
  class SCOPED_CAPABILITY EditGuard {
   public:
    explicit EditGuard(AddressSpace& as) ACQUIRE(as.lock_) : as_(as) {
      irq_.emplace();
      as_.lock_.lock();
    }
    ~EditGuard() RELEASE() {
      mm::Vma* d = as_.vmas_.take_dropped();
      as_.lock_.unlock();
      irq_.reset();
      mm::VmaSet::release_dropped(d);
    }
    EditGuard(const EditGuard&) = delete;
    EditGuard& operator=(const EditGuard&) = delete;

   private:
    AddressSpace& as_;
    std::optional<IrqGuard> irq_;
  };

  AddressSpace* next_in_list_ = nullptr;  // every address space (under the list's lock)
  SpinLock lock_;       // guards the VMAs, the lower half of the tables, the counters
  mm::VmaSet vmas_ GUARDED_BY(lock_);
  uint64_t root_ = 0;   // PML4, physical; set by create(), then read-only
  uint64_t faults_ GUARDED_BY(lock_) = 0;
  uint64_t resident_ GUARDED_BY(lock_) = 0;
  uint64_t peak_resident_ GUARDED_BY(lock_) = 0;
  // Bumped by shrink_backing and drop_file_entries: file pages fetched before
  // may be gone, or a hole seen may have been filled.
  uint64_t shrink_gen_ GUARDED_BY(lock_) = 0;
};

// The calling application thread's address space; on a kernel thread, the
// one loaded on this CPU (PerCpu::loaded_as, set by activate()), or nullptr
// (only the kernel half).
AddressSpace* current_address_space();

// Called for a fault in the application half that no VMA allows and no
// extable entry fixes up. It may rewrite the frame (signal delivery) and
// return to resume there. The default panics with "segmentation fault at
// ADDR (why)". linux/ installs the one that raises SIGSEGV/SIGBUS.
using UserFaultHandler = void (*)(uintptr_t addr, uint64_t error_code, UserFault why, x64::TrapFrame& frame);
void set_user_fault_handler(UserFaultHandler h);
void on_user_fault(uintptr_t addr, uint64_t error_code, UserFault why, x64::TrapFrame& frame);

// A kernel copy to or from the application half found no free page for a
// fault (arch_serve_user_fault_sleeping: sleeping allowed). linux/
// installs its out-of-memory killer: true when another process ended and
// the fault may be served again, false when the caller's own process was
// chosen (it is ending; the copy fails). None: the copy fails (EFAULT).
using OutOfMemoryHandler = bool (*)(uintptr_t addr);
void set_out_of_memory_handler(OutOfMemoryHandler h);

// Cross-CPU TLB shootdown: called after a change to [start, end) of `as`
// was flushed on this CPU; the SMP code installs one that interrupts the
// other CPUs running `as`. None by default.
using TlbShootdown = void (*)(AddressSpace* as, uintptr_t start, uintptr_t end);
void set_tlb_shootdown(TlbShootdown fn);

}  // namespace capsule
