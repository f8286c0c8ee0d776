#pragma once
// What System V IPC's three families share (linux/sys_ipc_shm.cc,
// sys_ipc_sem.cc, sys_ipc_msg.cc; docs/ipc.md): the permission record every
// object carries and its ABI form, the permission rules, the table that
// turns keys and ids into objects, and the generation word sleepers wait
// on. ABI values from include/uapi/linux/ipc.h and the x86-64 layouts of
// struct ipc64_perm (checked against the host's glibc).
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::linux_abi {

// include/uapi/linux/ipc.h.
constexpr int32_t L_IPC_PRIVATE = 0;
constexpr uint32_t L_IPC_CREAT = 01000, L_IPC_EXCL = 02000, L_IPC_NOWAIT = 04000;
constexpr int L_IPC_RMID = 0, L_IPC_SET = 1, L_IPC_STAT = 2, L_IPC_INFO = 3;
// ids are index + seq * IPCMNI, as Linux's (ipc/util.h, without
// ipcmni_extend).
constexpr int IPC_INDEX_BITS = 15;
constexpr int IPC_MNI = 1 << IPC_INDEX_BITS;

// An object's owner, creator and permissions (struct kern_ipc_perm).
struct IpcPerm {
  int32_t key = 0;
  uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  uint32_t mode = 0;  // the low 9 bits: rwx for owner, group, others; above: the family's flags
  uint16_t seq = 0;
};

// struct ipc64_perm on x86-64 (48 bytes).
struct Ipc64Perm {
  int32_t key;
  uint32_t uid, gid, cuid, cgid;
  uint32_t mode;
  uint16_t seq, pad2;
  uint64_t unused1, unused2;
};
static_assert(sizeof(Ipc64Perm) == 48);

// A new object's record: the caller's effective ids as owner and creator,
// the permission bits of `flags`.
IpcPerm ipc_perm_new(int32_t key, uint32_t flags);
Ipc64Perm ipc_perm_abi(const IpcPerm& p);
// IPC_SET: the new owner ids and permission bits.
void ipc_perm_set(IpcPerm& p, const Ipc64Perm& in);
// ipcperms(): every rwx bit asked in `flag` (in any of its three triplets,
// as Linux reads it) must be granted to the caller's class (owner or
// creator, group, others), unless the caller has CAP_IPC_OWNER.
bool ipc_permitted(const IpcPerm& p, uint32_t flag);
// IPC_SET and IPC_RMID: the owner, the creator or CAP_SYS_ADMIN.
bool ipc_is_owner(const IpcPerm& p);
// The time of day in seconds (the *_time fields).
int64_t ipc_now();

// Ids and keys to objects: N slots, T carries `perm` (key and seq). Not
// locked: each family guards its table with its own lock.
template <typename T, size_t N>
class IpcTable {
  static_assert(N <= size_t(IPC_MNI));

 public:
  // The object with this id; nullptr if the index is empty or the seq
  // does not match (an object removed since).
  T* find_id(int id) const {
    if (id < 0) return nullptr;
    const size_t idx = size_t(id) & (IPC_MNI - 1);
    T* o = idx < N ? slots_[idx] : nullptr;
    return o && o->perm.seq == uint32_t(id) >> IPC_INDEX_BITS ? o : nullptr;
  }
  T* find_index(int idx) const { return idx >= 0 && size_t(idx) < N ? slots_[idx] : nullptr; }
  T* find_key(int32_t key) const {
    for (size_t i = 0; i <= max_idx_ && i < N; ++i)
      if (slots_[i] && slots_[i]->perm.key == key) return slots_[i];
    return nullptr;
  }
  // Places o in the lowest free slot, sets o->perm.seq; returns the id.
  // NoSpace when full (shmget/semget/msgget: ENOSPC).
  Result<int> insert(T* o) {
    for (size_t i = 0; i < N; ++i) {
      if (slots_[i]) continue;
      slots_[i] = o;
      o->perm.seq = seq_;
      seq_ = uint16_t((seq_ + 1) % (INT32_MAX >> IPC_INDEX_BITS));
      ++count_;
      if (i > max_idx_ || count_ == 1) max_idx_ = i;
      return int(i) | int(uint32_t(o->perm.seq) << IPC_INDEX_BITS);
    }
    return Error::NoSpace;
  }
  static int index_of(int id) { return id & (IPC_MNI - 1); }
  void remove(int id) {
    const size_t idx = size_t(index_of(id));
    if (idx >= N || !slots_[idx]) return;
    slots_[idx] = nullptr;
    --count_;
    while (max_idx_ > 0 && !slots_[max_idx_]) --max_idx_;
  }
  // The highest index in use (IPC_INFO's result), 0 when empty.
  int max_index() const { return count_ ? int(max_idx_) : 0; }
  size_t count() const { return count_; }
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; count_ && i <= max_idx_; ++i)
      if (slots_[i]) f(*slots_[i]);
  }

 private:
  T* slots_[N] = {};
  size_t count_ = 0;
  size_t max_idx_ = 0;
  uint16_t seq_ = 0;
};

// A word sleepers wait on until it changes: each change of the object
// bumps it and wakes them all; they look again (the futex service in
// kernel-address mode: interruptible, with a deadline).
class IpcWaitWord {
 public:
  uint32_t snapshot() const { return __atomic_load_n(&gen_, __ATOMIC_ACQUIRE); }
  // Bumped under the family's lock, after the change.
  void bump_and_wake();
  // Sleeps while the word still holds `seen` (taken under the lock, which
  // the caller dropped since). Interrupted (a signal), TimedOut (deadline,
  // absolute uptime_ns(), 0: none), or woken (maybe spuriously).
  Result<void> wait(uint32_t seen, uint64_t deadline_ns);

 private:
  uint32_t gen_ = 0;
};

}  // namespace capsule::linux_abi
