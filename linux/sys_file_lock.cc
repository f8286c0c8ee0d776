// Advisory file locks (docs/file-locks.md): fcntl(2)'s POSIX record locks
// (owner: the process), open-file-description locks (owner: the OpenFile;
// F_OFD_*) and flock(2) (owner: the OpenFile, whole file, a separate
// space that never conflicts with record locks — as Linux).
//
// One table for the VM: an entry per locked file (holding a reference on
// its vnode) with two LockLists (fs/file_lock.h). A blocked F_SETLKW
// or flock() waits on one wait list, woken by every unlock; waits are
// interruptible (EINTR).
#include "fs/file_lock.h"

#include <new>

#include "linux/process.h"
#include "arch/uaccess.h"
#include "core/event/wait.h"
#include "linux/file_common.h"
#include "linux/file_lock.h"
#include "linux/signal.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::LockList;
using vfs::LockType;
using vfs::OpenFile;

constexpr uint64_t F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7, F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38;
constexpr int16_t F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
constexpr uint64_t LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;

struct Flock {  // struct flock, x86-64
  int16_t type, whence;
  int32_t pad0;
  int64_t start, len;
  int32_t pid, pad1;
};
static_assert(sizeof(Flock) == 32);

struct LockedFile {
  vfs::VnodeRef vnode;
  LockList ranges;  // POSIX and OFD record locks
  LockList flocks;  // flock(2)
  LockedFile* next;
};

Mutex g_mu;
event::WaitList g_wait;
LockedFile* g_files GUARDED_BY(g_mu) = nullptr;

LockedFile* find_locked(vfs::Vnode* v) REQUIRES(g_mu) {
  g_mu.assert_held();
  for (LockedFile* e = g_files; e; e = e->next)
    if (e->vnode.get() == v) return e;
  return nullptr;
}

LockedFile* get_locked(vfs::Vnode* v) REQUIRES(g_mu) {
  g_mu.assert_held();
  if (LockedFile* e = find_locked(v)) return e;
  auto* e = new (std::nothrow) LockedFile{vfs::VnodeRef(v), {}, {}, g_files};
  if (e) g_files = e;
  return e;
}

// Drops an entry that holds no lock any more. Returns the vnode reference
// so that the caller releases it after dropping g_mu.
vfs::VnodeRef prune_locked(LockedFile* e) REQUIRES(g_mu) {
  g_mu.assert_held();
  if (!e->ranges.empty() || !e->flocks.empty()) return {};
  for (LockedFile** l = &g_files; *l; l = &(*l)->next) {
    if (*l == e) {
      *l = e->next;
      break;
    }
  }
  vfs::VnodeRef v = static_cast<vfs::VnodeRef&&>(e->vnode);
  delete e;
  return v;
}

const void* process_owner() { return current_process(); }
int32_t process_pid() {
  Process* p = current_process();
  return p ? p->pid : 1;
}

// The last reference to a description went: its OFD and flock locks go.
void drop_description(OpenFile& f) {
  vfs::VnodeRef dead;
  {
    MutexGuard g(g_mu);
    if (LockedFile* e = find_locked(&f.vnode())) {
      e->ranges.unlock_all(&f);
      e->flocks.unlock_all(&f);
      dead = prune_locked(e);
    }
  }
  g_wait.wake_all();
}

void install_hook() {
  if (!OpenFile::on_last_release.load(std::memory_order_acquire))
    OpenFile::on_last_release.store(drop_description, std::memory_order_release);
}

// struct flock's range as [start, end] (fcntl(2)): relative to whence, a
// negative length reaches backwards.
Result<void> range_of(OpenFile& f, const Flock& fl, uint64_t& start, uint64_t& end) {
  int64_t base;
  switch (fl.whence) {
    case 0: base = 0; break;
    case 1: base = int64_t(f.offset()); break;
    case 2: {
      base = int64_t(TRY(f.vnode().getattr()).size);
      break;
    }
    default: return Error::Invalid;
  }
  int64_t s;
  if (__builtin_add_overflow(base, fl.start, &s)) return Error::Overflow;
  if (fl.len > 0) {
    int64_t e;
    if (__builtin_add_overflow(s, fl.len - 1, &e)) return Error::Overflow;
    if (s < 0) return Error::Invalid;
    start = uint64_t(s), end = uint64_t(e);
  } else if (fl.len == 0) {
    if (s < 0) return Error::Invalid;
    start = uint64_t(s), end = vfs::LOCK_TO_EOF;
  } else {
    int64_t b;
    if (__builtin_add_overflow(s, fl.len, &b) || b < 0) return Error::Invalid;
    if (s == 0) return Error::Invalid;
    start = uint64_t(b), end = uint64_t(s - 1);
  }
  return {};
}

}  // namespace

bool is_lock_cmd(uint64_t cmd) {
  return cmd == F_GETLK || cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_GETLK || cmd == F_OFD_SETLK ||
         cmd == F_OFD_SETLKW;
}

Result<void> fcntl_record_lock(OpenFile& f, int cmd, UserPtr<uint8_t> arg) {
  if (f.flags() & OpenFile::PATH) return Error::BadFd;
  UserPtr<Flock> ufl = arg.cast<Flock>();
  Flock fl = TRY(ufl.read());
  bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
  // fcntl(2): OFD requests must have l_pid 0.
  if (ofd && fl.pid != 0) return Error::Invalid;
  if (fl.type != F_RDLCK && fl.type != F_WRLCK && fl.type != F_UNLCK) return Error::Invalid;
  uint64_t start = 0, end = 0;
  TRY(range_of(f, fl, start, end));
  const void* owner = ofd ? static_cast<const void*>(&f) : process_owner();
  int32_t pid = ofd ? -1 : process_pid();
  LockType type = fl.type == F_WRLCK ? LockType::Write : LockType::Read;
  vfs::Vnode* v = &f.vnode();

  if (cmd == F_GETLK || cmd == F_OFD_GETLK) {
    if (fl.type == F_UNLCK) return Error::Invalid;
    {
      MutexGuard g(g_mu);
      LockedFile* e = find_locked(v);
      const vfs::FileLock* c = e ? e->ranges.conflict(owner, type, start, end) : nullptr;
      if (!c) {
        fl.type = F_UNLCK;
      } else {
        fl.type = c->type == LockType::Write ? F_WRLCK : F_RDLCK;
        fl.whence = 0;
        fl.start = int64_t(c->start);
        fl.len = c->end == vfs::LOCK_TO_EOF ? 0 : int64_t(c->end - c->start + 1);
        fl.pid = c->pid;
      }
    }
    return ufl.write(fl);
  }

  // fcntl(2): EBADF when the descriptor is not open for the access the
  // lock type needs.
  if (fl.type == F_RDLCK && !f.readable()) return Error::BadFd;
  if (fl.type == F_WRLCK && !f.writable()) return Error::BadFd;
  install_hook();
  bool wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
  vfs::VnodeRef dead;
  Result<void> r;
  {
    MutexGuard g(g_mu);
    if (fl.type == F_UNLCK) {
      if (LockedFile* e = find_locked(v)) {
        r = e->ranges.unlock(owner, start, end);
        dead = prune_locked(e);
      }
    } else {
      LockedFile* e = get_locked(v);
      if (!e) return Error::NoLocks;
      for (;;) {
        if (!e->ranges.conflict(owner, type, start, end)) {
          r = e->ranges.lock(owner, pid, type, start, end);
          if (r.error() == Error::NoMemory) r = Error::NoLocks;
          if (r.ok() && ofd) f.has_locks.store(true, std::memory_order_release);
          break;
        }
        if (!wait) {
          r = Error::Again;
          break;
        }
        auto w = g_wait.wait(g_mu, 0);
        e = get_locked(v);  // the holder's unlock may have pruned it while we slept
        if (!e) {
          r = Error::NoLocks;
          break;
        }
        if (!w.ok()) {
          r = Error::RestartSys;  // EINTR, or a restart under SA_RESTART (as Linux)
          break;
        }
      }
      if (e) dead = prune_locked(e);
    }
  }
  if (fl.type == F_UNLCK || r.ok()) g_wait.wake_all();
  return r;
}

void posix_locks_on_close(OpenFile& f) {
  if (!OpenFile::on_last_release.load(std::memory_order_acquire)) return;  // no lock was ever taken
  vfs::VnodeRef dead;
  {
    MutexGuard g(g_mu);
    LockedFile* e = find_locked(&f.vnode());
    if (!e || !e->ranges.holds(process_owner())) return;
    e->ranges.unlock_all(process_owner());
    dead = prune_locked(e);
  }
  g_wait.wake_all();
}

// flock(2): one lock per description over the whole file; converting
// drops the old lock first (not atomic, as flock(2) warns).
DEFINE_SYSCALL(73, flock, Result<void>, Fd fd, Flags<int> operation) {
  auto fr = get_file(fd);
  if (!fr.ok()) return Error::BadFd;
  OpenFile& f = *fr.value();
  if (f.flags() & OpenFile::PATH) return Error::BadFd;
  uint32_t op = uint32_t(operation.value);
  bool nb = op & LOCK_NB;
  op &= ~uint32_t(LOCK_NB);
  if (op != LOCK_SH && op != LOCK_EX && op != LOCK_UN) return Error::Invalid;
  install_hook();
  vfs::Vnode* v = &f.vnode();
  vfs::VnodeRef dead;
  Result<void> r;
  {
    MutexGuard g(g_mu);
    if (op == LOCK_UN) {
      if (LockedFile* e = find_locked(v)) {
        e->flocks.unlock_all(&f);
        dead = prune_locked(e);
      }
    } else {
      LockType type = op == LOCK_EX ? LockType::Write : LockType::Read;
      LockedFile* e = get_locked(v);
      if (!e) return Error::NoLocks;
      for (;;) {
        if (!e->flocks.conflict(&f, type, 0, vfs::LOCK_TO_EOF)) {
          r = e->flocks.lock(&f, -1, type, 0, vfs::LOCK_TO_EOF);
          if (r.ok()) f.has_locks.store(true, std::memory_order_release);
          break;
        }
        // A conversion gives up the old lock before waiting.
        if (e->flocks.holds(&f)) {
          e->flocks.unlock_all(&f);
          g_wait.wake_all();
        }
        if (nb) {
          r = Error::Again;  // EWOULDBLOCK
          break;
        }
        auto w = g_wait.wait(g_mu, 0);
        e = get_locked(v);  // may have been pruned while we slept
        if (!e) {
          r = Error::NoLocks;
          break;
        }
        if (!w.ok()) {
          r = Error::RestartSys;  // EINTR, or a restart under SA_RESTART
          break;
        }
      }
      if (e) dead = prune_locked(e);
    }
  }
  if (op == LOCK_UN || r.ok()) g_wait.wake_all();
  return r;
}

}  // namespace capsule::linux_abi
