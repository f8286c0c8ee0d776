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
// A child of `parent` stopped or continued: whether SIGCHLD is sent for
// it (not when SIGCHLD is ignored or its action has SA_NOCLDSTOP).
bool signal_child_stop_notify(Process& parent);

// --- linux/sys_wait.cc: job control (docs/process.md "Stop and continue") ---
// SIGCHLD's si_code (ABI facts).
constexpr int CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3, CLD_TRAPPED = 4, CLD_STOPPED = 5,
              CLD_CONTINUED = 6;
// p stopped (why CLD_STOPPED, status the stop signal) or was continued
// (CLD_CONTINUED, SIGCONT): the report wait4/waitid give once, the
// parent's waiters woken, SIGCHLD unless SA_NOCLDSTOP.
void process_job_notify(Process& p, int why, int status);
// p's process group is orphaned: no member has a parent in another
// group of the same session (POSIX; Linux's is_current_pgrp_orphaned).
bool process_pgrp_orphaned(Process& p);

}  // namespace capsule::linux_abi
