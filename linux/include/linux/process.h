#pragma once
// The application's process (linux/process, linux/process_table.cc). It owns the
// address space and its threads; the VM ends with the first process's exit
// status. Its image can be replaced (execve, and the next command of a ";"
// sequence): an image is first prepared (every check that can fail, nothing
// changed), then, at the point of no return, loaded in place of the old one
// (docs/exec.md).
#include <atomic>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"
#include "arch/spinlock.h"
#include "arch/percpu.h"
#include "core/sched/thread.h"

namespace capsule {

class AddressSpace;
class PollSource;
struct Thread;
namespace vfs {
class Vnode;
struct Cred;
}
namespace linux_abi {
// Each family's share of a process, defined in linux/process_state.h.
struct ProcessFiles;   // fd table, root, cwd (linux/file_common.cc)
struct Creds;          // ids, groups, umask, process group, session (linux/sys_ident.cc)
struct Limits;         // rlimits and prctl attributes (linux/sys_limits.cc)
struct ProcessSignals; // actions, process-directed pending signals, signal targets (linux/signal_state.cc)
struct ThreadTable;    // the clone children by tid, how the main thread ended, de_thread (linux/sys_thread.cc)
struct ProcessTimers;  // alarm, interval and POSIX timers (linux/sys_timer.cc)
}  // namespace linux_abi

// A process: what its threads share (docs/process.md). The kernel runs one
// program per VM, but nothing assumes it: every piece of per-process state
// is reached from a Process, and a Process from its threads
// (Thread::process, current_process()). Created by process_create; pid 1 at
// boot.
struct Process {
  // The address space. Its threads use it freely; another process reads it
  // (procfs) only under as_lock through process_read_as, and whoever
  // replaces or frees it (exit, a vfork child's exec) changes the pointer
  // under as_lock first.
  AddressSpace* as = nullptr;
  SpinLock as_lock;
  int pid = 1;
  int ppid = 0;              // 0: started by the kernel
  char comm[16] = {};        // prctl(PR_SET_NAME) and /proc/self/comm
  char exe[256] = {};        // the program's path
  Thread* main_thread = nullptr;
  uintptr_t vdso_base = 0;
  uintptr_t auxv_addr = 0;   // where auxv lies on the initial stack
  uintptr_t arg_start = 0, arg_end = 0;  // argv's strings on the initial stack (/proc/self/cmdline)
  uintptr_t env_start = 0, env_end = 0;  // envp's strings, just above (/proc/self/environ)
  uintptr_t image_start = 0, image_end = 0;  // the program's segments (/proc/self/maps names them)
  size_t auxv_bytes = 0;
  uint64_t start_ns = 0;
  std::atomic<bool> exiting{false};
  std::atomic<uint32_t> thread_count{0};
  std::atomic<int64_t> oom_score_adj{0};   // /proc/<pid>/oom_score_adj
  std::atomic<bool> lock_future{false};    // mlockall(MCL_FUTURE)
  std::atomic<bool> oom_killed{false};     // chosen by the OOM killer (linux/oom.cc)

  // The Linux families' state (never null once process_create returned).
  linux_abi::ProcessFiles* files = nullptr;
  linux_abi::Creds* creds = nullptr;
  linux_abi::Limits* limits = nullptr;
  linux_abi::ProcessSignals* signals = nullptr;
  linux_abi::ThreadTable* threads = nullptr;
  linux_abi::ProcessTimers* timers = nullptr;

  // CPU time and memory high-water mark (linux/sys_time.cc): the CPU time
  // of the threads that exited, whether the main thread's is counted there,
  // the last total reported (kept monotonic), getrusage's ru_maxrss.
  std::atomic<uint64_t> exited_cpu_ns{0};
  std::atomic<bool> main_cpu_counted{false};
  std::atomic<uint64_t> cpu_reported_ns{0};
  std::atomic<uint64_t> max_rss_pages{0};

  // Parent and children (linux/sys_wait.cc, docs/process.md "Fork, exit
  // and wait"). ppid, zombie, wait_status, child_waiters: under the
  // table's lock (process_table_lock).
  std::atomic<int> refs{1};          // the table's, and process_get's
  int exit_signal = 0;               // sent to the parent at exit (SIGCHLD for fork)
  bool zombie = false;               // exited, not reaped yet
  int wait_status = 0;               // wait4's encoding, once a zombie
  uint64_t zombie_cpu_ns = 0;        // its CPU time at exit (the parent's rusage)
  Thread* child_waiters[8] = {};     // its threads asleep in wait4/waitid
  // Job control (docs/process.md "Stop and continue"): what wait4/waitid
  // report once (WUNTRACED/WSTOPPED, WCONTINUED): the signal that stopped
  // it (0: none to report), and that it was continued.
  int stop_report = 0;
  bool cont_report = false;
  std::atomic<uint64_t> children_cpu_ns{0};  // reaped children's CPU time (RUSAGE_CHILDREN)
  // vfork: the child runs in the parent's address space (not its own to
  // free) and the parent's thread sleeps until the child execs or exits.
  bool as_borrowed = false;
  // It replaced its image at least once (a parent's setpgid on it is then
  // EACCES).
  std::atomic<bool> did_exec{false};
  std::atomic<bool> vfork_done{true};
  Thread* vfork_waiter = nullptr;
  // Its pidfds' readiness (linux/sys_pidfd.cc): readable once `ended`
  // (set with `zombie`, or as it is reaped at once, under the table's
  // lock; the watchers are told right after).
  PollSource* exit_poll = nullptr;
  std::atomic<bool> ended{false};
};

// The calling thread's process; nullptr on kernel threads (the boot thread,
// service threads), which name the process they act on explicitly.
// Inline (two loads): most system calls ask, getpid only that (issue 16).
inline Process* current_process() {
  Thread* t = current_thread();
  return t ? static_cast<Process*>(t->process) : nullptr;
}

// The process table (linux/process_table.cc). process_create makes a
// process with the next pid (1 first) and its families' initial state
// (no address space, no threads, an empty fd table): NoMemory.
Result<Process*> process_create();
// The process with that pid (nullptr if none), without a reference: only
// for processes that cannot be reaped meanwhile (pid 1).
Process* process_find(int pid);
// The process with that pid with a reference (nullptr if none); a zombie
// too. process_put drops it; the last reference frees the process.
Process* process_get(int pid);
void process_put(Process* p);
// fn for each process (zombies included), each held by a reference while fn runs.
void process_for_each(void (*fn)(Process& p, void* ctx), void* ctx);
// fn(as, ctx) with p's address space held (nullptr once it has none: a
// zombie, a child not made yet); fn must not sleep (a spinlock is held).
void process_with_as(Process& p, void (*fn)(AddressSpace* as, void* ctx), void* ctx);
// Sets p.as (under as_lock); returns the old one for the caller to free.
AddressSpace* process_set_as(Process& p, AddressSpace* as);
// Up to len bytes of p's memory at addr, from the pages present (no fault
// is taken); returns how many were copied (0 once it has no memory).
size_t process_read_memory(Process& p, uintptr_t addr, void* out, size_t len);
// The table's lock: guards the parent/child fields of every Process.
SpinLock& process_table_lock();
// Under that lock: the live entries, in table order (nullptr skipped by the caller).
Process* process_slot_locked(size_t i);
size_t process_slots();
// Under that lock: takes a reaped process out of the table (the caller
// then drops the table's reference with process_put).
void process_unlist_locked(Process* p);

struct ExecArgs {
  StringView path;              // the file to open (unless `file`), as given
  const StringView* argv;
  size_t argc;
  const StringView* envp;
  size_t envc;
  StringView name = {};         // AT_EXECFN and a script's name for its interpreter (empty: path)
  vfs::Vnode* root = nullptr;   // where path and a script's interpreter are found
  vfs::Vnode* cwd = nullptr;    //   (nullptr: from /)
  vfs::Vnode* file = nullptr;   // already opened (execveat): not looked up again
  const vfs::Cred* cred = nullptr;  // whose walk and execute permission (nullptr: the kernel's)
  bool quiet = false;           // no console message for errors (execve returns them)
};

// A program checked and ready to load: its file and interpreter opened and
// parsed, "#!" scripts resolved to their interpreter, argv/envp copied and
// known to fit. Errors: NotFound (ENOENT), Permission (EACCES: not a regular
// file or no execute bit), BadFormat (ENOEXEC), Loop (ELOOP: scripts nested
// too deep), TooBig (E2BIG), NoMemory, and the path walk's errors.
struct ExecImage;
Result<ExecImage*> exec_prepare(const ExecArgs& args);
void exec_discard(ExecImage* img);

// The point of no return, on the calling application thread (the only one
// left): empties the process's address space, maps the image, builds the
// initial stack, updates comm and exe, resets the thread's FS/GS bases and
// vector state, frees `img` and jumps to the new program. A failure now
// (out of memory) ends the VM as Linux's SIGKILL of such a process would.
[[noreturn]] void exec_replace_image(ExecImage* img);

// Boot: prepares the program, builds a fresh address space for `p` and
// starts its main thread. Errors are printed (program missing, not an ELF, ...).
Result<void> process_exec(Process& p, const ExecArgs& args);

// Ends the caller's process with `status` (exit_group, or 128+N for a fatal
// signal N). The first process takes the VM with it, unless the exit hook
// starts another command in its place; any other becomes a zombie for its
// parent (process_exit_child).
[[noreturn]] void process_exit(int status);
// The same for a fatal signal (wait4 reports it as such).
[[noreturn]] void process_exit_signaled(int sig);
// linux/sys_wait.cc: a process other than the first ends (wait_status in
// wait4's encoding: code << 8, or the signal number).
[[noreturn]] void process_exit_child(int wait_status);
// vfork: the child no longer uses the parent's address space (exec or
// exit); the parent's thread goes on.
void process_vfork_release(Process& p);

// Called by process_exit on the exiting thread before the VM powers off;
// it may start the next command of a sequence instead (and not return).
using ProcessExitHook = void (*)(int status);
void set_process_exit_hook(ProcessExitHook hook);

// Jumps to application code on this thread: RSP = sp, all other general
// registers zero (the psABI leaves RDX = 0: no atexit function).
[[noreturn]] void enter_application(uintptr_t entry, uintptr_t sp);

}  // namespace capsule
