// Per-CPU time accounting by mode (arch/cpu_account.h, docs/stats.md).
#include "arch/cpu_account.h"

#include "arch/percpu.h"
#include "arch/x64/cpu/x64.h"

extern "C" {
bool g_cpu_accounting = false;
}

namespace capsule {

void cpu_account_enable() {
  // The CPUs' acct_since are 0: their first stretch would be counted from
  // power-on. Each starts now on its next change (acct_since == 0 below).
  __atomic_store_n(&g_cpu_accounting, true, __ATOMIC_RELEASE);
}

extern "C" void cpu_account_slow(CpuMode m) {
  PerCpu* c = this_cpu();
  const uint64_t now = x64::rdtsc();
  if (c->acct_since && c->acct_mode < CPU_MODES) c->acct_cycles[c->acct_mode] += now - c->acct_since;
  c->acct_since = now;
  c->acct_mode = uint32_t(m);
}

uint64_t cpu_account_cycles(CpuMode m) {
  uint64_t sum = 0;
  const uint32_t mode = uint32_t(m);
  for (uint32_t i = 0; PerCpu* c = cpu_by_index(i); ++i) {
    sum += __atomic_load_n(&c->acct_cycles[mode], __ATOMIC_RELAXED);
    // This CPU's current stretch, as if it changed mode now.
    if (c == this_cpu() && c->acct_mode == mode && c->acct_since) sum += x64::rdtsc() - c->acct_since;
  }
  return sum;
}

}  // namespace capsule
