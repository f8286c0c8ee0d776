// Memory system calls: brk, mmap family (anonymous memory and files of the
// VFS), mremap, madvise, the mlock family, msync, mincore.
// Linux's PROT_*, MAP_*, MADV_* ... values are translated explicitly into
// the address space's own flags. docs/syscalls.md lists the semantics.
#include <atomic>

#include "core/address_space.h"
#include "core/mm.h"
#include "linux/process.h"
#include "arch/uaccess.h"
#include "core/mm/vma.h"
#include "linux/file_common.h"
#include "linux/memfd.h"
#include "fs/devfs/devfs.h"
#include "linux/syscall.h"
#include "linux/vm_limits.h"

namespace capsule::linux_abi {
namespace {

constexpr uint64_t PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4, PROT_SEM = 8, PROT_GROWSDOWN = 0x01000000,
                   PROT_GROWSUP = 0x02000000;
constexpr uint64_t MAP_SHARED = 0x1, MAP_PRIVATE = 0x2, MAP_SHARED_VALIDATE = 0x3, MAP_TYPE = 0xf,
                   MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_32BIT = 0x40, MAP_GROWSDOWN = 0x100,
                   MAP_DENYWRITE = 0x800, MAP_EXECUTABLE = 0x1000, MAP_LOCKED = 0x2000,
                   MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_NONBLOCK = 0x10000,
                   MAP_STACK = 0x20000, MAP_HUGETLB = 0x40000, MAP_SYNC = 0x80000,
                   MAP_FIXED_NOREPLACE = 0x100000, MAP_UNINITIALIZED = 0x4000000;
constexpr uint64_t KNOWN_MAP_FLAGS = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT | MAP_GROWSDOWN |
                                     MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE |
                                     MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_SYNC |
                                     MAP_FIXED_NOREPLACE | MAP_UNINITIALIZED;

constexpr uint64_t MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2, MREMAP_DONTUNMAP = 4;
constexpr uint64_t MS_ASYNC = 1, MS_INVALIDATE = 2, MS_SYNC = 4;
constexpr uint64_t MCL_CURRENT = 1, MCL_FUTURE = 2, MCL_ONFAULT = 4;
constexpr uint64_t MLOCK_ONFAULT = 1;

AddressSpace* as() { return current_process()->as; }

// mlockall(MCL_FUTURE): later mappings are locked too (Process::lock_future).

constexpr uint64_t page_mask = PAGE_SIZE - 1;
uint64_t pg_up(uint64_t v) { return (v + page_mask) & ~page_mask; }

// What lies in [start, end): is it all mapped, is any of it locked, shared.
struct RangeInfo {
  bool fully_mapped = true;
  bool any_locked = false;
  bool all_shared = true;
  bool any_backed = false;  // a file or shared anonymous memory (not private anonymous)
};
RangeInfo scan(uintptr_t start, uintptr_t end) {
  RangeInfo r;
  uintptr_t cursor = start;
  as()->for_each_vma([&](const mm::Vma& v) {
    if (v.end <= start || v.start >= end) return;
    if (v.start > cursor) r.fully_mapped = false;
    if (v.end > cursor) cursor = v.end;
    if (v.flags & mm::VM_LOCKED) r.any_locked = true;
    if (!(v.flags & mm::VM_SHARED)) r.all_shared = false;
    if (v.backing || (v.flags & mm::VM_SHARED)) r.any_backed = true;
  });
  if (cursor < end) r.fully_mapped = false;
  return r;
}

// The /dev/zero device (character 1:5).
bool is_dev_zero(vfs::Vnode& v) {
  if (v.type() != vfs::VType::Char) return false;
  auto a = v.getattr();
  return a.ok() && a.value().rdev == devfs::DEV_ZERO;
}

uint32_t vm_prot(uint64_t prot) {
  return ((prot & PROT_READ) ? mm::VM_READ : 0) | ((prot & PROT_WRITE) ? mm::VM_WRITE : 0) |
         ((prot & PROT_EXEC) ? mm::VM_EXEC : 0);
}

// MADV_REMOVE: punches [start, end)'s part of the object behind each file
// (or shared anonymous) mapping in it. The objects are collected under the
// address space's lock (a few at a time, each retained) and punched after:
// punching takes the file's lock and may sleep.
Result<void> punch_backing(uintptr_t start, uintptr_t end) {
  constexpr size_t BATCH = 16;
  struct Part {
    mm::VmBacking* b;
    uint64_t offset, len;
  };
  for (uintptr_t from = start; from < end;) {
    Part parts[BATCH];
    size_t n = 0;
    uintptr_t next = end;
    as()->for_each_vma([&](const mm::Vma& v) {
      if (v.end <= from || v.start >= end || !v.backing || !v.backing->is_file()) return;
      if (n == BATCH) {
        if (v.start < next) next = v.start;
        return;
      }
      const uintptr_t s = v.start > from ? v.start : from, e = v.end < end ? v.end : end;
      v.backing->retain();
      parts[n++] = {v.backing, v.offset + (s - v.start), e - s};
    });
    Result<void> r;
    for (size_t i = 0; i < n; ++i) {
      if (r.ok()) r = static_cast<vfs::Vnode*>(parts[i].b)->punch_hole(parts[i].offset, parts[i].len);
      parts[i].b->release();
    }
    if (!r.ok()) return r.error() == Error::NotSupported ? Error::OpNotSupported : r.error();
    from = next;
  }
  return {};
}

}  // namespace

DEFINE_SYSCALL(12, brk, Result<Address>, Address brk) {
  // RLIMIT_DATA / RLIMIT_AS: a refused growth leaves the break where it is.
  uintptr_t cur = as()->brk_end();
  if (brk > cur && as()->brk_start() && brk >= as()->brk_start()) {
    uintptr_t from = pg_up(cur), to = pg_up(brk);
    if (to > from && !vm_may_expand(*as(), from, to - from, mm::VM_READ | mm::VM_WRITE, 0, false).ok())
      return Address{cur};
  }
  return Address{as()->brk(brk)};
}

// mmap(2); every argument is an unsigned long in Linux but the fd (an int).
DEFINE_SYSCALL(9, mmap, Result<Address>, Address addr, size_t len, Flags<uint64_t> prot, Flags<uint64_t> flags, Fd fd,
               Hex<uint64_t> off) {
  // Unknown PROT bits are ignored by mmap (mprotect rejects them).
  uint64_t type = flags & MAP_TYPE;
  if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE) return Error::Invalid;
  if (type == MAP_SHARED_VALIDATE && (flags & ~KNOWN_MAP_FLAGS)) return Error::OpNotSupported;
  // Linux knows MAP_SHARED_VALIDATE for files only; anonymous shared
  // memory cannot grow down.
  if ((flags & MAP_ANONYMOUS) && type == MAP_SHARED_VALIDATE) return Error::Invalid;
  if ((flags & MAP_ANONYMOUS) && type == MAP_SHARED && (flags & MAP_GROWSDOWN)) return Error::Invalid;
  if (!len) return Error::Invalid;
  if (off & 0xfff) return Error::Invalid;
  if (len > mm::USER_END) return Error::NoMemory;  // page rounding would overflow
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && (addr & 0xfff)) return Error::Invalid;
  mm::MapRequest req;
  vfs::FileRef file;
  vfs::VnodeRef shmem;  // shared anonymous memory's object
  bool nowrite = false;
  bool anonymous = flags & MAP_ANONYMOUS;
  if (!anonymous) {
    // mmap(2) on a descriptor: EBADF for a bad one (O_PATH included),
    // ENODEV for objects without pages (pipes, the console, directories),
    // EACCES for a description that does not allow the access.
    auto f = get_file(fd);
    if (!f) return Error::BadFd;
    file = static_cast<vfs::FileRef&&>(*f);
    if (file->flags() & vfs::OpenFile::PATH) return Error::BadFd;
    if (is_dev_zero(file->vnode())) {
      // /dev/zero: private is anonymous memory, shared a new shared
      // anonymous object (the offset is ignored), as Linux's mmap_zero.
      if (type != MAP_PRIVATE && (prot & PROT_WRITE) && !file->writable()) return Error::AccessDenied;
      if (!file->readable()) return Error::AccessDenied;
      nowrite = type != MAP_PRIVATE && !file->writable();
      anonymous = true;
      file = {};
    } else {
      // In Linux's order: the access checks, then the object (a pipe's
      // write end is EACCES, its read end ENODEV).
      if (type != MAP_PRIVATE && (prot & PROT_WRITE) && !file->writable()) return Error::AccessDenied;
      if (!file->readable()) return Error::AccessDenied;
      if (!file->vnode().is_regular() || file->vnode().is_stream()) return Error::NoDevice;
      // memfd_create(2): no shared writable mapping of a write-sealed file,
      // and a shared read-only one may not become writable (mprotect EACCES,
      // Linux clears VM_MAYWRITE).
      if (auto seals = file->vnode().seals();
          type != MAP_PRIVATE && seals.ok() && (seals.value() & (vfs::SEAL_WRITE | vfs::SEAL_FUTURE_WRITE))) {
        if (prot & PROT_WRITE) return Error::Permission;
        nowrite = true;
      }
      if (off + pg_up(len) < off || off + pg_up(len) > uint64_t(INT64_MAX)) return Error::Overflow;
      req.backing = &file->vnode();  // the VMA takes its own reference
      req.offset = off;
    }
  }
  if (anonymous && type != MAP_PRIVATE) {
    // Shared anonymous memory lives in an object of its own, so that its
    // data survives what drops a mapping's pages (mremap shrink,
    // MADV_DONTNEED) and is found again by every mapping of it.
    shmem = TRY(shared_anon_object(pg_up(len)));
    req.backing = shmem.get();  // the VMA takes its own reference
    req.offset = 0;
  }
  req.addr = addr;
  req.len = len;
  req.prot = vm_prot(prot);
  req.flags = (type != MAP_PRIVATE ? mm::VM_SHARED : 0) | ((flags & MAP_GROWSDOWN) ? mm::VM_GROWSDOWN : 0) |
              ((flags & MAP_NORESERVE) ? mm::VM_NORESERVE : 0) | ((flags & MAP_LOCKED) || current_process()->lock_future.load() ? mm::VM_LOCKED : 0) |
              ((file && type != MAP_PRIVATE && !file->writable()) || nowrite ? mm::VM_NOWRITE : 0);
  req.placement = (flags & MAP_FIXED_NOREPLACE) ? mm::Placement::FixedNoReplace
                  : (flags & MAP_FIXED)         ? mm::Placement::Fixed
                                                : mm::Placement::Hint;
  // MAP_32BIT (x86-64): in the second GiB, as Linux places it.
  req.low_window = flags & MAP_32BIT;
  TRY(vm_may_expand(*as(), addr, pg_up(len), req.prot, req.flags, req.placement == mm::Placement::Fixed));
  return Address{TRY(as()->mmap(req, flags & MAP_POPULATE))};
}

DEFINE_SYSCALL(11, munmap, Result<void>, Address addr, size_t len) {
  if ((addr & page_mask) || !len || len > mm::USER_END || addr > mm::USER_END - pg_up(len)) return Error::Invalid;
  return as()->munmap(addr, len);
}

DEFINE_SYSCALL(10, mprotect, Result<void>, Address addr_arg, size_t len, Flags<uint64_t> prot) {
  uint64_t addr = addr_arg;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP)) return Error::Invalid;
  if ((prot & PROT_GROWSDOWN) && (prot & PROT_GROWSUP)) return Error::Invalid;
  if (addr & page_mask) return Error::Invalid;
  if (!len) return {};
  if (len > mm::USER_END || addr > mm::USER_END - pg_up(len)) return Error::NoMemory;
  if (prot & PROT_GROWSUP) return Error::Invalid;  // no grows-up VMAs on x86-64
  if (prot & PROT_GROWSDOWN) {
    // Only on a grows-down VMA, which the change then covers down to its start.
    bool grows = false;
    uintptr_t vstart = addr;
    as()->for_each_vma([&](const mm::Vma& v) {
      if (v.contains(addr)) {
        grows = v.flags & mm::VM_GROWSDOWN;
        vstart = v.start;
      }
    });
    if (!grows) return Error::Invalid;
    len += addr - vstart;
    addr = vstart;
  }
  if (prot & PROT_WRITE) {
    // A shared mapping of a file opened read-only never becomes writable
    // (mprotect(2): EACCES).
    bool denied = false;
    const uint64_t end = addr + pg_up(len);
    as()->for_each_vma([&](const mm::Vma& v) {
      if (v.end > addr && v.start < end && (v.flags & mm::VM_NOWRITE)) denied = true;
    });
    if (denied) return Error::AccessDenied;
  }
  return as()->mprotect(addr, pg_up(len), vm_prot(prot));
}

DEFINE_SYSCALL(25, mremap, Result<Address>, Address old_addr, size_t old_len, size_t new_len, Flags<uint64_t> flags,
               Address new_addr) {
  if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) return Error::Invalid;
  if (flags & MREMAP_DONTUNMAP) return Error::Invalid;  // not supported (docs/syscalls.md)
  if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) return Error::Invalid;
  if (old_addr & page_mask) return Error::Invalid;
  if (!pg_up(new_len)) return Error::Invalid;
  if (old_len > mm::USER_END || new_len > mm::USER_END) return Error::Invalid;
  if (!old_len) return Error::Invalid;  // duplicating a shared mapping: not supported
  TRY(vm_may_resize(*as(), old_addr, pg_up(old_len), pg_up(new_len)));  // RLIMIT_AS / RLIMIT_DATA
  return Address{TRY(as()->mremap(old_addr, old_len, new_len, uint32_t(flags & (MREMAP_MAYMOVE | MREMAP_FIXED)), new_addr))};
}

// madvise(2): advice values from asm-generic/mman-common.h.
DEFINE_SYSCALL(28, madvise, Result<void>, Address addr, size_t len_arg, int advice) {
  enum : int {
    NORMAL = 0, RANDOM = 1, SEQUENTIAL = 2, WILLNEED = 3, DONTNEED = 4, FREE = 8, REMOVE = 9,
    DONTFORK = 10, DOFORK = 11, MERGEABLE = 12, UNMERGEABLE = 13, HUGEPAGE = 14, NOHUGEPAGE = 15,
    DONTDUMP = 16, DODUMP = 17, WIPEONFORK = 18, KEEPONFORK = 19, COLD = 20, PAGEOUT = 21,
    POPULATE_READ = 22, POPULATE_WRITE = 23, DONTNEED_LOCKED = 24, COLLAPSE = 25,
  };
  uint64_t len = len_arg;
  switch (advice) {
    case NORMAL: case RANDOM: case SEQUENTIAL: case WILLNEED: case DONTNEED: case FREE: case REMOVE:
    case DONTFORK: case DOFORK: case MERGEABLE: case UNMERGEABLE: case HUGEPAGE: case NOHUGEPAGE:
    case DONTDUMP: case DODUMP: case WIPEONFORK: case KEEPONFORK: case COLD: case PAGEOUT:
    case POPULATE_READ: case POPULATE_WRITE: case DONTNEED_LOCKED: case COLLAPSE:
      break;
    default:
      return Error::Invalid;
  }
  if (addr & page_mask) return Error::Invalid;
  if (len > mm::USER_END || addr > mm::USER_END - pg_up(len)) return Error::Invalid;
  len = pg_up(len);
  if (!len) return {};
  const RangeInfo info = scan(addr, addr + len);
  switch (advice) {
    case DONTNEED:
      if (info.any_locked) return Error::Invalid;
      [[fallthrough]];
    case DONTNEED_LOCKED: {
      // Linux drops the pages of the mapped parts and then reports a hole.
      Result<void> r = as()->discard(addr, len);
      if (!r.ok() && r.error() == Error::Invalid) {
        // DONTNEED_LOCKED on a locked range: unlock-free discard is not
        // offered by the address space; the pages stay (they are still valid).
        if (advice == DONTNEED_LOCKED) return info.fully_mapped ? Result<void>() : Error::NoMemory;
        return Error::Invalid;
      }
      return r;
    }
    case REMOVE:
      // Frees the object's pages behind the range (a hole: zeros for every
      // mapping of it), then drops the mapping's pages.
      if (!info.all_shared || info.any_locked) return Error::Invalid;
      TRY(punch_backing(addr, addr + len));
      return as()->discard(addr, len);
    case FREE:
      // Private anonymous memory only (Linux: EINVAL for files and shared
      // memory); the pages are kept, which MADV_FREE allows.
      if (info.any_backed) return Error::Invalid;
      return info.fully_mapped ? Result<void>() : Error::NoMemory;
    case DONTFORK:
      return as()->set_fork_flags(addr, len, mm::VM_DONTCOPY, 0);
    case DOFORK:
      return as()->set_fork_flags(addr, len, 0, mm::VM_DONTCOPY);
    case WIPEONFORK:
      return as()->set_fork_flags(addr, len, mm::VM_WIPEONFORK, 0);
    case KEEPONFORK:
      return as()->set_fork_flags(addr, len, 0, mm::VM_WIPEONFORK);
    case POPULATE_READ:
    case POPULATE_WRITE:
      if (!info.fully_mapped) return Error::NoMemory;
      return as()->populate(addr, len);
    default:
      // Hints: nothing to do, but a
      // range with holes is still reported as Linux does.
      return info.fully_mapped ? Result<void>() : Error::NoMemory;
  }
}

DEFINE_SYSCALL(149, mlock, Result<void>, Address addr, size_t len) {
  if (!len) return {};
  if (len > mm::USER_END || addr > mm::USER_END - len) return Error::NoMemory;
  return as()->mlock(addr, len);
}

DEFINE_SYSCALL(325, mlock2, Result<void>, Address addr, size_t len, Flags<unsigned> flags) {
  if (flags & ~MLOCK_ONFAULT) return Error::Invalid;
  if (!len) return {};
  if (len > mm::USER_END || addr > mm::USER_END - len) return Error::NoMemory;
  // MLOCK_ONFAULT: pages may be populated at once; the result is the same.
  return as()->mlock(addr, len);
}

DEFINE_SYSCALL(150, munlock, Result<void>, Address addr, size_t len) {
  if (!len) return {};
  if (len > mm::USER_END || addr > mm::USER_END - len) return Error::NoMemory;
  return as()->munlock(addr, len);
}

namespace {
// Applies f(start, len) to every VMA (collected first: f takes the lock).
template <typename F>
Result<void> each_vma_range(F&& f) {
  constexpr size_t BATCH = 64;
  struct Range {
    uintptr_t start, end;
  };
  Range batch[BATCH];
  uintptr_t from = 0;
  for (;;) {
    size_t n = 0;
    as()->for_each_vma([&](const mm::Vma& v) {
      if (v.start >= from && n < BATCH) batch[n++] = {v.start, v.end};
    });
    for (size_t i = 0; i < n; ++i) TRY(f(batch[i].start, batch[i].end - batch[i].start));
    if (n < BATCH) return {};
    from = batch[n - 1].end;
  }
}
}  // namespace

DEFINE_SYSCALL(151, mlockall, Result<void>, Flags<unsigned> flags) {
  if (!flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags == MCL_ONFAULT) return Error::Invalid;
  if (flags & MCL_CURRENT) {
    // PROT_NONE areas are locked but not populated (the address space skips them).
    TRY(each_vma_range([](uintptr_t s, size_t n) { return as()->mlock(s, n); }));
  }
  if (flags & MCL_FUTURE) current_process()->lock_future.store(true);
  return {};
}

DEFINE_SYSCALL(152, munlockall, Result<void>) {
  current_process()->lock_future.store(false);
  return each_vma_range([](uintptr_t s, size_t n) { return as()->munlock(s, n); });
}

DEFINE_SYSCALL(26, msync, Result<void>, Address addr, size_t len, Flags<unsigned> flags) {
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return Error::Invalid;
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return Error::Invalid;
  if (addr & page_mask) return Error::Invalid;
  if (len > mm::USER_END || addr > mm::USER_END - pg_up(len)) return Error::NoMemory;
  // MS_INVALIDATE on a locked range is EBUSY in Linux.
  if ((flags & MS_INVALIDATE) && len && scan(addr, addr + pg_up(len)).any_locked) return Error::Busy;
  return as()->msync(addr, len);
}

DEFINE_SYSCALL(27, mincore, Result<void>, Address addr, size_t len, UserPtr<uint8_t> vec) {
  if (addr & page_mask) return Error::Invalid;
  if (len > mm::USER_END || addr > mm::USER_END - pg_up(len)) return Error::NoMemory;
  const uint64_t pages = pg_up(len) / PAGE_SIZE;
  if (!user_range_ok(vec.unsafe_get(), pages)) return Error::Fault;
  uint8_t buf[256];
  for (uint64_t done = 0; done < pages;) {
    uint64_t n = pages - done < sizeof(buf) ? pages - done : sizeof(buf);
    TRY(as()->mincore(addr + done * PAGE_SIZE, n * PAGE_SIZE, buf));
    TRY(vec.offset(done).copy_out(buf, n));
    done += n;
  }
  return {};
}

}  // namespace capsule::linux_abi
