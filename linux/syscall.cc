// System-call dispatch: the table, --strace, and "unimplemented" reporting.
#include "linux/syscall.h"

#include <atomic>

#include "lib/log.h"
#include "core/mm.h"
#include "lib/panic.h"
#include "arch/percpu.h"
#include "arch/uaccess.h"
#include "linux/strace.h"
#include "linux/syscall_return.h"
#include "arch/x64/cpu/x64.h"
#include "core/stats.h"
#include "core/trace.h"

extern "C" const capsule::linux_abi::SyscallDef __linux_syscalls_start[], __linux_syscalls_end[];

namespace capsule::linux_abi {
namespace {

constexpr uint32_t TABLE_SIZE = 512;
const SyscallDef* g_table[TABLE_SIZE];
std::atomic<uint64_t> g_reported[TABLE_SIZE / 64];  // unimplemented, logged once
bool g_strace;
bool g_stats;  // --stats: calls and cycles per number, per CPU (core/stats.h)
bool g_log_missing;
// Any of --strace, --stats, --log-missing: the dispatcher's one test for
// "this call is observed" (with --trace's syscall group, read from
// core/trace.h's word); the plain path tests nothing else (issue 16).
bool g_observed;
// Characters of application memory --strace prints; whole paths (up to
// STRING_MAX_LONG) with --log-missing.
constexpr size_t STRING_MAX = 32, STRING_MAX_LONG = 255;
size_t g_string_max = STRING_MAX;

// --strace: up to g_string_max characters of application memory, quoted
// and escaped.
void print_quoted(Sink& s, const char* buf, size_t got, bool more) {
  s.put('"');
  for (size_t i = 0; i < got && i < g_string_max; ++i) {
    char c = buf[i];
    if (c == '\n') format(s, "\\n");
    else if (c == '"' || c == '\\') format(s, "\\{}", c);
    else if (c >= 32 && c < 127) s.put(c);
    else format(s, "\\x{:02x}", uint8_t(c));
  }
  s.put('"');
  if (more) format(s, "...");
}

class LineBuf final : public Sink {
 public:
  void put(char c) override {
    if (n_ + 1 < sizeof(b_)) b_[n_++] = c;
  }
  const char* str() {
    b_[n_] = 0;
    return b_;
  }

 private:
  char b_[1024];
  size_t n_ = 0;
};

void log_missing(uint32_t nr, const SyscallDef* d, const SyscallArgs& a, int64_t result) {
  LineBuf line;
  strace::format_call(line, nr, d, a, result);
  kprint("[missing] {}\n", line.str());
}

int64_t unimplemented(uint32_t nr) {
  uint64_t bit = 1ull << (nr % 64);
  if (nr < TABLE_SIZE && !(g_reported[nr / 64].fetch_or(bit) & bit)) {
    const char* name = syscall_name(nr);
    if (name) log_warn("linux: unimplemented syscall {} ({}) returns ENOSYS", name, nr);
    else log_warn("linux: unknown syscall {} returns ENOSYS", nr);
  }
  return -L_ENOSYS;
}

// The dispatcher's own table: g_table's definitions, and this one for
// every number without one (and, in slot TABLE_SIZE, for every number past
// the table), so the plain path loads a definition with no test for null
// and none for the range (a conditional move): each branch there is one
// more translation block under TCG.
int64_t enosys_entry(SyscallArgs& a) { return unimplemented(uint32_t(a.nr)); }
constexpr SyscallDef ENOSYS_DEF = {0, "unimplemented", &enosys_entry, nullptr, false, false};
const SyscallDef* g_entry[TABLE_SIZE + 1];

}  // namespace

void strace_user_string(Sink& s, uint64_t v) {
  if (!v) {
    format(s, "NULL");
    return;
  }
  char buf[STRING_MAX_LONG + 8];
  size_t got = 0;
  size_t want = g_string_max + 8;
  auto r = strncpy_from_user(buf, reinterpret_cast<const char*>(v), want);
  if (!r.ok() && r.error() == Error::Fault) {
    format(s, "{:#x}", v);
    return;
  }
  got = r.ok() ? r.value() : want - 1;
  print_quoted(s, buf, got, got > g_string_max);
}

void strace_user_bytes(Sink& s, uint64_t v, uint64_t len) {
  if (!v) {
    format(s, "NULL");
    return;
  }
  char buf[STRING_MAX];
  size_t want = len < STRING_MAX ? len : STRING_MAX;
  if (!copy_from_user(buf, reinterpret_cast<const void*>(v), want).ok()) {
    format(s, "{:#x}", v);
    return;
  }
  print_quoted(s, buf, want, len > STRING_MAX);
}

namespace {
void update_observed() { g_observed = g_strace || g_stats || g_log_missing; }
}  // namespace

void strace_enable(bool on) {  // strace::active(): tracing or counting
  g_strace = on;
  update_observed();
}
void syscall_stats_enable(bool on) {
  g_stats = on;
  update_observed();
}
void log_missing_enable(bool on) {
  g_log_missing = on;
  g_string_max = on ? STRING_MAX_LONG : STRING_MAX;
  update_observed();
}
bool strace_enabled() { return g_strace; }

void syscalls_init() {
  for (const SyscallDef* d = __linux_syscalls_start; d < __linux_syscalls_end; ++d) {
    if (d->nr >= TABLE_SIZE) panic("linux: syscall {} out of table range", d->name);
    if (g_table[d->nr]) panic("linux: syscall {} defined twice ({} and {})", d->nr, g_table[d->nr]->name, d->name);
    g_table[d->nr] = d;
  }
  for (uint32_t nr = 0; nr <= TABLE_SIZE; ++nr) g_entry[nr] = nr < TABLE_SIZE && g_table[nr] ? g_table[nr] : &ENOSYS_DEF;
  x64::syscall_init_cpu();
}

size_t syscalls_implemented() {
  size_t n = 0;
  for (auto* d : g_table)
    if (d) ++n;
  return n;
}

}  // namespace capsule::linux_abi

using namespace capsule;
using namespace capsule::linux_abi;

namespace {

// A call under --strace, --stats, --log-missing or --trace=syscall.
[[gnu::noinline]] int64_t dispatch_observed(uint64_t nr, const SyscallDef* d, SyscallArgs& a) {
  strace::Call traced;
  if (g_strace) strace::enter(traced, uint32_t(nr), d, a);
  trace::point<trace::Event::SyscallEnter>(nr, a.a[0], a.a[1], a.a[2]);  // --trace (core/trace.h)
  const uint64_t t0 = __builtin_expect(g_stats, false) ? x64::rdtsc() : 0;
  int64_t r = d ? d->fn(a) : unimplemented(uint32_t(nr));
  if (__builtin_expect(g_stats, false) && nr < stats::SYSCALL_MAX) {
    stats::count(stats::Slot(stats::SYSCALL_CALLS + nr));
    stats::count(stats::Slot(stats::SYSCALL_CYCLES + nr), x64::rdtsc() - t0);
  }
  trace::point<trace::Event::SyscallExit>(nr, uint64_t(r));
  if (g_strace) strace::leave(traced, uint32_t(nr), d, a, r);
  else if (g_log_missing && r == -int64_t(L_ENOENT)) log_missing(uint32_t(nr), d, a, r);
  return r;
}

}  // namespace

// Interrupts on (SYSCALL's FMASK turned them off): POPFQ, not STI, whose
// interrupt shadow costs two trips through QEMU's CPU loop under TCG
// (bench/README.md). FMASK cleared DF, TF and AC already.
namespace {
[[gnu::always_inline]] inline void syscall_irqs_on() {
  asm volatile("pushq $0x202\n\tpopfq" ::: "memory", "cc");
}
}  // namespace

// The plain path (no observer): one test, the table's call, the return
// work's test inline. Each extra call, indirect call or branch here is a
// translation-block exit or lookup under TCG (bench/README.md, the probe);
// [[gnu::hot]] puts it in .text.hot, in the page of syscall_entry (a jump
// within a page chains straight to the next block, across pages it is a
// lookup). Called with interrupts off; a call defined with
// DEFINE_SYSCALL_IRQS_OFF runs so, every other one with them on. No
// stack protector: its one local, SyscallArgs, holds no buffer, and the
// canary's check is a branch (a translation block) per call.
extern "C" [[gnu::hot, gnu::no_stack_protector]] x64::SyscallReturn syscall_dispatch(x64::SyscallFrame* f) {
  SyscallArgs a{{f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9}, f};
  const uint64_t nr = f->rax;
  a.nr = nr;  // [signals] restart after a signal needs it
  const SyscallDef* d = g_entry[nr < TABLE_SIZE ? nr : TABLE_SIZE];
  const bool observed = g_observed | trace::on(trace::SYSCALL);
  const bool irqs_off = d->irqs_off & !observed;  // one test for the fast calls
  int64_t r;
  if (irqs_off) {
#ifdef CAPSULE_DEBUG_KERNEL
    this_cpu()->irqs_off_call = d->name;  // core/debug/lock_check.cc reports a sleep
#endif
    r = d->fn(a);
#ifdef CAPSULE_DEBUG_KERNEL
    this_cpu()->irqs_off_call = nullptr;
#endif
  } else {
    syscall_irqs_on();
    if (__builtin_expect(observed, false)) r = dispatch_observed(nr, nr < TABLE_SIZE ? g_table[nr] : nullptr, a);
    else r = d->fn(a);
  }
  f->rax = a.full_return ? f->rax : uint64_t(r);  // a conditional move, not a branch
  if (__builtin_expect(!syscall_return_quiet(r, a.full_return), false)) {
    if (irqs_off) syscall_irqs_on();  // delivery and a group stop may sleep
    syscall_return_work(a, r);
  }
  return a.full_return ? x64::SyscallReturn::Full : x64::SyscallReturn::Fast;
}
