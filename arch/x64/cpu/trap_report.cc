// The panic report for a CPU exception: what happened, where, every
// register, and a symbolized backtrace starting at the faulting instruction.
#include "arch/x64/cpu/cpu_tables.h"
#include "arch/x64/cpu/traps.h"
#include "arch/x64/cpu/x64.h"
#include "lib/log.h"
#include "arch/arch.h"
#include "arch/memory_layout.h"
#include "lib/panic.h"
#include "arch/power.h"
#include "lib/symbols.h"

namespace capsule::x64 {
namespace {

// [SDM Vol. 3A Table 6-1; AMD APM Vol. 2 Table 8-1]
const char* const NAMES[32] = {
    "#DE Divide Error",        "#DB Debug",
    "NMI Non-Maskable Interrupt", "#BP Breakpoint",
    "#OF Overflow",            "#BR Bound Range Exceeded",
    "#UD Invalid Opcode",      "#NM Device Not Available",
    "#DF Double Fault",        "Coprocessor Segment Overrun",
    "#TS Invalid TSS",         "#NP Segment Not Present",
    "#SS Stack-Segment Fault", "#GP General Protection",
    "#PF Page Fault",          "Reserved (15)",
    "#MF x87 Floating-Point Error", "#AC Alignment Check",
    "#MC Machine Check",       "#XM SIMD Floating-Point",
    "#VE Virtualization Exception", "#CP Control Protection",
    "Reserved (22)",           "Reserved (23)",
    "Reserved (24)",           "Reserved (25)",
    "Reserved (26)",           "Reserved (27)",
    "#HV Hypervisor Injection", "#VC VMM Communication",
    "#SX Security Exception",  "Reserved (31)",
};

void print_location(const char* label, uintptr_t addr) {
  StringView name;
  uintptr_t off;
  if (symbolize(addr, name, off))
    kprint("  {} {:#018x} {}+{:#x}\n", label, addr, name, off);
  else
    kprint("  {} {:#018x}\n", label, addr);
}

// Error code of #TS, #NP, #SS, #GP: a selector index [SDM Vol. 3A 6.13].
void print_selector_error(uint64_t e) {
  const char* table = (e & 2) ? "IDT" : (e & 4) ? "LDT" : "GDT";
  kprint("  error {:#x}: {} index {}{}\n", e, table, (e & 0xffff) >> 3,
         (e & 1) ? ", external event" : "");
}

bool in_stack_guard(uint64_t cr2) {
  return arch_is_stack_guard(cr2) || is_ist_guard(boot_cpu_tables(), cr2);
}

void print_registers(const TrapFrame& f) {
  kprint("  RSP {:#018x} RFLAGS {:#010x} CS {:#x} SS {:#x}\n", f.rsp, f.rflags, f.cs, f.ss);
  kprint("  RAX {:#018x} RBX {:#018x} RCX {:#018x}\n", f.rax, f.rbx, f.rcx);
  kprint("  RDX {:#018x} RSI {:#018x} RDI {:#018x}\n", f.rdx, f.rsi, f.rdi);
  kprint("  RBP {:#018x} R8  {:#018x} R9  {:#018x}\n", f.rbp, f.r8, f.r9);
  kprint("  R10 {:#018x} R11 {:#018x} R12 {:#018x}\n", f.r10, f.r11, f.r12);
  kprint("  R13 {:#018x} R14 {:#018x} R15 {:#018x}\n", f.r13, f.r14, f.r15);
  kprint("  CR0 {:#018x} CR3 {:#018x} CR4 {:#018x}\n", read_cr0(), read_cr3(), read_cr4());
}

}  // namespace

const char* exception_name(unsigned vector) { return vector < 32 ? NAMES[vector] : "IRQ"; }

// #PF error code [SDM Vol. 3A 4.7, Figure 4-12].
void describe_page_fault_error(uint64_t e, char* buf, size_t cap) {
  BufferSink s(buf, cap);
  format(s, "{} {} {}", (e & 1) ? "protection-violation" : "not-present",
         (e & 2) ? "write" : "read", (e & 4) ? "user" : "kernel");
  if (e & (1 << 3)) format(s, " reserved-bit");
  if (e & (1 << 4)) format(s, " instruction-fetch");
  if (e & (1 << 5)) format(s, " protection-key");
  if (e & (1 << 6)) format(s, " shadow-stack");
}

[[noreturn]] void exception_panic(const TrapFrame& f, uint64_t cr2) {
  if (!panic_begin()) {
    // A fault in the panic printer (or a fault while another panic runs):
    // one line, then stop; never a loop of reports.
    kprint("\npanic: nested {} at {:#x} (CR2 {:#x}) while panicking, halting\n",
           exception_name(unsigned(f.vector)), f.rip, cr2);
    panic_stop();
  }
  unsigned v = unsigned(f.vector);
  bool overflow = v == VEC_PAGE_FAULT && in_stack_guard(cr2);
  kprint("\npanic: {}{} (vector {})\n", overflow ? "kernel stack overflow: " : "",
         exception_name(v), v);
  char who[64];
  describe_current_thread(who, sizeof(who));
  kprint("  in {}\n", who);
  if (v == VEC_PAGE_FAULT) {
    char what[96];
    describe_page_fault_error(f.error_code, what, sizeof(what));
    kprint("  error {:#x}: {}\n", f.error_code, what);
    kprint("  CR2 {:#018x}{}\n", cr2, overflow ? " (in a stack guard page)" : "");
  } else if ((v >= 10 && v <= 13) && f.error_code) {
    print_selector_error(f.error_code);
  } else if (has_error_code(v)) {
    kprint("  error {:#x}\n", f.error_code);
  }
  if (v == VEC_DOUBLE_FAULT)
    kprint("  (RIP and RSP below are those of the fault that could not be delivered;"
           " the SDM leaves them undefined)\n");
  print_location("RIP", f.rip);
  print_registers(f);
  print_backtrace(f.rip, f.rbp);
  panic_stop();
}

}  // namespace capsule::x64
