#pragma once
// What execve (linux/sys_exec.cc) asks of the other families at its point
// of no return, and what they ask of it. Each function lives in the file of
// its family; docs/exec.md "execve".
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule {
struct Process;
struct Thread;
}

namespace capsule::linux_abi {

// --- linux/sys_exec.cc ---
// The commands of a ";" sequence (docs/cmdline.md): the boot code starts the
// first; each later one starts when the previous process exits with status
// 0, in its place (a fresh process image). Also records the current
// working directory as the one each command starts in.
void exec_set_sequence(Process& p, const StringView* argv, const size_t* argcs, size_t count, const StringView* envp,
                       size_t envc);

// --- linux/sys_capability.cc ---
// The capability sets an execve of a file without file capabilities
// gives (root: the bounding set; others: the ambient set); clears
// SECBIT_KEEP_CAPS.
void caps_exec_reset();

// --- linux/sys_thread.cc ---
// Linux's de_thread: every other thread of the process is killed (as by
// SIGKILL: it ends at its next return towards the application; an
// interruptible sleep ends at once) and the caller waits until all are
// gone. False if another thread is already replacing the image (the caller
// then ends itself with exec_thread_exit_killed()).
bool exec_kill_other_threads();
// The caller becomes the process's only thread and its leader: tid = pid,
// Process::main_thread, thread count 1; its clear_child_tid, robust list and
// name are reset (execve(2)). Ends the kill of exec_kill_other_threads().
void exec_become_leader();
// For the signal code: true when SIGKILL on the calling thread comes from
// another thread's execve (the thread ends quietly, the VM goes on).
bool exec_kills_current();
[[noreturn]] void exec_thread_exit_killed();

// --- linux/signal_state.cc ---
// SIGKILL to one thread, for de_thread (nothing if it is already leaving).
void signal_kill_thread(Thread* t);
// execve: caught signals go back to SIG_DFL (ignored ones stay ignored;
// flags and handler masks are cleared), the caller's alternate signal stack
// is cleared; mask and pending signals are kept. `fresh` (a new command of
// a sequence): every action SIG_DFL, mask and pending signals empty.
void signal_exec_reset(bool fresh);

// --- linux/sys_timer.cc ---
// execve: POSIX timers are deleted, itimers kept; `fresh`: itimers disarmed too.
void timers_exec_reset(bool fresh);

// --- linux/file_common.cc ---
// execve: close-on-exec descriptors closed. `fresh`: every descriptor
// closed, 0-2 opened on the console again, the initial working directory.
Result<void> files_exec_reset(bool fresh);
// The working directory the program started in (boot sets it with --cwd).
void files_set_initial_cwd(Process& p);

}  // namespace capsule::linux_abi
