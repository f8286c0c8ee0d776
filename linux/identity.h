#pragma once
// Process credentials and limits other linux/ families read (the VFS: the
// umask and fs ids for new files; the fd table: L_RLIMIT_NOFILE). One process
// per VM, so the state is global to linux/ (linux/sys_ident.cc,
// linux/sys_limits.cc).
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::linux_abi {

uint32_t current_umask();
uint32_t current_fsuid();
uint32_t current_fsgid();
uint32_t current_euid();
uint32_t current_egid();
bool current_privileged();  // effective uid 0: what Linux's capabilities allow root

constexpr uint64_t L_RLIM_INFINITY = ~0ull;
enum Rlimit : int {
  L_RLIMIT_CPU = 0, L_RLIMIT_FSIZE, L_RLIMIT_DATA, L_RLIMIT_STACK, L_RLIMIT_CORE, L_RLIMIT_RSS, L_RLIMIT_NPROC,
  L_RLIMIT_NOFILE, L_RLIMIT_MEMLOCK, L_RLIMIT_AS, L_RLIMIT_LOCKS, L_RLIMIT_SIGPENDING, L_RLIMIT_MSGQUEUE,
  L_RLIMIT_NICE, L_RLIMIT_RTPRIO, L_RLIMIT_RTTIME, L_RLIM_NLIMITS
};
uint64_t rlimit_cur(int resource);
// The host name (uname's nodename; /proc/sys/kernel/hostname): copies it
// NUL-terminated into out (65 bytes).
void hostname(char* out);
// sethostname for the kernel's callers: Error::Invalid (over 64 bytes) or
// Error::Permission.
Result<void> set_hostname(const char* name, size_t len);
uint64_t rlimit_max(int resource);

}  // namespace capsule::linux_abi
