#include "arch/x64/cpu/cpu_tables.h"
#include "arch/x64/cpu/x64.h"
#include "arch/percpu.h"

namespace capsule {
namespace {
PerCpu g_boot_cpu;
PerCpu* g_cpus[MAX_CPUS];
std::atomic<uint32_t> g_count{0};
}  // namespace

void percpu_load(PerCpu* c) { x64::wrmsr(x64::MSR_GS_BASE, reinterpret_cast<uint64_t>(c)); }

void percpu_early_boot() {
  g_boot_cpu.self = &g_boot_cpu;
  percpu_load(&g_boot_cpu);
}

void percpu_init_boot() {
  g_boot_cpu.self = &g_boot_cpu;
  g_boot_cpu.index = 0;
  g_boot_cpu.tables = &x64::boot_cpu_tables();
  g_boot_cpu.online.store(true);
  g_cpus[0] = &g_boot_cpu;
  g_count.store(1);
  percpu_load(&g_boot_cpu);
}

uint32_t percpu_register(PerCpu* c) {
  uint32_t i = g_count.load();
  c->self = c;
  c->index = i;
  g_cpus[i] = c;
  g_count.store(i + 1);
  return i;
}

uint64_t percpu_count_sum(size_t slot) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < g_count.load() && slot < PERCPU_COUNTERS; ++i)
    n += __atomic_load_n(&g_cpus[i]->counters[slot], __ATOMIC_RELAXED);
  return n;
}

uint32_t cpu_count() {
  uint32_t n = 0;
  for (uint32_t i = 0; i < g_count.load(); ++i)
    if (g_cpus[i]->online.load(std::memory_order_acquire)) ++n;
  return n;
}

PerCpu* cpu_by_index(uint32_t i) { return i < g_count.load() ? g_cpus[i] : nullptr; }

}  // namespace capsule
