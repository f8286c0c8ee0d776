// What the instructions of the system-call path cost on this CPU (issue 16):
// --test=probe prints one line per instruction,
//   probe: <name> <ns per execution> ns
// timed with RDTSC over a loop of N (interrupts off), minus the same loop
// with an empty body, the best of a few rounds. Under TCG the cost follows
// what QEMU does for the instruction (inline code, a helper call, the end
// of a translation block), so these figures say what the entry and return
// in syscall_entry.S cost, one instruction at a time. `syscall_bare` is the
// reference of bench/README.md: SYSCALL into an entry that only jumps back
// through RCX, the least any system call can cost here.
//
// The test checks only that each figure was measured (the loops ran); no
// figure is compared with a time (no timed tests).
#include <cstdint>

#include "arch/cpu.h"
#include "arch/spinlock.h"
#include "arch/x64/cpu/x64.h"
#include "lib/ktest.h"
#include "lib/log.h"

// SYSCALL targets for the probe: the least entry (jump back through RCX),
// and one that restores RFLAGS from R11 as syscall_entry's return does.
asm(R"(
    .pushsection .text
    .globl probe_syscall_bare
probe_syscall_bare:
    jmp *%rcx
    .globl probe_syscall_popfq
probe_syscall_popfq:
    pushq %r11
    popfq
    jmp *%rcx
    .globl probe_ret
probe_ret:
    ret
    .popsection
)");

extern "C" char probe_syscall_bare[], probe_syscall_popfq[], probe_ret[];

namespace capsule::x64 {
namespace {

constexpr uint32_t MSR_LSTAR = 0xc0000082;
constexpr uint64_t N = 20000;  // executions per round
constexpr int ROUNDS = 5;

// One timed loop: BODY N times. Each expands to a function returning TSC
// ticks; the loop counter lives in a register the bodies leave alone.
#define PROBE_LOOP(ident, body, ...)                                  \
  uint64_t ident() {                                                  \
    uint64_t t0 = rdtsc();                                            \
    uint64_t n = N;                                                   \
    asm volatile("1:\n\t" body "\n\tdec %[n]\n\tjnz 1b"               \
                 : [n] "+r"(n)                                        \
                 : [ret] "r"(probe_ret)                               \
                 : "memory", "cc" __VA_OPT__(,) __VA_ARGS__);         \
    return rdtsc() - t0;                                              \
  }

PROBE_LOOP(loop_empty, "")
PROBE_LOOP(loop_nop, "nop")
PROBE_LOOP(loop_cld, "cld")
PROBE_LOOP(loop_push_pop, "pushq %%rbx\n\tpopq %%rbx")
PROBE_LOOP(loop_pushfq, "pushfq\n\tpopq %%rax", "rax")
PROBE_LOOP(loop_pushfq_popfq, "pushfq\n\tpopfq")
PROBE_LOOP(loop_sti_cli, "sti\n\tcli")
PROBE_LOOP(loop_cli, "cli")
PROBE_LOOP(loop_swapgs2, "swapgs\n\tswapgs")
PROBE_LOOP(loop_gs_load, "movq %%gs:16, %%rax", "rax")
PROBE_LOOP(loop_gs_store, "movq %%rax, %%gs:24", "rax")
PROBE_LOOP(loop_rdmsr, "movl $0xc0000102, %%ecx\n\trdmsr", "rax", "rcx", "rdx")
PROBE_LOOP(loop_wrmsr, "movl $0xc0000102, %%ecx\n\trdmsr\n\twrmsr", "rax", "rcx", "rdx")
PROBE_LOOP(loop_call, "call probe_ret")
PROBE_LOOP(loop_call_indirect, "call *%[ret]")
PROBE_LOOP(loop_lfence, "lfence")
PROBE_LOOP(loop_lock_add, "lock addq $1, -8(%%rsp)")
PROBE_LOOP(loop_rdtsc, "rdtsc", "rax", "rdx")
PROBE_LOOP(loop_syscall, "syscall", "rcx", "r11")
PROBE_LOOP(loop_iretq,
           "movq %%rsp, %%rax\n\t"
           "pushq $0x10\n\tpushq %%rax\n\tpushfq\n\tpushq $0x08\n\t"
           "leaq 2f(%%rip), %%rax\n\tpushq %%rax\n\tiretq\n2:",
           "rax")

// The best of ROUNDS, in TSC ticks.
uint64_t best(uint64_t (*loop)()) {
  uint64_t b = ~0ull;
  for (int r = 0; r < ROUNDS; ++r) {
    uint64_t t = loop();
    if (t < b) b = t;
  }
  return b;
}

struct Probe {
  const char* name;
  uint64_t (*loop)();
  uint64_t lstar;  // 0, or the SYSCALL target while it runs
};

// Hundredths of a nanosecond per execution, from ticks over N.
uint64_t centi_ns(uint64_t ticks) {
  uint64_t khz = tsc_khz();
  return khz ? ticks * 100000000ull / khz / N : 0;
}

}  // namespace

KTEST(probe_syscall_path) {
  const Probe probes[] = {
      {"nop", loop_nop, 0},
      {"cld", loop_cld, 0},
      {"push_pop", loop_push_pop, 0},
      {"pushfq", loop_pushfq, 0},
      {"pushfq_popfq", loop_pushfq_popfq, 0},
      {"sti_cli", loop_sti_cli, 0},
      {"cli", loop_cli, 0},
      {"swapgs_pair", loop_swapgs2, 0},
      {"gs_load", loop_gs_load, 0},
      {"gs_store", loop_gs_store, 0},
      {"rdmsr", loop_rdmsr, 0},
      {"rdmsr_wrmsr", loop_wrmsr, 0},
      {"call_ret", loop_call, 0},
      {"call_indirect_ret", loop_call_indirect, 0},
      {"lfence", loop_lfence, 0},
      {"lock_add", loop_lock_add, 0},
      {"rdtsc", loop_rdtsc, 0},
      {"iretq_same_cpl", loop_iretq, 0},
      {"syscall_bare", loop_syscall, reinterpret_cast<uint64_t>(probe_syscall_bare)},
      {"syscall_popfq", loop_syscall, reinterpret_cast<uint64_t>(probe_syscall_popfq)},
  };
  KEXPECT(tsc_khz() > 0);
  IrqGuard irq;  // nothing else runs on this CPU, and LSTAR is ours while it is borrowed
  const uint64_t lstar = rdmsr(MSR_LSTAR);
  (void)best(loop_empty);  // warm-up: the first run translates the loop
  const uint64_t empty = best(loop_empty);
  kprint("probe: loop_overhead {}.{:02} ns\n", centi_ns(empty) / 100, centi_ns(empty) % 100);
  for (const Probe& p : probes) {
    if (p.lstar) wrmsr(MSR_LSTAR, p.lstar);
    (void)p.loop();  // warm-up
    uint64_t t = best(p.loop);
    if (p.lstar) wrmsr(MSR_LSTAR, lstar);
    KEXPECT(t > 0);
    uint64_t c = t > empty ? centi_ns(t - empty) : 0;
    kprint("probe: {} {}.{:02} ns\n", p.name, c / 100, c % 100);
  }
  KEXPECT(rdmsr(MSR_LSTAR) == lstar);
}

}  // namespace capsule::x64
