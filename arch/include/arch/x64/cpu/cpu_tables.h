#pragma once
// Per-CPU descriptor tables: the GDT, the 64-bit TSS and the IST stacks it
// points at. One CpuTables per CPU (the boot CPU's is boot_cpu_tables(); SMP
// bring-up will allocate one per application processor). The IDT is shared
// by every CPU (arch/x64/cpu/idt.h); only the stacks its IST indices select
// are per CPU. docs/traps.md explains the layout.
#include <cstddef>
#include <cstdint>

namespace capsule::x64 {

// Selectors. 0x18..0x28 follow SYSRET's layout (STAR[63:48] = 0x18:
// SS = 0x18 + 8, CS64 = 0x18 + 16) for the day code runs at CPL3; Capsule
// runs everything at CPL0 today [SDM Vol. 2B, SYSRET].
constexpr uint16_t SEL_KERNEL_CODE = 0x08;
constexpr uint16_t SEL_KERNEL_DATA = 0x10;
constexpr uint16_t SEL_USER_CODE32 = 0x18;
constexpr uint16_t SEL_USER_DATA = 0x20;
constexpr uint16_t SEL_USER_CODE64 = 0x28;
constexpr uint16_t SEL_TSS = 0x30;  // 16-byte system descriptor: slots 6 and 7
constexpr size_t GDT_ENTRIES = 8;

// IST indices (1..7; 0 would mean "stay on the interrupted stack", which the
// application's red zone forbids). #DF, NMI and #MC can arrive while another
// vector is running on the shared stack, so each has its own.
constexpr unsigned IST_DOUBLE_FAULT = 1;
constexpr unsigned IST_NMI = 2;
constexpr unsigned IST_MACHINE_CHECK = 3;
constexpr unsigned IST_DEFAULT = 4;  // every other exception and all IRQs
constexpr unsigned IST_COUNT = 4;

// 64-bit TSS [SDM Vol. 3A 8.7, Figure 8-11].
struct [[gnu::packed]] Tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];  // ist[0] is IST1
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;  // = sizeof(Tss): no I/O permission bitmap
};
static_assert(sizeof(Tss) == 104);

// An IST stack with a page below it that nothing uses: if mm unmaps it, an
// overflowing handler faults (and #DF reports it) instead of silently
// writing over the neighbouring stack.
template <size_t Size>
struct alignas(4096) IstStack {
  uint8_t guard[4096];
  alignas(16) uint8_t stack[Size];
  uintptr_t top() const { return reinterpret_cast<uintptr_t>(stack + Size); }
};

struct alignas(4096) CpuTables {
  IstStack<8192> double_fault;
  IstStack<8192> nmi;
  IstStack<8192> machine_check;
  IstStack<16384> general;  // exceptions, IRQs; also runs the panic printer
  alignas(16) uint64_t gdt[GDT_ENTRIES];
  Tss tss;
};

CpuTables& boot_cpu_tables();

// Fills the GDT and TSS of `t` (IST pointers at its stacks).
void cpu_tables_init(CpuTables& t);
// On the calling CPU: lgdt, reload CS/DS/ES/SS (FS/GS become null, before
// anything sets their bases), ltr.
void cpu_tables_load(CpuTables& t);

// True if `va` lies in a guard page below one of the IST stacks of `t`.
bool is_ist_guard(const CpuTables& t, uintptr_t va);

}  // namespace capsule::x64
