// System V shared memory: shmget, shmat, shmdt, shmctl (docs/ipc.md).
//
// A segment is a file with no name in a private ramfs instance (as
// memfd_create's), seen by the address spaces through the segment itself
// (a VmBacking that hands out the file's pages): shmat maps it VM_SHARED,
// fork copies the mapping, and a shared futex in it is keyed by its page
// like any shared mapping's. shm_nattch is the number of VMAs mapping it
// (VmBacking::vm_maps, which fork and splits raise as Linux's count).
//
// Lifetime: the table holds one reference, every VMA one (retain/release,
// from the address spaces), shmat one while it works. IPC_RMID marks the
// segment SHM_DEST and makes its key private; the segment leaves the table
// at once if nothing maps it, else when the last mapping goes (release(),
// called with an address space's lock held: so the table's lock is a
// spinlock, never held across anything that sleeps).
#include <climits>
#include <new>

#include "arch/uaccess.h"
#include "core/address_space.h"
#include "core/mm/vma.h"
#include "fs/ramfs/ramfs.h"
#include "linux/identity.h"
#include "linux/ipc_ids.h"
#include "linux/process.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

// include/uapi/linux/shm.h and ipc.h.
constexpr uint32_t SHM_HUGETLB = 04000, SHM_NORESERVE = 010000;
constexpr uint32_t SHM_RDONLY = 010000, SHM_RND = 020000, SHM_REMAP = 040000, SHM_EXEC = 0100000;
constexpr uint32_t SHM_DEST = 01000, SHM_LOCKED = 02000;  // in the mode
constexpr int SHM_LOCK = 11, SHM_UNLOCK = 12, SHM_STAT = 13, SHM_INFO = 14, SHM_STAT_ANY = 15;
// Linux's defaults (ipc/shm.c, include/uapi/linux/shm.h).
constexpr uint64_t SHMMIN = 1, SHMMAX = ULONG_MAX - (1ul << 24), SHMALL = ULONG_MAX - (1ul << 24);
constexpr size_t SHMMNI = 4096;
constexpr uint64_t SHMLBA = PAGE_SIZE;

struct ShmidDs {  // struct shmid64_ds, x86-64
  Ipc64Perm perm;
  uint64_t segsz;
  int64_t atime, dtime, ctime;
  int32_t cpid, lpid;
  uint64_t nattch, unused4, unused5;
};
static_assert(sizeof(ShmidDs) == 112);

struct ShmInfo64 {  // struct shminfo64 (IPC_INFO)
  uint64_t shmmax, shmmin, shmmni, shmseg, shmall, unused[4];
};
static_assert(sizeof(ShmInfo64) == 72);

struct ShmInfo {  // struct shm_info (SHM_INFO)
  int32_t used_ids;
  uint64_t shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes;
};
static_assert(sizeof(ShmInfo) == 48);

class Segment;
SpinLock g_lock;  // the table and every segment's fields
IpcTable<Segment, SHMMNI> g_table GUARDED_BY(g_lock);
Mutex g_mu;       // serializes shmget (which creates files) and the ctl calls
ramfs::Ramfs* g_fs = nullptr;  // one reference, for the VM's life (under g_mu)

class Segment final : public mm::VmBacking {
 public:
  IpcPerm perm;
  uint64_t size = 0;
  int64_t atime = 0, dtime = 0, ctime = 0;
  int32_t cpid = 0, lpid = 0;
  vfs::VnodeRef file;

  Result<uint64_t> page(uint64_t offset) override { return file->page(offset); }
  void retain() override { refs_.fetch_add(1, std::memory_order_relaxed); }
  // A VMA going away (vm_maps already lower) or a pin dropped: the last
  // detach of a destroyed segment takes it out of the table.
  void release() override {
    if (vm_maps.load(std::memory_order_acquire) == 0) {
      bool drop_table_ref = false;
      {
        SpinGuard g(g_lock);
        if ((perm.mode & SHM_DEST) && in_table_) {
          g_table.remove(id_);
          in_table_ = false;
          drop_table_ref = true;
        }
      }
      if (drop_table_ref) put();
    }
    put();
  }
  void put() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  int id() const { return id_; }
  void set_id(int id) {
    id_ = id;
    in_table_ = true;
  }
  bool in_table() const { return in_table_; }
  void leave_table() { in_table_ = false; }

 private:
  ~Segment() = default;
  std::atomic<uint32_t> refs_{1};  // the table's
  int id_ = -1;
  bool in_table_ = false;  // under g_lock
};

Result<ramfs::Ramfs*> shm_fs() REQUIRES(g_mu) {
  if (!g_fs) {
    auto fs = TRY(ramfs::Ramfs::create());
    g_fs = fs.leak();
  }
  return g_fs;
}

int32_t current_pid() {
  Process* p = current_process();
  return p ? p->pid : 0;
}

ShmidDs stat_of(const Segment& s) REQUIRES(g_lock) {
  ShmidDs d{};
  d.perm = ipc_perm_abi(s.perm);
  d.segsz = s.size;
  d.atime = s.atime;
  d.dtime = s.dtime;
  d.ctime = s.ctime;
  d.cpid = s.cpid;
  d.lpid = s.lpid;
  d.nattch = s.vm_maps.load(std::memory_order_acquire);
  return d;
}

uint64_t total_pages() REQUIRES(g_lock) {
  uint64_t n = 0;
  g_table.for_each([&](const Segment& s) { n += (s.size + PAGE_SIZE - 1) / PAGE_SIZE; });
  return n;
}

Result<int> new_segment(int32_t key, uint64_t size, uint32_t flags) REQUIRES(g_mu) {
  if (size < SHMMIN || size > SHMMAX) return Error::Invalid;
  const uint64_t pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
  {
    SpinGuard g(g_lock);
    if (total_pages() + pages > SHMALL) return Error::NoSpace;
    if (g_table.count() >= SHMMNI) return Error::NoSpace;
  }
  ramfs::Ramfs* fs = TRY(shm_fs());
  vfs::CreateArgs a;
  a.mode = vfs::MODE_REGULAR | (flags & 0777);
  a.uid = current_euid();
  a.gid = current_egid();
  vfs::VnodeRef file = TRY(fs->create_unlinked(a, false));
  TRY(file->truncate(size));
  auto* s = new (std::nothrow) Segment;
  if (!s) return Error::NoMemory;
  s->perm = ipc_perm_new(key, flags);
  s->size = size;
  s->ctime = ipc_now();
  s->cpid = current_pid();
  s->file = static_cast<vfs::VnodeRef&&>(file);
  SpinGuard g(g_lock);
  auto id = g_table.insert(s);
  if (!id) {
    s->put();
    return id.error();
  }
  s->set_id(*id);
  return *id;
}

// A segment by id, pinned (a reference) so it outlives g_lock; nullptr if
// there is none.
Segment* pin(int id) {
  SpinGuard g(g_lock);
  Segment* s = g_table.find_id(id);
  if (s) s->retain();
  return s;
}

}  // namespace

// shmget(2).
DEFINE_SYSCALL(29, shmget, Result<int>, int key, size_t size, Flags<int> flags) {
  const uint32_t fl = uint32_t(int(flags));
  MutexGuard g(g_mu);
  if (key == L_IPC_PRIVATE) return new_segment(key, size, fl);
  {
    SpinGuard sg(g_lock);
    if (Segment* s = g_table.find_key(key)) {
      if ((fl & L_IPC_CREAT) && (fl & L_IPC_EXCL)) return Error::Exists;
      if (s->size < size) return Error::Invalid;
      if (!ipc_permitted(s->perm, fl)) return Error::AccessDenied;
      return s->id();
    }
  }
  if (!(fl & L_IPC_CREAT)) return Error::NotFound;
  return new_segment(key, size, fl);
}

// shmat(2): maps the whole segment, shared; SHM_RDONLY read-only (and never
// writable by mprotect), SHM_EXEC executable too.
DEFINE_SYSCALL(30, shmat, Result<Address>, int shmid, Address shmaddr, Flags<int> flags) {
  const uint32_t fl = uint32_t(int(flags));
  uint64_t addr = shmaddr;
  if (shmid < 0) return Error::Invalid;
  if (addr) {
    if (addr & (SHMLBA - 1)) {
      if (!(fl & SHM_RND)) return Error::Invalid;
      addr &= ~(SHMLBA - 1);
      if (!addr && (fl & SHM_REMAP)) return Error::Invalid;
    }
  } else if (fl & SHM_REMAP) {
    return Error::Invalid;
  }
  uint32_t prot = mm::VM_READ, want = 0444;
  if (!(fl & SHM_RDONLY)) prot |= mm::VM_WRITE, want |= 0222;
  if (fl & SHM_EXEC) prot |= mm::VM_EXEC, want |= 0111;
  Segment* s = pin(shmid);
  if (!s) return Error::Invalid;
  uint64_t size;
  bool allowed;
  {
    SpinGuard g(g_lock);
    size = s->size;
    allowed = ipc_permitted(s->perm, want);
  }
  Error err = Error::AccessDenied;
  uintptr_t at = 0;
  if (allowed) {
    mm::MapRequest req;
    req.addr = addr;
    req.len = (size + PAGE_SIZE - 1) & ~uint64_t(PAGE_SIZE - 1);
    req.prot = prot;
    req.flags = mm::VM_SHARED | ((fl & SHM_RDONLY) ? mm::VM_NOWRITE : 0);
    req.backing = s;
    req.placement = !addr ? mm::Placement::Hint
                    : (fl & SHM_REMAP) ? mm::Placement::Fixed
                                       : mm::Placement::FixedNoReplace;
    // Without SHM_REMAP an address in use is EINVAL (shmat(2)).
    auto r = current_process()->as->mmap(req);
    err = r.ok() ? Error::None : r.error() == Error::Exists ? Error::Invalid : r.error();
    if (r.ok()) {
      at = *r;
      SpinGuard g(g_lock);
      s->atime = ipc_now();
      s->lpid = current_pid();
    }
  }
  s->release();  // the pin
  if (err != Error::None) return err;
  return Address{at};
}

// shmdt(2): addr must be where a segment was attached (the start of a
// mapping of its offset 0); every mapping of that segment from there to
// the segment's size goes. EINVAL otherwise.
DEFINE_SYSCALL(67, shmdt, Result<void>, Address shmaddr) {
  const uint64_t addr = shmaddr;
  if (addr & (PAGE_SIZE - 1)) return Error::Invalid;
  AddressSpace* as = current_process()->as;
  mm::VmBacking* backing = nullptr;
  as->for_each_vma([&](const mm::Vma& v) {
    if (v.start == addr && v.offset == 0 && v.backing) backing = v.backing;
  });
  if (!backing) return Error::Invalid;
  Segment* s = nullptr;
  uint64_t size = 0;
  {
    SpinGuard g(g_lock);
    // Only the table's segments are segments (a removed one that is still
    // mapped stays in the table until its last detach).
    g_table.for_each([&](Segment& seg) {
      if (&seg == backing) s = &seg;
    });
    if (!s) return Error::Invalid;
    s->retain();
    size = s->size;
  }
  // The VMAs of the segment in [addr, addr + size): a few ranges (mprotect
  // may have split the mapping).
  const uint64_t end = addr + ((size + PAGE_SIZE - 1) & ~uint64_t(PAGE_SIZE - 1));
  for (int round = 0; round < 64; ++round) {
    uint64_t from = 0, to = 0;
    as->for_each_vma([&](const mm::Vma& v) {
      if (!to && v.backing == s && v.end > addr && v.start < end) from = v.start, to = v.end;
    });
    if (!to) break;
    (void)as->munmap(from, to - from);
  }
  {
    SpinGuard g(g_lock);
    s->dtime = ipc_now();
    s->lpid = current_pid();
  }
  s->release();
  return {};
}

// shmctl(2).
DEFINE_SYSCALL(31, shmctl, Result<int>, int shmid, int cmd, UserPtr<uint8_t> buf) {
  if (cmd < 0 || shmid < 0) return Error::Invalid;
  switch (cmd) {
    case L_IPC_INFO: {
      ShmInfo64 i{};
      i.shmmax = SHMMAX;
      i.shmmin = SHMMIN;
      i.shmmni = SHMMNI;
      i.shmseg = SHMMNI;
      i.shmall = SHMALL;
      int maxidx;
      {
        SpinGuard g(g_lock);
        maxidx = g_table.max_index();
      }
      TRY(buf.cast<ShmInfo64>().write(i));
      return maxidx;
    }
    case SHM_INFO: {
      ShmInfo i{};
      int maxidx;
      {
        SpinGuard g(g_lock);
        i.used_ids = int32_t(g_table.count());
        i.shm_tot = total_pages();
        i.shm_rss = i.shm_tot;
        maxidx = g_table.max_index();
      }
      TRY(buf.cast<ShmInfo>().write(i));
      return maxidx;
    }
    case SHM_STAT:
    case SHM_STAT_ANY:
    case L_IPC_STAT: {
      ShmidDs d;
      int ret = 0;
      {
        SpinGuard g(g_lock);
        Segment* s = cmd == L_IPC_STAT ? g_table.find_id(shmid) : g_table.find_index(shmid);
        if (!s) return Error::Invalid;
        if (cmd != SHM_STAT_ANY && !ipc_permitted(s->perm, 0444)) return Error::AccessDenied;
        d = stat_of(*s);
        if (cmd != L_IPC_STAT) ret = s->id();
      }
      TRY(buf.cast<ShmidDs>().write(d));
      return ret;
    }
    case L_IPC_SET: {
      const ShmidDs in = TRY(buf.cast<const ShmidDs>().read());
      SpinGuard g(g_lock);
      Segment* s = g_table.find_id(shmid);
      if (!s) return Error::Invalid;
      if (!ipc_is_owner(s->perm)) return Error::Permission;
      ipc_perm_set(s->perm, in.perm);
      s->ctime = ipc_now();
      return 0;
    }
    case L_IPC_RMID: {
      Segment* gone = nullptr;
      {
        SpinGuard g(g_lock);
        Segment* s = g_table.find_id(shmid);
        if (!s) return Error::Invalid;
        if (!ipc_is_owner(s->perm)) return Error::Permission;
        s->perm.mode |= SHM_DEST;
        s->perm.key = L_IPC_PRIVATE;  // no shmget finds it any more
        if (s->vm_maps.load(std::memory_order_acquire) == 0) {
          g_table.remove(s->id());
          s->leave_table();
          gone = s;
        }
      }
      if (gone) gone->put();  // the table's reference: the memory goes
      return 0;
    }
    case SHM_LOCK:
    case SHM_UNLOCK: {
      SpinGuard g(g_lock);
      Segment* s = g_table.find_id(shmid);
      if (!s) return Error::Invalid;
      if (!ipc_is_owner(s->perm) && !current_capable(L_CAP_IPC_LOCK)) return Error::Permission;
      // Nothing is ever swapped: the flag is only reported.
      if (cmd == SHM_LOCK)
        s->perm.mode |= SHM_LOCKED;
      else
        s->perm.mode &= ~SHM_LOCKED;
      return 0;
    }
    default:
      return Error::Invalid;
  }
}

}  // namespace capsule::linux_abi
