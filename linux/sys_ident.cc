// Identity: uname reports Linux 6.1 so that libcs and programs that check
// the kernel version are content.
#include "capsule/uaccess.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

struct Utsname {  // struct new_utsname: six 65-byte fields
  char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};

void set(char* dst, const char* src) {
  size_t i = 0;
  for (; src[i] && i < 64; ++i) dst[i] = src[i];
  dst[i] = 0;
}

}  // namespace

LINUX_SYSCALL(63, uname, "p") {
  Utsname u = {};
  set(u.sysname, "Linux");
  set(u.nodename, "capsule");
  set(u.release, "6.1.0-capsule");
  set(u.version, "#1 SMP Capsule 0.1");
  set(u.machine, "x86_64");
  set(u.domainname, "(none)");
  return copy_to_user(reinterpret_cast<void*>(args.a[0]), &u, sizeof(u)).ok() ? 0 : -kEFAULT;
}

}  // namespace capsule::linux_abi
