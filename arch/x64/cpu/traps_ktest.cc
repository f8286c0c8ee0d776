// In-kernel tests of the descriptor tables, the trap path and the extable.
#include "arch/x64/cpu/cpu_tables.h"
#include "arch/x64/cpu/extable.h"
#include "arch/x64/cpu/idt.h"
#include "arch/x64/cpu/trap_frame.h"
#include "arch/x64/cpu/traps.h"
#include "arch/boot.h"
#include "lib/ktest.h"

namespace capsule::x64 {
namespace {

// Non-canonical: bits 63..47 are not all equal, so any access is #GP.
constexpr uintptr_t NON_CANONICAL = 0x8000000000000000ull;
// Kernel-half hole (PML4 slot 510): neither the direct map, the MMIO window
// nor the kernel image (core/include/core/mm.h), so a read is a #PF.
constexpr uintptr_t UNMAPPED = 0xffffff0000000000ull;

struct [[gnu::packed]] TablePointer {
  uint16_t limit;
  uint64_t base;
};

}  // namespace

KTEST(traps_idt_every_vector_on_an_ist) {
  unsigned bad = 0;
  for (unsigned v = 0; v < 256; ++v) {
    IdtGate* g = idt_gate(v);
    if (!g || g->type_attr != GATE_INTERRUPT || g->selector != SEL_KERNEL_CODE ||
        g->offset() != trap_stub(v) || g->ist == 0 || g->ist != ist_for_vector(v))
      ++bad;
  }
  KEXPECT(bad == 0);
  // #DF, NMI and #MC each on their own stack, apart from everything else.
  KEXPECT(idt_gate(8)->ist == IST_DOUBLE_FAULT);
  KEXPECT(idt_gate(2)->ist == IST_NMI);
  KEXPECT(idt_gate(18)->ist == IST_MACHINE_CHECK);
  KEXPECT(idt_gate(14)->ist == IST_DEFAULT && idt_gate(32)->ist == IST_DEFAULT);
  KEXPECT(IST_DEFAULT != IST_DOUBLE_FAULT && IST_DEFAULT != IST_NMI &&
          IST_DEFAULT != IST_MACHINE_CHECK);
}

KTEST(traps_gdt_tss_loaded) {
  CpuTables& t = boot_cpu_tables();
  TablePointer gdtr;
  asm volatile("sgdt %0" : "=m"(gdtr));
  KEXPECT(gdtr.base == reinterpret_cast<uint64_t>(t.gdt));
  KEXPECT(gdtr.limit == sizeof(t.gdt) - 1);
  uint16_t tr, cs, ss, ds;
  asm volatile("str %0" : "=r"(tr));
  asm volatile("mov %%cs, %0" : "=r"(cs));
  asm volatile("mov %%ss, %0" : "=r"(ss));
  asm volatile("mov %%ds, %0" : "=r"(ds));
  KEXPECT(tr == SEL_TSS);
  KEXPECT(cs == SEL_KERNEL_CODE);
  KEXPECT(ss == SEL_KERNEL_DATA && ds == SEL_KERNEL_DATA);
  // ltr marks the descriptor busy (type 0xb).
  KEXPECT(((t.gdt[SEL_TSS / 8] >> 40) & 0xf) == 0xb);
  KEXPECT(t.tss.ist[IST_DOUBLE_FAULT - 1] == t.double_fault.top());
  KEXPECT(t.tss.ist[IST_NMI - 1] == t.nmi.top());
  KEXPECT(t.tss.ist[IST_MACHINE_CHECK - 1] == t.machine_check.top());
  KEXPECT(t.tss.ist[IST_DEFAULT - 1] == t.general.top());
  for (unsigned i = 0; i < IST_COUNT; ++i) KEXPECT(t.tss.ist[i] % 16 == 0);
  KEXPECT(is_ist_guard(t, reinterpret_cast<uintptr_t>(t.general.guard) + 100));
  KEXPECT(!is_ist_guard(t, t.general.top() - 8));
}

KTEST(traps_extable_fixes_gp) {
  KEXPECT(extable_size() >= 1);
  auto r = probe_read_u64(reinterpret_cast<const void*>(NON_CANONICAL));
  KEXPECT(!r.ok());
  KEXPECT(r.error() == Error::Fault);
}

KTEST(traps_extable_fixes_pf) {
  auto r = probe_read_u64(reinterpret_cast<const void*>(UNMAPPED));
  KEXPECT(!r.ok());
  KEXPECT(r.error() == Error::Fault);
}

KTEST(traps_probe_reads_mapped_memory) {
  static volatile uint64_t value = 0x1122334455667788ull;
  auto r = probe_read_u64(const_cast<const uint64_t*>(&value));
  KEXPECT(r.ok());
  KEXPECT(r.value_or(0) == 0x1122334455667788ull);
}

KTEST(traps_extable_entries_point_into_text) {
  extern const ExtableEntry __extable_start[] asm("__extable_start");
  extern const ExtableEntry __extable_end[] asm("__extable_end");
  auto text = [](uintptr_t a) {
    return a >= reinterpret_cast<uintptr_t>(__text_start) &&
           a < reinterpret_cast<uintptr_t>(__text_end);
  };
  for (const ExtableEntry* e = __extable_start; e < __extable_end; ++e) {
    KEXPECT(text(e->insn));
    KEXPECT(text(e->fixup));
    KEXPECT(extable_find(e->insn) == e->fixup);
  }
  KEXPECT(extable_find(reinterpret_cast<uintptr_t>(__text_start)) == 0);
}

KTEST(traps_page_fault_error_decoded) {
  char buf[96];
  describe_page_fault_error(0x2, buf, sizeof(buf));
  KEXPECT(StringView(buf) == "not-present write kernel");
  describe_page_fault_error(0x15, buf, sizeof(buf));
  KEXPECT(StringView(buf) == "protection-violation read user instruction-fetch");
  describe_page_fault_error(0x9, buf, sizeof(buf));
  KEXPECT(StringView(buf) == "protection-violation read kernel reserved-bit");
}

KTEST(traps_exception_names) {
  KEXPECT(StringView(exception_name(0)) == "#DE Divide Error");
  KEXPECT(StringView(exception_name(6)) == "#UD Invalid Opcode");
  KEXPECT(StringView(exception_name(8)) == "#DF Double Fault");
  KEXPECT(StringView(exception_name(13)) == "#GP General Protection");
  KEXPECT(StringView(exception_name(14)) == "#PF Page Fault");
  KEXPECT(StringView(exception_name(40)) == "IRQ");
}

}  // namespace capsule::x64
