// arch_prctl: the FS and GS bases (TLS).
#include "arch/x64/cpu/x64.h"
#include "arch/uaccess.h"
#include "core/sched/thread.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {
constexpr int ARCH_SET_GS = 0x1001, ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003, ARCH_GET_GS = 0x1004;

bool canonical(uint64_t v) { return v < 0x0000800000000000ull; }
}  // namespace

// option is an int (Linux: SYSCALL_DEFINE2(arch_prctl, int, option,
// unsigned long, arg2)); arg2 is an address or, for the GET codes, a
// pointer to where the base goes.
DEFINE_SYSCALL(158, arch_prctl, Result<void>, Hex<int> option, Address arg2) {
  switch (option) {
    case ARCH_SET_FS:
      if (!canonical(arg2)) return Error::Permission;
      x64::write_fs_base(arg2);
      return {};
    case ARCH_GET_FS:
      return UserPtr<uint64_t>(arg2).write(x64::read_fs_base());
    case ARCH_SET_GS:
      // In the kernel the application's GS base sits in MSR_KERNEL_GS_BASE
      // (the entry paths swapgs); it becomes live on the way out.
      if (!canonical(arg2)) return Error::Permission;
      x64::wrmsr(x64::MSR_KERNEL_GS_BASE, arg2);
      return {};
    case ARCH_GET_GS:
      return UserPtr<uint64_t>(arg2).write(x64::rdmsr(x64::MSR_KERNEL_GS_BASE));
    default:
      return Error::Invalid;
  }
}

}  // namespace capsule::linux_abi
