#pragma once
// --strace's decoding of one call's arguments and result (linux/strace.cc
// uses it; docs/strace.md). Each call strace knows has a small spec of its
// arguments' kinds (strace_args.cc); a call without one prints its
// arguments from its typed definition (linux/syscall_types.h: hex for
// flags, pointers as addresses), so a new system call is decoded sanely
// without work here.
#include <cstddef>
#include <cstdint>

#include "lib/format.h"
#include "lib/string_view.h"

namespace capsule::linux_abi {

struct SyscallDef;
struct SyscallArgs;

namespace strace {

// Which arguments to print: strace prints the ones the kernel reads at
// entry, and the ones it fills (a read buffer, a stat) when the call
// returns; a call that blocks while another thread's line comes is cut
// there ("<unfinished ...>", then "<... read resumed>").
enum class Part : uint8_t { All, Entry, Exit };

// Builds the per-number spec table (boot).
void args_init();
// The arguments of the part (no parentheses).
void print_args(Sink& s, uint32_t nr, const SyscallDef* d, const SyscallArgs& a, int64_t result, Part part);
// " = 3", " = 0x7f0000", " = -1 ENOENT (No such file or directory)", " = ?"
void print_result(Sink& s, uint32_t nr, const SyscallDef* d, int64_t result);
// A signal mask as strace prints it: "[INT TERM]", "~[RTMIN RT_1]".
void print_sigmask(Sink& s, uint64_t mask);
// "SIGKILL" (signal names for the exit line); "SIG123" if unknown.
void print_signal(Sink& s, int sig);
// Whether nr's line is printed before it runs (exit, exit_group: " = ?").
bool never_returns(uint32_t nr);

// --strace-filter's classes (linux/strace_classes.cc): whether class cls
// ("%file", "%desc", ...) holds the call; `known` says whether cls is one.
bool class_has(StringView cls, StringView call, bool& known);

// errno names and texts (linux/strace_errno.cc): "ENOENT", "No such file
// or directory"; nullptr for a number without one.
const char* errno_name(int64_t e);
const char* errno_text(int64_t e);

}  // namespace strace
}  // namespace capsule::linux_abi
