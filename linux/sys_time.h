#pragma once
// Time services other linux/ families use (linux/sys_time.cc).
#include <cstdint>

namespace capsule {
struct Thread;
struct Process;
}

namespace capsule::linux_abi {

// Signals (linux/signal_delivery.cc) installs this: true when the calling thread has
// a signal pending that should interrupt a sleep (nanosleep,
// clock_nanosleep then return -EINTR and write the remaining time). The
// sender wakes the sleeping thread with thread_wake().
using SignalPendingFn = bool (*)();
void set_sleep_signal_check(SignalPendingFn fn);

// Sleeps until deadline (ns since boot) or a signal: false if interrupted.
bool sleep_until_ns(uint64_t deadline_ns);

// CPU time of the whole process. Threads (linux/sys_thread.cc) calls
// account_thread_exit(t) as an application thread exits, so that its CPU
// time still counts for CLOCK_PROCESS_CPUTIME_ID, times() and getrusage().
void account_thread_exit(const Thread* t);
uint64_t process_cpu_time_ns();
// The same for any process (a zombie: its threads' total).
uint64_t process_cpu_ns_of(Process& p);

}  // namespace capsule::linux_abi
