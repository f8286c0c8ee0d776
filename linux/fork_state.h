#pragma once
// What fork and a process's exit (linux/sys_fork.cc, linux/sys_wait.cc) ask
// of the other families. Each function lives in the file of its family;
// docs/process.md "Fork, exit and wait".
#include "lib/result.h"

namespace capsule {
struct Process;
}

namespace capsule::linux_abi {

// --- linux/file_common.cc ---
// The child's descriptors: a copy of the parent's table (the open file
// descriptions shared, close-on-exec bits kept), its root, cwd and the
// initial cwd. NoMemory.
Result<void> files_fork(Process& child, Process& parent);
// The process ends: every descriptor is closed now (a pipe's reader sees
// EOF once the last writer in any process is gone).
void files_exit(Process& p);

// --- linux/sys_ident.cc ---
// The parent's ids, groups, umask, process group, session and persona. NoMemory.
Result<void> creds_fork(Process& child, Process& parent);

// --- linux/sys_limits.cc ---
// The parent's limits and the prctl attributes fork keeps (not pdeathsig).
void limits_fork(Process& child, Process& parent);

// --- linux/sys_ipc_sem.cc ---
// The process ends: its System V semaphore adjustments (SEM_UNDO) are
// applied and forgotten.
void sem_undo_exit(Process& p);

// --- linux/signal_state.cc ---
// The parent's signal actions (pending signals are not inherited).
void signal_fork(Process& child, Process& parent);
// A child of `parent` ended: true if it is reaped at once (SIGCHLD
// ignored, or SA_NOCLDWAIT); *send: whether SIGCHLD is still sent
// (SA_NOCLDWAIT with a handler).
bool signal_child_autoreap(Process& parent, bool* send);

}  // namespace capsule::linux_abi
