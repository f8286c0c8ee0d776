// Per-CPU feature enables: FSGSBASE (cheap FS switches), vector state.
#include "arch/x64/cpu/x64.h"
#include "arch/arch.h"
#include "arch/cpu.h"
#include "arch/fpu.h"
#include "arch/x64/cpu/syscall_frame.h"
#include "arch/percpu.h"

namespace capsule {
namespace x64 {
namespace {
bool g_fsgsbase;
}
bool fsgsbase_enabled() { return g_fsgsbase; }
}  // namespace x64

void cpu_init_features() {
  if (cpu_features().fsgsbase) {
    x64::write_cr4(x64::read_cr4() | (1ull << 16));  // CR4.FSGSBASE
    x64::g_fsgsbase = true;
  }
  fpu_init_cpu();
  x64::syscall_init_cpu();
  // IA32_TSC_AUX = this CPU's index, read back by RDTSCP/RDPID: the vDSO's
  // getcpu (core/vdso). Linux's encoding, (node << 12) | cpu, with node 0.
  if (cpu_features().rdtscp || cpu_features().rdpid) x64::wrmsr(x64::MSR_TSC_AUX, this_cpu()->index & 0xfff);
}

}  // namespace capsule
