#pragma once
// The process's threads by Linux tid (linux/sys_thread.cc): lookups for the
// calls that take a tid (sched_setaffinity, get_robust_list, tgkill, ...).
#include <cstddef>

namespace capsule {
struct Thread;
struct Process;
}

namespace capsule::linux_abi {

// A fresh thread id (the main thread's is the pid, 1).
int alloc_tid();

// Runs fn(thread, ctx) for tid (0 = the caller) with the thread kept alive
// for the duration (the table's lock is held unless it is the caller or the
// main thread: fn must not sleep). False if no live thread has that tid.
bool with_thread(int tid, void (*fn)(Thread*, void*), void* ctx);

// The same for a thread of process p (nullptr: none); tid must not be 0.
bool with_thread_in(Process* p, int tid, void (*fn)(Thread*, void*), void* ctx);

// The process that has a live thread `tid` (or whose pid it is, a zombie
// too), with a reference (process_put); nullptr if none.
Process* process_get_by_tid(int tid);

// The Linux tid of t (0 if it has none).
int thread_tid(Thread* t);

// The live threads' tids (the main thread's included while it runs) that
// are >= from, ascending, up to cap of them; returns how many (procfs's
// /proc/<pid>/task).
size_t thread_tids(int from, int* out, size_t cap);
// The same for process p (nullptr: none).
size_t thread_tids_in(Process* p, int from, int* out, size_t cap);

}  // namespace capsule::linux_abi
