// --stats: the report (linux/stats.h, docs/stats.md). The counters are
// per CPU and summed here (core/stats.h, arch/cpu_account.h); the system
// call counters are added by the dispatcher (linux/syscall.cc).
#include "linux/stats.h"

#include <new>

#include "arch/cpu_account.h"
#include "arch/percpu.h"
#include "arch/x64/cpu/x64.h"
#include "core/address_space.h"
#include "core/mm.h"
#include "core/stats.h"
#include "core/time.h"
#include "drivers/trace_port.h"
#include "drivers/tty.h"
#include "lib/format.h"
#include "lib/log.h"
#include "linux/process.h"
#include "linux/syscall.h"

namespace capsule::linux_abi::stats {
namespace {

bool g_on;
uint64_t g_start_tsc;  // the program's start (program_starting)
constexpr size_t REPORT_BYTES = 16384;

void seconds(Sink& s, uint64_t ns) { format(s, "{}.{:06}", ns / 1000000000, ns / 1000 % 1000000); }

void host_asked() { report(false, 0, 0); }

}  // namespace

void configure(bool on) {
  g_on = on;
  syscall_stats_enable(on);
  if (on) tty::set_host_stats_hook(host_asked);
}

bool enabled() { return g_on; }

void program_starting() {
  if (!g_on) return;
  g_start_tsc = x64::rdtsc();
  cpu_account_enable();
}

void report(bool exited, int status, int sig) {
  if (!g_on) return;
  char* buf = new (std::nothrow) char[REPORT_BYTES];
  if (!buf) return;
  BufferSink s(buf, REPORT_BYTES);
  using namespace capsule::stats;
  if (!exited) format(s, "--- capsule stats: pid 1 running ---\n");
  else if (sig) format(s, "--- capsule stats: pid 1 killed by signal {} ---\n", sig);
  else format(s, "--- capsule stats: pid 1 exited with {} ---\n", status & 0xff);

  const uint64_t wall = g_start_tsc ? tsc_to_ns(x64::rdtsc() - g_start_tsc) : 0;
  format(s, "\tElapsed (wall clock) time (seconds): ");
  seconds(s, wall);
  format(s, "\n\tUser time (seconds): ");
  seconds(s, tsc_to_ns(cpu_account_cycles(CpuMode::User)));
  format(s, "\n\tSystem time (seconds): ");
  seconds(s, tsc_to_ns(cpu_account_cycles(CpuMode::System)));
  format(s, "\n\tKernel threads time (seconds): ");
  seconds(s, tsc_to_ns(cpu_account_cycles(CpuMode::Kernel)));
  format(s, "\n\tIdle time (seconds): ");
  seconds(s, tsc_to_ns(cpu_account_cycles(CpuMode::Idle)));
  format(s, "\n\tCPUs: {}\n", cpu_count());

  const uint64_t anon = total(FAULT_ANON), file = total(FAULT_FILE), copy = total(FAULT_COW_COPY),
                 reuse = total(FAULT_COW_REUSE), spurious = total(FAULT_SPURIOUS);
  format(s, "\tPage faults: {}\n", anon + file + copy + reuse + spurious);
  format(s, "\tMajor (requiring I/O) page faults: 0\n");
  format(s, "\tMinor (reclaiming a frame) page faults: {}\n", anon + file + copy + reuse + spurious);
  format(s, "\tPage faults, anonymous zero-fill: {}\n", anon);
  format(s, "\tPage faults, file-backed: {}\n", file);
  format(s, "\tPage faults, copy-on-write copied: {}\n", copy);
  format(s, "\tPage faults, copy-on-write reused: {}\n", reuse);
  format(s, "\tPage faults, spurious: {}\n", spurious);
  format(s, "\tVoluntary context switches: {}\n", total(SWITCH_VOLUNTARY));
  format(s, "\tInvoluntary context switches: {}\n", total(SWITCH_INVOLUNTARY));

  uint64_t rss = 0;
  if (Process* p = process_get(1)) {
    rss = p->max_rss_pages.load();
    SpinGuard g(p->as_lock);  // its space cannot go meanwhile (exit, exec)
    if (p->as && p->as->peak_resident_pages() > rss) rss = p->as->peak_resident_pages();
    process_put(p);
  }
  const MemoryStats m = memory_stats();
  format(s, "\tMaximum resident set size (kbytes): {}\n", rss * (PAGE_SIZE / 1024));
  format(s, "\tKernel peak memory used (kbytes): {}\n", m.peak_used_bytes / 1024);

  // System calls, by time (most first, then by number), as strace -c.
  uint64_t* calls = new (std::nothrow) uint64_t[2 * SYSCALL_MAX];
  if (calls) {
    uint64_t* cycles = calls + SYSCALL_MAX;
    uint64_t calls_total = 0, ns_total = 0;
    for (uint32_t nr = 0; nr < SYSCALL_MAX; ++nr) {
      calls[nr] = total(SYSCALL_CALLS + nr);
      cycles[nr] = total(SYSCALL_CYCLES + nr);
      calls_total += calls[nr];
      ns_total += tsc_to_ns(cycles[nr]);
    }
    format(s, "\tSystem calls: {}\n\tSystem call time (seconds): ", calls_total);
    seconds(s, ns_total);
    format(s, "\n\t     calls     total us    us/call syscall\n");
    for (;;) {
      int best = -1;
      for (uint32_t nr = 0; nr < SYSCALL_MAX; ++nr)
        if (calls[nr] && (best < 0 || cycles[nr] > cycles[best])) best = int(nr);
      if (best < 0) break;
      const uint64_t n = calls[best], us = tsc_to_ns(cycles[best]) / 1000;
      calls[best] = 0;
      format(s, "\t{:>10} {:>12} {:>10} ", n, us, us / n);
      if (const char* name = syscall_name(uint32_t(best))) format(s, "{}\n", name);
      else format(s, "syscall_{}\n", best);
    }
    delete[] calls;
  }
  format(s, "--- end of capsule stats ---\n");
  const StringView v = s.view();
  if (trace_port::available()) (void)trace_port::write(v.data(), v.size());
  else kprint("{}", v);
  delete[] buf;
}

}  // namespace capsule::linux_abi::stats
