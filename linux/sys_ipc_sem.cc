// System V semaphores: semget, semop, semtimedop, semctl, and SEM_UNDO
// applied when a process ends (docs/ipc.md).
//
// One mutex guards every set and the undo records. A semop that cannot go
// on sleeps on its set's wait word (IpcWaitWord) with the mutex dropped;
// every change of a set's values wakes all its sleepers, which try their
// whole operation again (all or nothing, semop(2)). A sleeper holds a
// reference on the set, so IPC_RMID can take it out of the table, wake
// everyone with the set marked removed (EIDRM for them) and leave the
// freeing to the last one out.
#include <climits>
#include <new>

#include "arch/uaccess.h"
#include "core/mm.h"
#include "core/sync/wait_queue.h"
#include "core/time.h"
#include "lib/intrusive_list.h"
#include "linux/fork_state.h"
#include "linux/identity.h"
#include "linux/ipc_ids.h"
#include "linux/process.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

// include/uapi/linux/sem.h.
constexpr int GETPID = 11, GETVAL = 12, GETALL = 13, GETNCNT = 14, GETZCNT = 15, SETVAL = 16, SETALL = 17;
constexpr int SEM_STAT = 18, SEM_INFO = 19, SEM_STAT_ANY = 20;
constexpr int16_t SEM_UNDO = 0x1000;
// Linux's defaults (include/uapi/linux/sem.h).
constexpr int SEMMSL = 32000, SEMMNS = 1024000000, SEMOPM = 500, SEMVMX = 32767, SEMAEM = SEMVMX;
constexpr size_t SEMMNI = 1024;  // Linux allows 32000 sets; a smaller table here (IPC_INFO says so)

struct Sembuf {
  uint16_t sem_num;
  int16_t sem_op;
  int16_t sem_flg;
};
static_assert(sizeof(Sembuf) == 6);

struct SemidDs {  // struct semid64_ds, x86-64
  Ipc64Perm perm;
  int64_t otime;
  uint64_t unused1;
  int64_t ctime;
  uint64_t unused2;
  uint64_t nsems;
  uint64_t unused3, unused4;
};
static_assert(sizeof(SemidDs) == 104);

struct Seminfo {
  int32_t semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem;
};
static_assert(sizeof(Seminfo) == 40);

struct Timespec {
  int64_t tv_sec;
  int64_t tv_nsec;
};

struct Sem {
  int32_t val = 0;
  int32_t pid = 0;      // the last process that changed it
  uint32_t ncnt = 0;    // sleepers waiting for it to grow
  uint32_t zcnt = 0;    // sleepers waiting for it to be zero
};

struct SemSet {
  IpcPerm perm;
  int id = -1;
  int nsems = 0;
  int64_t otime = 0, ctime = 0;
  uint32_t refs = 1;     // the table's, and one per sleeper (under g_mu)
  bool removed = false;  // IPC_RMID ran: sleepers answer EIDRM
  IpcWaitWord changed;
  Sem sems[1];           // nsems of them (allocated past the struct)
};

// A process's adjustment of one semaphore (SEM_UNDO), applied when it ends.
struct Undo {
  int32_t pid;
  int32_t semid;
  int32_t num;
  int32_t adj;
  ListNode node;
};

Mutex g_mu;
IpcTable<SemSet, SEMMNI> g_table GUARDED_BY(g_mu);
IntrusiveList<Undo, &Undo::node> g_undos GUARDED_BY(g_mu);
uint64_t g_total_sems GUARDED_BY(g_mu) = 0;

int32_t current_pid() {
  Process* p = current_process();
  return p ? p->pid : 0;
}

void put_set(SemSet* s) REQUIRES(g_mu) {
  if (--s->refs == 0) kfree(s);
}

Undo* find_undo(int32_t pid, int semid, int num) REQUIRES(g_mu) {
  for (Undo& u : g_undos)
    if (u.pid == pid && u.semid == semid && u.num == num) return &u;
  return nullptr;
}

// SETVAL, SETALL and IPC_RMID clear the adjustments of what they touch
// (num < 0: the whole set), in every process.
void drop_undos(int semid, int num) REQUIRES(g_mu) {
  for (auto it = g_undos.begin(); it != g_undos.end();) {
    Undo& u = *it;
    ++it;
    if (u.semid == semid && (num < 0 || u.num == num)) {
      g_undos.remove(u);
      kfree(&u);
    }
  }
}

void remove_set(SemSet* s) REQUIRES(g_mu) {
  g_table.remove(s->id);
  g_total_sems -= uint64_t(s->nsems);
  drop_undos(s->id, -1);
  s->removed = true;
  s->changed.bump_and_wake();
  put_set(s);  // the table's reference
}

Result<int> new_set(int32_t key, int nsems, uint32_t flags) REQUIRES(g_mu) {
  if (nsems == 0) return Error::Invalid;
  if (g_total_sems + uint64_t(nsems) > uint64_t(SEMMNS)) return Error::NoSpace;
  if (g_table.count() >= SEMMNI) return Error::NoSpace;
  const size_t bytes = sizeof(SemSet) + sizeof(Sem) * size_t(nsems - 1);
  void* mem = kmalloc(bytes);
  if (!mem) return Error::NoMemory;
  __builtin_memset(mem, 0, bytes);
  auto* s = new (mem) SemSet;
  for (int i = 1; i < nsems; ++i) new (&s->sems[i]) Sem;
  s->perm = ipc_perm_new(key, flags);
  s->nsems = nsems;
  s->ctime = ipc_now();
  auto id = g_table.insert(s);
  if (!id) {
    kfree(s);
    return id.error();
  }
  s->id = *id;
  g_total_sems += uint64_t(nsems);
  return *id;
}

// One attempt at the whole operation (semop(2)): applied if every step can
// go on, else nothing changes. *block is the step that must wait.
enum class Attempt { Done, Block, Again, Range };
Attempt try_ops(SemSet& s, const Sembuf* ops, size_t n, int32_t pid, size_t* block) REQUIRES(g_mu) {
  size_t i = 0;
  Attempt result = Attempt::Done;
  for (; i < n; ++i) {
    const Sembuf& op = ops[i];
    Sem& m = s.sems[op.sem_num];
    if ((op.sem_op == 0 && m.val != 0) || m.val + op.sem_op < 0) {
      *block = i;
      result = (op.sem_flg & int16_t(L_IPC_NOWAIT)) ? Attempt::Again : Attempt::Block;
      break;
    }
    if (m.val + op.sem_op > SEMVMX) {
      result = Attempt::Range;
      break;
    }
    if (op.sem_flg & SEM_UNDO) {
      Undo* u = find_undo(pid, s.id, op.sem_num);
      const int adj = (u ? u->adj : 0) - op.sem_op;
      if (adj < -SEMAEM - 1 || adj > SEMAEM) {
        result = Attempt::Range;
        break;
      }
    }
    m.val += op.sem_op;
  }
  if (result != Attempt::Done) {
    while (i-- > 0) s.sems[ops[i].sem_num].val -= ops[i].sem_op;  // undo the steps taken
    return result;
  }
  return Attempt::Done;
}

// The steps of a successful operation: pids, times, SEM_UNDO records.
Result<void> commit_ops(SemSet& s, const Sembuf* ops, size_t n, int32_t pid) REQUIRES(g_mu) {
  bool altered = false;
  for (size_t i = 0; i < n; ++i) {
    const Sembuf& op = ops[i];
    s.sems[op.sem_num].pid = pid;
    if (op.sem_op) altered = true;
    if (!(op.sem_flg & SEM_UNDO) || !op.sem_op) continue;
    Undo* u = find_undo(pid, s.id, op.sem_num);
    if (!u) {
      void* mem = kmalloc(sizeof(Undo));
      if (!mem) return Error::NoMemory;  // Linux allocates the undo list before the operation
      u = new (mem) Undo{pid, s.id, op.sem_num, 0, {}};
      g_undos.push_back(*u);
    }
    u->adj -= op.sem_op;
  }
  s.otime = ipc_now();
  if (altered) s.changed.bump_and_wake();
  return {};
}

Result<int> semop_locked(int semid, const Sembuf* ops, size_t nsops, int max_num, bool alter, uint64_t deadline)
    REQUIRES(g_mu);

Result<int> do_semop(int semid, UserPtr<const Sembuf> usops, size_t nsops, uint64_t deadline) {
  if (nsops < 1 || semid < 0) return Error::Invalid;
  if (nsops > size_t(SEMOPM)) return Error::TooBig;
  Sembuf* ops = static_cast<Sembuf*>(kmalloc(sizeof(Sembuf) * nsops));
  if (!ops) return Error::NoMemory;
  struct Free {
    Sembuf* p;
    ~Free() { kfree(p); }
  } free_ops{ops};
  TRY(usops.copy_in(ops, nsops));
  int max_num = 0;
  bool alter = false;
  for (size_t i = 0; i < nsops; ++i) {
    if (ops[i].sem_num > max_num) max_num = ops[i].sem_num;
    if (ops[i].sem_op) alter = true;
  }
  MutexGuard g(g_mu);
  return semop_locked(semid, ops, nsops, max_num, alter, deadline);
}

// Under g_mu, which it drops while it sleeps.
Result<int> semop_locked(int semid, const Sembuf* ops, size_t nsops, int max_num, bool alter, uint64_t deadline)
    REQUIRES(g_mu) {
  const int32_t pid = current_pid();
  SemSet* s = g_table.find_id(semid);
  if (!s) return Error::Invalid;
  if (max_num >= s->nsems) return Error::FileTooBig;  // EFBIG
  if (!ipc_permitted(s->perm, alter ? 0222 : 0444)) return Error::AccessDenied;
  for (;;) {
    size_t block = 0;
    switch (try_ops(*s, ops, nsops, pid, &block)) {
      case Attempt::Done:
        TRY(commit_ops(*s, ops, nsops, pid));
        return 0;
      case Attempt::Again:
        return Error::Again;
      case Attempt::Range:
        return Error::Range;
      case Attempt::Block:
        break;
    }
    Sem& m = s->sems[ops[block].sem_num];
    const bool zero = ops[block].sem_op == 0;
    if (zero) ++m.zcnt; else ++m.ncnt;
    ++s->refs;
    const uint32_t seen = s->changed.snapshot();
    g_mu.unlock();
    Result<void> w = s->changed.wait(seen, deadline);
    g_mu.lock();
    if (zero) --m.zcnt; else --m.ncnt;
    const bool removed = s->removed;
    put_set(s);
    if (removed) return Error::IdRemoved;
    if (!w.ok()) {
      if (w.error() == Error::TimedOut) return Error::Again;  // semtimedop(2): EAGAIN
      return w.error();  // Interrupted: EINTR, never restarted (signal(7))
    }
  }
}

SemidDs stat_of(const SemSet& s) {
  SemidDs d{};
  d.perm = ipc_perm_abi(s.perm);
  d.otime = s.otime;
  d.ctime = s.ctime;
  d.nsems = uint64_t(s.nsems);
  return d;
}

}  // namespace

// semget(2).
DEFINE_SYSCALL(64, semget, Result<int>, int key, int nsems, Flags<int> flags) {
  const uint32_t fl = uint32_t(int(flags));
  if (nsems < 0 || nsems > SEMMSL) return Error::Invalid;
  MutexGuard g(g_mu);
  if (key == L_IPC_PRIVATE) return new_set(key, nsems, fl);
  if (SemSet* s = g_table.find_key(key)) {
    if ((fl & L_IPC_CREAT) && (fl & L_IPC_EXCL)) return Error::Exists;
    if (nsems > s->nsems) return Error::Invalid;
    if (!ipc_permitted(s->perm, fl)) return Error::AccessDenied;
    return s->id;
  }
  if (!(fl & L_IPC_CREAT)) return Error::NotFound;
  return new_set(key, nsems, fl);
}

// semop(2).
DEFINE_SYSCALL(65, semop, Result<int>, int semid, UserPtr<const Sembuf> sops, size_t nsops) {
  return do_semop(semid, sops, nsops, 0);
}

// semtimedop(2): the timeout is relative; when it passes, EAGAIN.
DEFINE_SYSCALL(220, semtimedop, Result<int>, int semid, UserPtr<const Sembuf> sops, size_t nsops,
               UserPtr<const Timespec> timeout) {
  uint64_t deadline = 0;
  if (timeout) {
    const Timespec ts = TRY(timeout.read());  // EFAULT first, as Linux
    if (nsops < 1 || semid < 0) return Error::Invalid;
    if (nsops > size_t(SEMOPM)) return Error::TooBig;
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1'000'000'000) return Error::Invalid;
    constexpr int64_t MAX_SEC = 1ll << 33;
    const uint64_t ns = uint64_t(ts.tv_sec < MAX_SEC ? ts.tv_sec : MAX_SEC) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
    deadline = uptime_ns() + ns;
    if (!deadline) deadline = 1;
  }
  return do_semop(semid, sops, nsops, deadline);
}

// semctl(2): the fourth argument is the union semun, passed by value (an
// int for SETVAL, a pointer otherwise).
DEFINE_SYSCALL(66, semctl, Result<int>, int semid, int semnum, int cmd, Hex<uint64_t> arg) {
  if (semid < 0) return Error::Invalid;
  switch (cmd) {
    case L_IPC_INFO:
    case SEM_INFO: {
      Seminfo i{};
      i.semmni = int32_t(SEMMNI);
      i.semmns = SEMMNS;
      i.semmsl = SEMMSL;
      i.semopm = SEMOPM;
      i.semvmx = SEMVMX;
      i.semaem = SEMAEM;
      i.semmap = SEMMNS;
      i.semmnu = SEMMNS;
      i.semume = SEMOPM;
      i.semusz = 16;  // sizeof(struct sem_undo) on Linux's side: informational
      int maxidx;
      {
        MutexGuard g(g_mu);
        if (cmd == SEM_INFO) {
          i.semusz = int32_t(g_table.count());
          i.semaem = int32_t(g_total_sems);
        }
        maxidx = g_table.max_index();
      }
      TRY(UserPtr<Seminfo>(arg).write(i));
      return maxidx;
    }
    case SEM_STAT:
    case SEM_STAT_ANY:
    case L_IPC_STAT: {
      SemidDs d;
      int ret = 0;
      {
        MutexGuard g(g_mu);
        SemSet* s = cmd == L_IPC_STAT ? g_table.find_id(semid) : g_table.find_index(semid);
        if (!s) return Error::Invalid;
        if (cmd != SEM_STAT_ANY && !ipc_permitted(s->perm, 0444)) return Error::AccessDenied;
        d = stat_of(*s);
        if (cmd != L_IPC_STAT) ret = s->id;
      }
      TRY(UserPtr<SemidDs>(arg).write(d));
      return ret;
    }
    case L_IPC_SET: {
      const SemidDs in = TRY(UserPtr<const SemidDs>(arg).read());
      MutexGuard g(g_mu);
      SemSet* s = g_table.find_id(semid);
      if (!s) return Error::Invalid;
      if (!ipc_is_owner(s->perm)) return Error::Permission;
      ipc_perm_set(s->perm, in.perm);
      s->ctime = ipc_now();
      return 0;
    }
    case L_IPC_RMID: {
      MutexGuard g(g_mu);
      SemSet* s = g_table.find_id(semid);
      if (!s) return Error::Invalid;
      if (!ipc_is_owner(s->perm)) return Error::Permission;
      remove_set(s);
      return 0;
    }
    case GETVAL:
    case GETPID:
    case GETNCNT:
    case GETZCNT: {
      MutexGuard g(g_mu);
      SemSet* s = g_table.find_id(semid);
      if (!s) return Error::Invalid;
      if (!ipc_permitted(s->perm, 0444)) return Error::AccessDenied;
      if (semnum < 0 || semnum >= s->nsems) return Error::Invalid;
      const Sem& m = s->sems[semnum];
      return cmd == GETVAL ? m.val : cmd == GETPID ? m.pid : cmd == GETNCNT ? int(m.ncnt) : int(m.zcnt);
    }
    case GETALL: {
      uint16_t* vals = nullptr;
      int n;
      {
        MutexGuard g(g_mu);
        SemSet* s = g_table.find_id(semid);
        if (!s) return Error::Invalid;
        if (!ipc_permitted(s->perm, 0444)) return Error::AccessDenied;
        n = s->nsems;
        vals = static_cast<uint16_t*>(kmalloc(sizeof(uint16_t) * size_t(n)));
        if (!vals) return Error::NoMemory;
        for (int i = 0; i < n; ++i) vals[i] = uint16_t(s->sems[i].val);
      }
      Result<void> r = UserPtr<uint16_t>(arg).copy_out(vals, size_t(n));
      kfree(vals);
      TRY(r);
      return 0;
    }
    case SETVAL: {
      const int val = int(uint32_t(arg));
      if (val < 0 || val > SEMVMX) return Error::Range;
      MutexGuard g(g_mu);
      SemSet* s = g_table.find_id(semid);
      if (!s) return Error::Invalid;
      if (semnum < 0 || semnum >= s->nsems) return Error::Invalid;
      if (!ipc_permitted(s->perm, 0222)) return Error::AccessDenied;
      s->sems[semnum].val = val;
      s->sems[semnum].pid = current_pid();
      drop_undos(s->id, semnum);
      s->ctime = ipc_now();
      s->changed.bump_and_wake();
      return 0;
    }
    case SETALL: {
      int n;
      {
        MutexGuard g(g_mu);
        SemSet* s = g_table.find_id(semid);
        if (!s) return Error::Invalid;
        n = s->nsems;
      }
      uint16_t* vals = static_cast<uint16_t*>(kmalloc(sizeof(uint16_t) * size_t(n)));
      if (!vals) return Error::NoMemory;
      struct Free {
        uint16_t* p;
        ~Free() { kfree(p); }
      } free_vals{vals};
      TRY(UserPtr<const uint16_t>(arg).copy_in(vals, size_t(n)));
      for (int i = 0; i < n; ++i)
        if (vals[i] > SEMVMX) return Error::Range;
      MutexGuard g(g_mu);
      SemSet* s = g_table.find_id(semid);
      if (!s) return Error::IdRemoved;  // removed while the values were read
      if (!ipc_permitted(s->perm, 0222)) return Error::AccessDenied;
      const int32_t pid = current_pid();
      for (int i = 0; i < n && i < s->nsems; ++i) {
        s->sems[i].val = vals[i];
        s->sems[i].pid = pid;
      }
      drop_undos(s->id, -1);
      s->ctime = ipc_now();
      s->changed.bump_and_wake();
      return 0;
    }
    default:
      return Error::Invalid;
  }
}

// A process ends: its SEM_UNDO adjustments are applied (each value
// clamped to 0..SEMVMX, as Linux's exit_sem) and forgotten.
void sem_undo_exit(Process& p) {
  MutexGuard g(g_mu);
  for (auto it = g_undos.begin(); it != g_undos.end();) {
    Undo& u = *it;
    ++it;
    if (u.pid != p.pid) continue;
    if (SemSet* s = g_table.find_id(u.semid); s && u.num < s->nsems) {
      Sem& m = s->sems[u.num];
      int v = m.val + u.adj;
      m.val = v < 0 ? 0 : v > SEMVMX ? SEMVMX : v;
      m.pid = p.pid;
      s->otime = ipc_now();
      s->changed.bump_and_wake();
    }
    g_undos.remove(u);
    kfree(&u);
  }
}

}  // namespace capsule::linux_abi
