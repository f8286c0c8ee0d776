#pragma once
// --stats: what the program cost, as `perf stat` and `/usr/bin/time -v`
// tell on Linux (docs/stats.md): system calls by name with counts and time,
// page faults by kind, context switches, user/system/kernel/idle time,
// wall time, the program's peak resident set and the kernel's peak use.
// Printed on the host's trace channel (drivers/trace_port.h) after pid 1
// exits, and when the host asks ("stats" on capsule.ctl: SIGUSR1 to
// `capsule run --stats`).
#include <cstdint>

namespace capsule::linux_abi::stats {

// Boot (kernel/main.cc): --stats on; registers the host's request.
void configure(bool on);
bool enabled();

// Just before pid 1's program starts: the wall clock and the per-CPU time
// accounting (arch/cpu_account.h) start here.
void program_starting();

// The report so far. exited: pid 1 ended with `status` (sig != 0: killed
// by it); otherwise a report asked for while it runs.
void report(bool exited, int status, int sig);

}  // namespace capsule::linux_abi::stats
