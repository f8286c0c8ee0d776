// GDT and TSS construction and loading [SDM Vol. 3A 3.4.5, 8.2.3, 8.7].
#include "arch/x64/cpu/cpu_tables.h"

#include "arch/x64/cpu/x64.h"

namespace capsule::x64 {
namespace {

CpuTables g_boot_cpu_tables;

// Code/data descriptors: base and limit are ignored in long mode except for
// the flags nibble (G, D/B, L) and the access byte (P, DPL, S, type).
constexpr uint64_t segment(uint8_t access, uint8_t flags) {
  return 0xffffull | (uint64_t(access) << 40) | (uint64_t(flags & 0xf) << 52) | (0xfull << 48);
}
constexpr uint64_t KERNEL_CODE64 = segment(0x9a, 0xa);  // P, DPL0, code RX; G, L
constexpr uint64_t KERNEL_DATA = segment(0x92, 0xc);    // P, DPL0, data RW; G, D/B
constexpr uint64_t USER_CODE32 = segment(0xfa, 0xc);    // P, DPL3, code RX; G, D/B
constexpr uint64_t USER_DATA = segment(0xf2, 0xc);      // P, DPL3, data RW; G, D/B
constexpr uint64_t USER_CODE64 = segment(0xfa, 0xa);    // P, DPL3, code RX; G, L
static_assert(KERNEL_CODE64 == 0x00af9a000000ffffull);  // the boot GDT's (pvh_entry.S)
static_assert(KERNEL_DATA == 0x00cf92000000ffffull);

struct [[gnu::packed]] DescriptorPointer {
  uint16_t limit;
  uint64_t base;
};

}  // namespace

CpuTables& boot_cpu_tables() { return g_boot_cpu_tables; }

void cpu_tables_init(CpuTables& t) {
  t.tss = {};
  t.tss.ist[IST_DOUBLE_FAULT - 1] = t.double_fault.top();
  t.tss.ist[IST_NMI - 1] = t.nmi.top();
  t.tss.ist[IST_MACHINE_CHECK - 1] = t.machine_check.top();
  t.tss.ist[IST_DEFAULT - 1] = t.general.top();
  t.tss.iomap_base = sizeof(Tss);

  t.gdt[0] = 0;
  t.gdt[SEL_KERNEL_CODE / 8] = KERNEL_CODE64;
  t.gdt[SEL_KERNEL_DATA / 8] = KERNEL_DATA;
  t.gdt[SEL_USER_CODE32 / 8] = USER_CODE32;
  t.gdt[SEL_USER_DATA / 8] = USER_DATA;
  t.gdt[SEL_USER_CODE64 / 8] = USER_CODE64;
  // 64-bit TSS descriptor, 16 bytes [SDM Vol. 3A Figure 8-4]: type 9
  // (available 64-bit TSS), present, DPL0.
  auto base = reinterpret_cast<uint64_t>(&t.tss);
  uint64_t limit = sizeof(Tss) - 1;
  t.gdt[SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                       (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  t.gdt[SEL_TSS / 8 + 1] = base >> 32;
}

void cpu_tables_load(CpuTables& t) {
  // Loading the null selector into GS below may clear its base (Intel
  // does, AMD need not); the boot CPU's base already points at its PerCpu,
  // which SpinLock reads (percpu_early_boot): keep it.
  const uint64_t gs_base = rdmsr(MSR_GS_BASE);
  DescriptorPointer gdtr{sizeof(t.gdt) - 1, reinterpret_cast<uint64_t>(t.gdt)};
  asm volatile("lgdt %0" : : "m"(gdtr) : "memory");
  // CS can only be reloaded by a far transfer: return to the next
  // instruction through lretq with the new selector.
  asm volatile(
      "pushq %[cs]\n\t"
      "leaq 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "lretq\n"
      "1:\n\t"
      "movl %[ds], %%eax\n\t"
      "movl %%eax, %%ds\n\t"
      "movl %%eax, %%es\n\t"
      "movl %%eax, %%ss\n\t"
      "xorl %%eax, %%eax\n\t"
      "movl %%eax, %%fs\n\t"
      "movl %%eax, %%gs\n\t"
      :
      : [cs] "i"(SEL_KERNEL_CODE), [ds] "i"(SEL_KERNEL_DATA)
      : "rax", "memory");
  asm volatile("ltr %w0" : : "r"(SEL_TSS) : "memory");
  wrmsr(MSR_GS_BASE, gs_base);
}

bool is_ist_guard(const CpuTables& t, uintptr_t va) {
  auto in = [va](const uint8_t* guard) {
    auto g = reinterpret_cast<uintptr_t>(guard);
    return va >= g && va < g + 4096;
  };
  return in(t.double_fault.guard) || in(t.nmi.guard) || in(t.machine_check.guard) ||
         in(t.general.guard);
}

}  // namespace capsule::x64
