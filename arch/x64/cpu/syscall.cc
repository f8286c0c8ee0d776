// SYSCALL set-up [SDM Vol. 2B SYSCALL; Vol. 3A 5.8.8].
#include "arch/x64/cpu/syscall_frame.h"
#include "arch/x64/cpu/x64.h"

extern "C" char syscall_entry[], syscall_entry_probe[];

namespace capsule::x64 {

constexpr uint32_t MSR_STAR = 0xc0000081, MSR_LSTAR = 0xc0000082, MSR_FMASK = 0xc0000084;

namespace {
bool g_probe;  // --syscall-probe
uint64_t entry() { return reinterpret_cast<uint64_t>(g_probe ? syscall_entry_probe : syscall_entry); }
}  // namespace

void syscall_probe_enable() {
  g_probe = true;
  wrmsr(MSR_LSTAR, entry());
}

void syscall_init_cpu() {
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);  // SCE
  // STAR[47:32]: CS for SYSCALL (SS = CS + 8): the kernel's, since the
  // application runs at CPL0 too. STAR[63:48]: SYSRET's base, unused.
  wrmsr(MSR_STAR, (uint64_t(0x18) << 48) | (uint64_t(0x08) << 32));
  wrmsr(MSR_LSTAR, entry());
  // Cleared on entry: IF (no interrupt before the stack switch), TF, DF,
  // NT, AC.
  wrmsr(MSR_FMASK, (1u << 9) | (1u << 8) | (1u << 10) | (1u << 14) | (1u << 18));
}

}  // namespace capsule::x64
