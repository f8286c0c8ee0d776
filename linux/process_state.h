#pragma once
// What each linux/ family keeps per process (docs/process.md). A Process
// (linux/process.h) points at one of each; process_create
// (linux/process_table.cc) makes them with a new process's initial values.
// Only the family named beside each struct touches its fields.
#include <atomic>
#include <cstdint>

#include "fs/file.h"
#include "linux/process.h"
#include "arch/spinlock.h"
#include "linux/identity.h"

namespace capsule::linux_abi {

// Descriptors and the directories paths start from (linux/file_common.cc).
struct ProcessFiles {
  vfs::FdTable* fds = nullptr;
  SpinLock lock;                      // over root, cwd and initial_cwd
  vfs::Vnode* root = nullptr;         // one reference each
  vfs::Vnode* cwd = nullptr;
  vfs::Vnode* initial_cwd = nullptr;  // where a command of a sequence starts
  vfs::Vnode* exe = nullptr;          // the file run (/proc/self/exe), from execve
};

// Capability sets (linux/sys_capability.cc), Linux's bit numbers
// (L_CAP_*): a new process is root's, every capability permitted and
// effective, none inheritable or ambient.
struct Caps {
  uint64_t inh = 0, prm = L_CAP_FULL_SET, eff = L_CAP_FULL_SET, bnd = L_CAP_FULL_SET, amb = 0;
  uint32_t securebits = 0;
};

// Credentials, process group and session, umask, persona
// (linux/sys_ident.cc). A new process starts as root.
struct Creds {
  SpinLock lock;  // over every field
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  uint32_t* groups = nullptr;  // kmalloc'd
  int64_t ngroups = 0;
  uint32_t umask = 022;
  int pgid = 0, sid = 0;       // process_create: the pid (it leads both)
  uint64_t persona = 0;
  Caps caps;  // linux/sys_capability.cc
};
// After a change of the uids (under c.lock, with the ids before it):
// Linux's capability fixups (capabilities(7), "Effect of user ID changes
// on capabilities").
void caps_after_setuid(Creds& c, uint32_t old_ruid, uint32_t old_euid, uint32_t old_suid, uint32_t old_fsuid);

// Resource limits and prctl attributes (linux/sys_limits.cc).
struct Rlim {
  uint64_t cur, max;
};
struct Limits {
  SpinLock lock;
  Rlim rl[L_RLIM_NLIMITS] GUARDED_BY(lock) = {};
  std::atomic<int> pdeathsig{0};
  std::atomic<int> dumpable{1};
  std::atomic<int> no_new_privs{0};
  std::atomic<int> subreaper{0};
  std::atomic<int> thp_disable{0};
  std::atomic<uint64_t> timerslack{50000};
};
// The process's threads by tid (linux/sys_thread.cc): its live clone()
// children (the main thread is found through Process::main_thread), how
// the main thread ended, and the thread replacing the image (execve's
// de_thread).
struct ThreadTable {
  SpinLock lock;
  Thread** threads GUARDED_BY(lock) = nullptr;
  size_t n GUARDED_BY(lock) = 0, cap GUARDED_BY(lock) = 0;
  std::atomic<bool> main_exited{false};
  int main_status = 0;  // written by the main thread before main_exited
  std::atomic<Thread*> exec_thread{nullptr};
  ~ThreadTable() { delete[] threads; }
};

// The timers (linux/sys_timer.cc): made and freed there, as their layout
// is that file's business.
ProcessTimers* timers_create();
void timers_destroy(ProcessTimers* t);
// A POSIX timer's signal (si_code SI_TIMER) is being dequeued: the expiries
// counted since it was queued, now its si_overrun and what
// timer_getoverrun reports (Linux fills si_overrun at delivery).
int timer_take_overrun(Process& p, int timer_id);
// The POSIX timers process p holds (each is charged against
// RLIMIT_SIGPENDING, as Linux charges its preallocated sigqueue entry).
int timer_posix_count(Process& p);
// Process p's soft limit (the target's, for a signal sent to it).
uint64_t rlimit_cur_of(Process& p, int resource);

// Linux's defaults for a process started by the kernel (init's limits).
void limits_init_defaults(Limits& l);

// The calling thread's process state, for system calls (always an
// application thread, so never null).
inline Process& cur_process() { return *current_process(); }
inline ProcessFiles& cur_files() { return *current_process()->files; }
inline Creds& cur_creds() { return *current_process()->creds; }
inline Limits& cur_limits() { return *current_process()->limits; }

}  // namespace capsule::linux_abi
