// arch_prctl: the FS and GS bases (TLS).
#include "arch/x64/cpu/x64.h"
#include "arch/uaccess.h"
#include "core/sched/thread.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {
constexpr uint64_t ARCH_SET_GS = 0x1001, ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003, ARCH_GET_GS = 0x1004;

bool canonical(uint64_t v) { return v < 0x0000800000000000ull; }
}  // namespace

LINUX_SYSCALL(158, arch_prctl, "xp") {
  switch (args.a[0]) {
    case ARCH_SET_FS:
      if (!canonical(args.a[1])) return -kEPERM;
      x64::write_fs_base(args.a[1]);
      return 0;
    case ARCH_GET_FS: {
      uint64_t v = x64::read_fs_base();
      return copy_to_user(reinterpret_cast<void*>(args.a[1]), &v, 8).ok() ? 0 : -kEFAULT;
    }
    case ARCH_SET_GS:
      // In the kernel the application's GS base sits in MSR_KERNEL_GS_BASE
      // (the entry paths swapgs); it becomes live on the way out.
      if (!canonical(args.a[1])) return -kEPERM;
      x64::wrmsr(x64::MSR_KERNEL_GS_BASE, args.a[1]);
      return 0;
    case ARCH_GET_GS: {
      uint64_t v = x64::rdmsr(x64::MSR_KERNEL_GS_BASE);
      return copy_to_user(reinterpret_cast<void*>(args.a[1]), &v, 8).ok() ? 0 : -kEFAULT;
    }
    default:
      return -kEINVAL;
  }
}

}  // namespace capsule::linux_abi
