#pragma once
// --strace: every system call as strace prints it (docs/strace.md).
//
//   openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 3
//   read(3, "127.0.0.1\tlocalhost\n"..., 4096) = 158
//   openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)
//   [pid 2] futex(0x7f..., FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>
//   [pid 1] write(1, "hi\n", 3) = 3
//   [pid 2] <... futex resumed>) = 0
//   +++ exited with 0 +++
//
// Lines go to the host's trace channel (drivers/trace_port.h: the CLI's
// stderr or -o FILE) when it is attached, else to the kernel log as
// "[strace] ...". The dispatcher (linux/syscall.cc) calls enter() and
// leave() around each call; the process exit path calls exited().
#include <cstddef>
#include <cstdint>

#include "lib/format.h"
#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::linux_abi {

struct SyscallDef;
struct SyscallArgs;

namespace strace {

// Boot (kernel/main.cc): trace lines on or off, the calls traced
// (--strace-filter=SET, strace's -e trace=SET: names and %classes,
// comma-separated, "!" in front negates; empty: every call), the summary
// table at exit (--strace-summary, strace's -c). Invalid for a SET naming
// an unknown call or class (the message in `why`).
Result<void> configure(bool trace, StringView filter, bool summary, const char** why);

// Whether the dispatcher calls enter()/leave() at all.
bool active();

// Around one call. `slot` carries enter()'s bookkeeping to leave().
struct Call {
  int slot = -1;
  bool traced = false;
  uint64_t start_ns = 0;
  bool has_mask = false;  // rt_sigreturn: the mask it restores, read at entry
  uint64_t mask = 0;
};
void enter(Call& c, uint32_t nr, const SyscallDef* d, const SyscallArgs& a);
void leave(Call& c, uint32_t nr, const SyscallDef* d, const SyscallArgs& a, int64_t result);

// A signal is being delivered to the calling thread (linux/signal_delivery.cc):
// "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=1, si_uid=0} ---".
// info: the siginfo's first 32 bytes (linux/signal.h KSigInfo).
void signal_delivered(int sig, const void* info);

// The process ends: "+++ exited with N +++" or "+++ killed by SIGX +++"
// (sig != 0), then the summary table when this is the last process.
void exited(int pid, int status, int sig, bool last);

// One call's whole line (no prefix, no newline) into s: --log-missing.
void format_call(Sink& s, uint32_t nr, const SyscallDef* d, const SyscallArgs& a, int64_t result);

}  // namespace strace
}  // namespace capsule::linux_abi
