#pragma once
// Linux-ABI state of an application thread (hangs off Thread::linux_state).
#include <cstdint>

namespace capsule {
struct Thread;
}

namespace capsule::linux_abi {

struct SignalThread;  // linux/signal_state.cc

struct LinuxThread {
  int tid = 0;
  uintptr_t clear_child_tid = 0;  // set_tid_address / CLONE_CHILD_CLEARTID
  uintptr_t robust_list = 0;      // set_robust_list head (user address)
  uint64_t robust_len = 0;
  int sched_policy = 0;           // sched_setscheduler: SCHED_OTHER/BATCH/IDLE (linux/sys_sched.cc)
  uint64_t sigmask = 0;           // blocked signals (bit n-1 for signal n)
  uint64_t pending = 0;           // thread-directed pending signals
  uintptr_t altstack_sp = 0;      // sigaltstack
  uint64_t altstack_size = 0;
  int altstack_flags = 2;         // SS_DISABLE
  char name[16] = {};             // prctl PR_SET_NAME
  SignalThread* signal = nullptr; // [signals] pending siginfo, sigsuspend mask (linux/signal_state.cc)
  bool cpu_accounted = false;     // its CPU time joined the process's (account_thread_exit, once)
  uint8_t* fpu_scratch = nullptr; // signal frames' vector state (signal_frame.cc): made at the first signal, kept
};

// The calling thread's state, created on first use (nullptr only when out
// of memory).
LinuxThread* linux_thread();
// Frees a thread's Linux state with its signal state (nullptr: nothing).
void linux_thread_free(LinuxThread* lt);
LinuxThread* linux_thread_of(Thread* t);
int current_tid();

}  // namespace capsule::linux_abi
