// arch_init_boot_cpu: the boot CPU's descriptor tables (arch/include/arch/arch.h).
#include "arch/x64/cpu/cpu_tables.h"
#include "arch/x64/cpu/idt.h"
#include "arch/arch.h"
#include "lib/log.h"

namespace capsule {

void arch_init_boot_cpu() {
  x64::CpuTables& t = x64::boot_cpu_tables();
  x64::cpu_tables_init(t);
  x64::cpu_tables_load(t);
  x64::idt_init();
  x64::idt_load();
  log_debug("cpu: GDT, TSS with {} IST stacks, IDT with 256 vectors loaded", x64::IST_COUNT);
}

}  // namespace capsule
