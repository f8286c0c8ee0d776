#pragma once
// Process credentials and limits other linux/ families read (the VFS: the
// umask and fs ids for new files; the fd table: L_RLIMIT_NOFILE). One process
// per VM, so the state is global to linux/ (linux/sys_ident.cc,
// linux/sys_limits.cc).
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule {
struct Process;
}
namespace capsule::vfs {
struct Cred;
}

namespace capsule::linux_abi {

uint32_t current_umask();
// The caller's credentials as the file checks see them
// (fs/vfs/permission.h): the fs ids, the supplementary groups and the
// capabilities of the effective set; false for kernel threads (nothing is
// checked). real: access(2)'s view — the real ids, and capabilities only
// for a real uid of 0 (its permitted set).
bool current_cred(vfs::Cred& out, bool real = false);
uint32_t current_fsuid();
uint32_t current_fsgid();
uint32_t current_euid();
uint32_t current_egid();
// Capabilities (capabilities(7)): the bit numbers Linux gives them.
enum Capability : int {
  L_CAP_CHOWN = 0, L_CAP_DAC_OVERRIDE = 1, L_CAP_DAC_READ_SEARCH = 2, L_CAP_FOWNER = 3, L_CAP_FSETID = 4,
  L_CAP_KILL = 5, L_CAP_SETGID = 6, L_CAP_SETUID = 7, L_CAP_SETPCAP = 8, L_CAP_LINUX_IMMUTABLE = 9,
  L_CAP_NET_BIND_SERVICE = 10, L_CAP_NET_ADMIN = 12, L_CAP_NET_RAW = 13, L_CAP_IPC_LOCK = 14,
  L_CAP_SYS_CHROOT = 18, L_CAP_SYS_PTRACE = 19, L_CAP_SYS_ADMIN = 21, L_CAP_SYS_NICE = 23,
  L_CAP_SYS_RESOURCE = 24, L_CAP_SYS_TIME = 25, L_CAP_MKNOD = 27, L_CAP_MAC_OVERRIDE = 32,
  L_CAP_LAST_CAP = 40,  // Linux 6.1: CAP_CHECKPOINT_RESTORE
};
constexpr uint64_t L_CAP_FULL_SET = (1ull << (L_CAP_LAST_CAP + 1)) - 1;
// The caller's effective set holds `cap` (kernel threads: all).
bool current_capable(int cap);
// A process's sets, for /proc/PID/status (linux/sys_capability.cc).
struct CapsView {
  uint64_t inh, prm, eff, bnd, amb;
};
CapsView caps_of(Process& p);
// The prctl options on capabilities: keepcaps, the bounding set, the
// securebits and the ambient set.
Result<int64_t> caps_prctl(int option, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);

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
// The NIS domain name (uname's domainname; /proc/sys/kernel/domainname),
// the same way.
void domainname(char* out);
Result<void> set_domainname(const char* name, size_t len);
uint64_t rlimit_max(int resource);

}  // namespace capsule::linux_abi
