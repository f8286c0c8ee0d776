// --strace: the trace lines, their order across threads, the exit line and
// the summary table (linux/strace.h, docs/strace.md). The decoding of each
// call is linux/strace_args.cc.
//
// Order: one Mutex serialises the lines, and a line is written to the
// host's channel before the next one starts (trace_port::write returns
// once the device has the bytes), so the host sees the calls in the order
// they returned, none lost when the VM powers off.
//
// Calls in progress: enter() records each traced call in a small table;
// when a line is about to be written while other threads are inside
// calls, those calls are announced first as "name(entry part
// <unfinished ...>" and finish later as "<... name resumed>exit part)".
#include "linux/strace.h"

#include <atomic>

#include "core/sync/wait_queue.h"
#include "core/thread.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "arch/x64/cpu/syscall_frame.h"
#include "drivers/trace_port.h"
#include "lib/log.h"
#include "linux/signal.h"
#include "linux/strace_args.h"
#include "linux/syscall.h"
#include "linux/thread_table.h"

namespace capsule::linux_abi::strace {
namespace {

constexpr uint32_t TABLE_SIZE = 512;
constexpr int MAX_CALLS = 64;  // calls in progress at once that can be announced
constexpr size_t LINE_BYTES = 2048;

struct InFlight {
  bool used = false;
  bool announced = false;
  int tid = 0;
  uint32_t nr = 0;
  const SyscallDef* def = nullptr;
  const SyscallArgs* args = nullptr;  // the caller's, alive while it is inside the call
};

struct Totals {
  std::atomic<uint64_t> calls{0}, errors{0}, ns{0};
};

bool g_trace, g_summary;
bool g_selected[TABLE_SIZE];
Mutex g_mu;
InFlight g_calls[MAX_CALLS] GUARDED_BY(g_mu);
int g_first_tid GUARDED_BY(g_mu) = 0;
bool g_many GUARDED_BY(g_mu) = false;  // more than one thread traced: "[pid N] " on each line
Totals g_totals[TABLE_SIZE];

// A line being built; written whole.
class Line final : public Sink {
 public:
  void put(char c) override {
    if (n_ < sizeof(b_)) b_[n_++] = c;
  }
  size_t size() const { return n_; }
  const char* data() const { return b_; }
  // strace aligns " = result" at column 40.
  void pad_to(size_t col, size_t from) {
    while (n_ - from < col && n_ < sizeof(b_)) b_[n_++] = ' ';
  }

 private:
  char b_[LINE_BYTES];
  size_t n_ = 0;
};

int current_tid() { return thread_tid(thread_current()); }

void emit(const Line& l) {
  if (trace_port::available()) {
    (void)trace_port::write(l.data(), l.size());
    return;
  }
  // No host channel (the kernel option alone): the kernel log.
  kprint("[strace] {}", StringView(l.data(), l.size()));
}

void name_of(Sink& s, uint32_t nr) {
  if (const char* n = syscall_name(nr)) format(s, "{}", n);
  else format(s, "syscall_{:#x}", nr);
}

void seen(int tid) REQUIRES(g_mu) {
  if (!g_first_tid) g_first_tid = tid;
  else if (tid != g_first_tid) g_many = true;
}

void prefix(Line& l, int tid) REQUIRES(g_mu) {
  seen(tid);
  if (g_many) format(l, "[pid {:>5}] ", tid);
}

// Announces the calls other threads are inside as unfinished (with their
// prefix: the thread writing next makes two).
void announce_others(int tid) REQUIRES(g_mu) {
  seen(tid);
  for (InFlight& c : g_calls) {
    if (!c.used || c.announced || c.tid == tid) continue;
    Line l;
    prefix(l, c.tid);
    name_of(l, c.nr);
    l.put('(');
    print_args(l, c.nr, c.def, *c.args, 0, Part::Entry);
    format(l, " <unfinished ...>\n");
    emit(l);
    c.announced = true;
  }
}


}  // namespace

Result<void> configure(bool trace, StringView filter, bool summary, const char** why) {
  args_init();
  for (bool& b : g_selected) b = true;
  if (!filter.empty()) {
    // Names and %classes, comma-separated; a leading "!" selects all but them.
    bool negate = filter[0] == '!';
    if (negate) filter = filter.substr(1);
    for (bool& b : g_selected) b = negate;
    while (!filter.empty()) {
      size_t comma = filter.find(',');
      StringView item = filter.substr(0, comma);
      filter = comma == StringView::npos ? StringView() : filter.substr(comma + 1);
      bool found = false, is_class = !item.empty() && item[0] == '%';
      for (uint32_t nr = 0; nr < TABLE_SIZE; ++nr) {
        const char* n = syscall_name(nr);
        if (!n) continue;
        bool known = true;
        bool in = is_class ? class_has(item, StringView(n), known) : StringView(n) == item;
        if (!known) break;
        if (in) g_selected[nr] = !negate;
        found |= is_class ? known : in;
      }
      if (!found) {
        if (why) *why = is_class ? "unknown class in --strace-filter" : "unknown system call in --strace-filter";
        return Error::Invalid;
      }
    }
  }
  g_trace = trace;
  g_summary = summary;
  return {};
}

bool active() { return g_trace || g_summary; }

void enter(Call& c, uint32_t nr, const SyscallDef* d, const SyscallArgs& a) {
  c.traced = nr < TABLE_SIZE && g_selected[nr];
  if (!c.traced) return;
  if (g_summary) c.start_ns = uptime_ns();
  if (!g_trace) return;
  const char* name = syscall_name(nr);
  if (name && StringView(name) == "rt_sigreturn" && a.frame) {
    // The handler returned: the stack pointer is at the frame's ucontext,
    // whose uc_sigmask (offset 296) is the mask the call restores.
    uint64_t m;
    if (copy_from_user(&m, reinterpret_cast<const void*>(a.frame->rsp + 296), sizeof m).ok()) {
      c.has_mask = true;
      c.mask = m;
    }
  }
  int tid = current_tid();
  MutexGuard g(g_mu);
  if (never_returns(nr)) {
    announce_others(tid);
    Line l;
    prefix(l, tid);
    size_t start = l.size();
    name_of(l, nr);
    l.put('(');
    print_args(l, nr, d, a, 0, Part::All);
    l.put(')');
    l.pad_to(39, start);
    format(l, " = ?\n");
    emit(l);
    c.traced = false;
    if (g_summary) g_totals[nr].calls.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  for (int i = 0; i < MAX_CALLS; ++i) {
    if (g_calls[i].used) continue;
    g_calls[i] = InFlight{true, false, tid, nr, d, &a};
    c.slot = i;
    break;
  }
}

void leave(Call& c, uint32_t nr, const SyscallDef* d, const SyscallArgs& a, int64_t r) {
  if (!c.traced) return;
  if (g_summary) {
    Totals& t = g_totals[nr];
    t.calls.fetch_add(1, std::memory_order_relaxed);
    if (r < 0 && r > -4096) t.errors.fetch_add(1, std::memory_order_relaxed);
    t.ns.fetch_add(uptime_ns() - c.start_ns, std::memory_order_relaxed);
  }
  if (!g_trace) return;
  int tid = current_tid();
  MutexGuard g(g_mu);
  bool resumed = false;
  if (c.slot >= 0) {
    resumed = g_calls[c.slot].announced;
    g_calls[c.slot].used = false;
  }
  announce_others(tid);
  Line l;
  prefix(l, tid);
  size_t start = l.size();
  if (resumed) {
    format(l, "<... ");
    name_of(l, nr);
    format(l, " resumed>");
    print_args(l, nr, d, a, r, Part::Exit);
  } else if (c.has_mask) {
    name_of(l, nr);
    format(l, "({{mask=");
    print_sigmask(l, c.mask);
    l.put('}');
  } else {
    name_of(l, nr);
    l.put('(');
    print_args(l, nr, d, a, r, Part::All);
  }
  l.put(')');
  l.pad_to(39, start);
  print_result(l, nr, d, r);
  l.put('\n');
  emit(l);
}

void signal_delivered(int sig, const void* raw) {
  if (!g_trace) return;
  KSigInfo info;
  __builtin_memcpy(&info, raw, sizeof info);
  int tid = current_tid();
  MutexGuard g(g_mu);
  announce_others(tid);
  Line l;
  prefix(l, tid);
  format(l, "--- ");
  print_signal(l, sig);
  format(l, " {{si_signo=");
  print_signal(l, info.signo ? info.signo : sig);
  format(l, ", si_code=");
  bool fault = sig == 4 || sig == 7 || sig == 8 || sig == 11;  // SIGILL, SIGBUS, SIGFPE, SIGSEGV
  switch (info.code) {
    case SI_USER: format(l, "SI_USER"); break;
    case SI_KERNEL: format(l, "SI_KERNEL"); break;
    case SI_QUEUE: format(l, "SI_QUEUE"); break;
    case SI_TIMER: format(l, "SI_TIMER"); break;
    case SI_TKILL: format(l, "SI_TKILL"); break;
    default:
      if (sig == 11 && info.code == 1) format(l, "SEGV_MAPERR");
      else if (sig == 11 && info.code == 2) format(l, "SEGV_ACCERR");
      else format(l, "{}", info.code);
      break;
  }
  if (info.code == SI_USER || info.code == SI_QUEUE || info.code == SI_TKILL)
    format(l, ", si_pid={}, si_uid={}", info.u.kill.pid, info.u.kill.uid);
  else if (info.code == SI_TIMER)
    format(l, ", si_timerid={}, si_overrun={}", info.u.timer.tid, info.u.timer.overrun);
  else if (fault)
    format(l, ", si_addr={:#x}", info.u.addr);
  format(l, "}} ---\n");
  emit(l);
}

void exited(int pid, int status, int sig, bool last) {
  if (g_trace) {
    MutexGuard g(g_mu);
    Line l;
    prefix(l, pid);
    if (sig) {
      format(l, "+++ killed by ");
      print_signal(l, sig);
      format(l, " +++\n");
    } else {
      format(l, "+++ exited with {} +++\n", status & 0xff);
    }
    emit(l);
  }
  if (!g_summary || !last) return;
  MutexGuard g(g_mu);
  uint64_t total_ns = 0, total_calls = 0, total_errors = 0;
  for (Totals& t : g_totals) {
    total_ns += t.ns.load();
    total_calls += t.calls.load();
    total_errors += t.errors.load();
  }
  Line head;
  format(head, "% time     seconds  usecs/call     calls    errors syscall\n");
  format(head, "------ ----------- ----------- --------- --------- ----------------\n");
  emit(head);
  // By time spent, most first (strace -c's order), then by name.
  bool done[TABLE_SIZE] = {};
  for (;;) {
    int best = -1;
    for (uint32_t nr = 0; nr < TABLE_SIZE; ++nr) {
      if (done[nr] || !g_totals[nr].calls.load()) continue;
      if (best < 0 || g_totals[nr].ns.load() > g_totals[best].ns.load()) best = int(nr);
    }
    if (best < 0) break;
    done[best] = true;
    Totals& t = g_totals[best];
    uint64_t ns = t.ns.load(), calls = t.calls.load(), errors = t.errors.load();
    uint64_t pct100 = total_ns ? ns * 10000 / total_ns : 0;
    Line l;
    format(l, "{:>3}.{:02} {:>4}.{:06} {:>11} {:>9} ", pct100 / 100, pct100 % 100, ns / 1000000000,
           ns / 1000 % 1000000, calls ? ns / 1000 / calls : 0, calls);
    if (errors) format(l, "{:>9} ", errors);
    else format(l, "          ");
    name_of(l, uint32_t(best));
    l.put('\n');
    emit(l);
  }
  Line tail;
  format(tail, "------ ----------- ----------- --------- --------- ----------------\n");
  format(tail, "100.00 {:>4}.{:06} {:>11} {:>9} ", total_ns / 1000000000, total_ns / 1000 % 1000000,
         total_calls ? total_ns / 1000 / total_calls : 0, total_calls);
  if (total_errors) format(tail, "{:>9} ", total_errors);
  else format(tail, "          ");
  format(tail, "total\n");
  emit(tail);
}

void format_call(Sink& s, uint32_t nr, const SyscallDef* d, const SyscallArgs& a, int64_t r) {
  name_of(s, nr);
  s.put('(');
  print_args(s, nr, d, a, r, Part::All);
  s.put(')');
  print_result(s, nr, d, r);
}

}  // namespace capsule::linux_abi::strace
