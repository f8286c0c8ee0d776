// System V IPC's shared pieces (linux/ipc_ids.h, docs/ipc.md).
#include "linux/ipc_ids.h"

#include <climits>

#include "core/futex.h"
#include "core/time.h"
#include "linux/identity.h"

namespace capsule::linux_abi {
namespace {
constexpr int CAP_IPC_OWNER = 15;  // capabilities(7)
}

IpcPerm ipc_perm_new(int32_t key, uint32_t flags) {
  IpcPerm p;
  p.key = key;
  p.uid = p.cuid = current_euid();
  p.gid = p.cgid = current_egid();
  p.mode = flags & 0777;
  return p;
}

Ipc64Perm ipc_perm_abi(const IpcPerm& p) {
  Ipc64Perm a{};
  a.key = p.key;
  a.uid = p.uid;
  a.gid = p.gid;
  a.cuid = p.cuid;
  a.cgid = p.cgid;
  a.mode = p.mode;
  a.seq = p.seq;
  return a;
}

void ipc_perm_set(IpcPerm& p, const Ipc64Perm& in) {
  p.uid = in.uid;
  p.gid = in.gid;
  p.mode = (p.mode & ~0777u) | (in.mode & 0777u);
}

// ipc/util.c ipcperms(): the requested bits are those of any triplet of
// `flag`; the granted ones the caller's triplet of the mode. Group
// membership is the effective gid's (supplementary groups are not read).
bool ipc_permitted(const IpcPerm& p, uint32_t flag) {
  const uint32_t requested = ((flag >> 6) | (flag >> 3) | flag) & 7;
  const uint32_t euid = current_euid();
  uint32_t granted = p.mode;
  if (euid == p.uid || euid == p.cuid) {
    granted >>= 6;
  } else {
    const uint32_t egid = current_egid();
    if (egid == p.gid || egid == p.cgid) granted >>= 3;
  }
  if (!(requested & ~granted & 7)) return true;
  return current_capable(CAP_IPC_OWNER);
}

bool ipc_is_owner(const IpcPerm& p) {
  const uint32_t euid = current_euid();
  return euid == p.uid || euid == p.cuid || current_capable(L_CAP_SYS_ADMIN);
}

int64_t ipc_now() { return realtime_ns() / 1'000'000'000; }

void IpcWaitWord::bump_and_wake() {
  __atomic_add_fetch(&gen_, 1u, __ATOMIC_RELEASE);
  (void)futex_wake(nullptr, reinterpret_cast<uintptr_t>(&gen_), INT_MAX);
}

Result<void> IpcWaitWord::wait(uint32_t seen, uint64_t deadline_ns) {
  auto r = futex_wait(nullptr, reinterpret_cast<uintptr_t>(&gen_), seen, deadline_ns);
  if (!r.ok() && r.error() != Error::Again) return r.error();
  return {};
}

}  // namespace capsule::linux_abi
