#pragma once
// pidfds (linux/sys_pidfd.cc, docs/process.md "pidfds"): a descriptor that
// names a process, for pidfd_open, clone's CLONE_PIDFD, waitid(P_PIDFD),
// pidfd_send_signal and pidfd_getfd.
#include "fs/vfs.h"
#include "linux/process.h"
#include "linux/syscall_types.h"

namespace capsule::linux_abi {

// A new pidfd on p (it takes a reference), close-on-exec as Linux's
// always are; O_NONBLOCK with `nonblock`. TooManyFiles, NoMemory.
Result<Fd> pidfd_install(Process& p, bool nonblock);
// The process a descriptor names, with a reference (process_put), and
// whether the description is non-blocking: BadFd for a descriptor that is
// not open or not a pidfd.
struct PidfdTarget {
  Process* p;
  bool nonblock;
};
Result<PidfdTarget> pidfd_get(int fd);
// The process behind a pidfd's vnode (no reference: the vnode holds one),
// or nullptr if it is something else (/proc/<pid>/fdinfo).
Process* pidfd_process(vfs::Vnode& v);

}  // namespace capsule::linux_abi
