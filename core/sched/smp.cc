// Bringing up the application processors that ACPI's MADT lists:
// INIT, then STARTUP IPIs at the real-mode trampoline
// (arch/x64/boot/ap_trampoline.S), one CPU at a time [SDM Vol. 3A 9.4.4].
// Each AP gets its own descriptor tables, IST stacks, PerCpu, run queue and
// idle thread, whose stack it starts on.
#include "arch/x64/cpu/cpu_tables.h"
#include "arch/x64/cpu/idt.h"
#include "arch/x64/cpu/x64.h"
#include "arch/acpi.h"
#include "arch/apic.h"
#include "arch/arch.h"
#include "lib/log.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "core/smp.h"
#include "core/tlb.h"
#include "core/time.h"
#include "core/mm/mm_internal.h"
#include "core/sched/run_queue.h"

extern "C" char ap_trampoline_start[], ap_trampoline_end[], ap_trampoline_params[];
extern "C" char boot_pml4[];
extern "C" char ap_start64[];

namespace capsule {
namespace {

constexpr uint64_t TRAMPOLINE_PHYS = 0x8000;

struct TrampolineParams {
  uint64_t cr3;
  uint64_t entry;
  uint64_t stack;
  uint64_t arg;
  uint64_t final_cr3;
};

std::atomic<bool> g_ap_started;
void (*g_cpu_clock_init)(unsigned cpu_index);

extern "C" [[noreturn]] void ap_entry(PerCpu* c) {
  x64::cpu_tables_load(*c->tables);
  x64::idt_load();
  percpu_load(c);
  cpu_init_features();
  lapic_init_cpu();
  c->apic_id = lapic_id();
  if (g_cpu_clock_init) g_cpu_clock_init(c->index);  // kvmclock: its own pvclock area
  g_ap_started.store(true, std::memory_order_release);
  sched_start_ap();
}

void wait_us(uint64_t us) {
  uint64_t end = uptime_ns() + us * 1000;
  while (uptime_ns() < end) x64::pause();
}

Result<void> start_ap(uint32_t apic_id) {
  auto* c = new (std::nothrow) PerCpu();
  auto* tables = static_cast<x64::CpuTables*>(kzalloc(sizeof(x64::CpuTables)));
  if (!c || !tables) return Error::NoMemory;
  c->apic_id = apic_id;
  c->tables = tables;
  x64::cpu_tables_init(*tables);
  percpu_register(c);
  Thread* idle = TRY(sched_prepare_cpu(c));

  auto* params = reinterpret_cast<TrampolineParams*>(
      static_cast<char*>(phys_to_virt(TRAMPOLINE_PHYS)) + (ap_trampoline_params - ap_trampoline_start));
  params->cr3 = reinterpret_cast<uintptr_t>(boot_pml4) - KERNEL_VMA;
  params->entry = reinterpret_cast<uint64_t>(&ap_start64);
  params->final_cr3 = mm::kernel_root();
  params->stack = idle->stack.top - 16;
  params->arg = reinterpret_cast<uint64_t>(c);
  g_ap_started.store(false);
  asm volatile("mfence" ::: "memory");

  lapic_send_init(apic_id);
  wait_us(100);  // QEMU and modern CPUs need no 10 ms INIT delay
  lapic_send_startup(apic_id, uint8_t(TRAMPOLINE_PHYS >> 12));
  uint64_t deadline = uptime_ns() + 20000000;  // 20 ms, then a second SIPI
  bool resent = false;
  while (!c->online.load(std::memory_order_acquire)) {
    if (uptime_ns() > deadline) {
      if (resent) {
        log_warn("smp: CPU with APIC id {} did not start", apic_id);
        c->online.store(false);
        return Error::TimedOut;
      }
      if (!g_ap_started.load()) lapic_send_startup(apic_id, uint8_t(TRAMPOLINE_PHYS >> 12));
      resent = true;
      deadline = uptime_ns() + 500000000;
    }
    x64::pause();
  }
  return {};
}

}  // namespace

void smp_set_cpu_clock_init(void (*init)(unsigned cpu_index)) { g_cpu_clock_init = init; }

unsigned smp_boot_aps() {
  const AcpiInfo& a = acpi_info();
  uint32_t self = lapic_id();
  this_cpu()->apic_id = self;
  size_t size = size_t(ap_trampoline_end - ap_trampoline_start);
  __builtin_memcpy(phys_to_virt(TRAMPOLINE_PHYS), ap_trampoline_start, size);
  unsigned started = 0;
  for (size_t i = 0; i < a.cpu_count; ++i) {
    if (!a.cpus[i].enabled || a.cpus[i].apic_id == self) continue;
    if (cpu_by_index(MAX_CPUS - 1)) break;
    if (start_ap(a.cpus[i].apic_id).ok()) ++started;
  }
  if (started) log_info("smp: {} CPUs online", started + 1);
  tlb_init();  // page-table changes from now on reach every CPU's TLB
  return started;
}

}  // namespace capsule
