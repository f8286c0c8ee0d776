#pragma once
// Signal-driven I/O (docs/events.md "Signal-driven I/O"): an open file
// description's owner (F_SETOWN, F_SETOWN_EX, FIOSETOWN, SIOCSPGRP), the
// signal it gets (F_SETSIG), and O_ASYNC (F_SETFL, FIOASYNC), which makes
// every readiness change of the file's Pollable send that signal.
#include <cstdint>

#include "fs/file.h"
#include "lib/result.h"

namespace capsule::linux_abi {

// struct f_owner_ex's types (ABI facts).
constexpr int L_F_OWNER_TID = 0, L_F_OWNER_PID = 1, L_F_OWNER_PGRP = 2;

// F_SETOWN: pid > 0 a process, < 0 a process group, 0 none. ESRCH if no
// such process or group, EINVAL for INT_MIN.
Result<void> async_set_owner(vfs::OpenFile& f, int who);
// F_GETOWN: the pid, or -pgid for a group (a thread's tid for F_OWNER_TID).
int async_owner(vfs::OpenFile& f);
// F_SETOWN_EX / F_GETOWN_EX (type L_F_OWNER_*; never set: {TID, 0}).
Result<void> async_set_owner_ex(vfs::OpenFile& f, int type, int id);
void async_owner_ex(vfs::OpenFile& f, int* type, int* id);
// F_SETSIG (0: SIGIO with no siginfo details; EINVAL outside 0..64) / F_GETSIG.
Result<void> async_set_signal(vfs::OpenFile& f, int sig);
int async_signal(vfs::OpenFile& f);
// The file's object can raise signals (Linux: it has a fasync operation):
// only then does O_ASYNC stick (F_SETFL) or FIOASYNC work (else ENOTTY).
bool async_capable(vfs::OpenFile& f);
// O_ASYNC turned on or off through descriptor `fd` (F_SETFL, FIOASYNC):
// si_fd is that descriptor.
Result<void> async_enable(vfs::OpenFile& f, int fd, bool on);

}  // namespace capsule::linux_abi
