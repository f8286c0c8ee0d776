// The out-of-memory killer (linux/oom.h, docs/process.md "Out of memory").
// Linux's rule, simplified: the victim is the process with the largest
// resident set (plus oom_score_adj thousandths of all memory), never one
// whose adj is -1000, pid 1 only as a last resort; the kernel is never the
// one to go. A vfork child borrowing its parent's space is not counted
// twice (it is the parent's memory).
#include "core/address_space.h"
#include "core/mm.h"
#include "core/thread.h"
#include "fs/vfs/page_cache.h"
#include "lib/format.h"
#include "linux/notice.h"
#include "linux/oom.h"
#include "linux/process.h"
#include "linux/process_state.h"
#include "linux/signal.h"

namespace capsule::linux_abi {
namespace {

// 4 MiB: one fault's retry, and the many that follow it, find memory.
constexpr size_t RECLAIM_PAGES = 1024;

struct Pick {
  Process* victim = nullptr;  // with a reference
  int64_t score = 0;
  uint64_t rss_pages = 0;
  int64_t total_pages = 0;
};

uint64_t resident(Process& p) {
  uint64_t n = 0;
  process_with_as(
      p, [](AddressSpace* as, void* ctx) { *static_cast<uint64_t*>(ctx) = as ? as->resident_pages() : 0; }, &n);
  return n;
}

void consider(Process& p, void* ctx) {
  auto& k = *static_cast<Pick*>(ctx);
  if (p.ended.load() || p.as_borrowed || !p.as) return;
  const int64_t adj = p.oom_score_adj.load();
  if (adj <= -1000) return;
  const uint64_t rss = resident(p);
  int64_t score = int64_t(rss) + adj * k.total_pages / 1000;
  if (score < 1) score = 1;
  if (p.pid == 1) score = 0;  // the last resort: its end is the VM's
  if (k.victim && score <= k.score) return;
  p.refs.fetch_add(1);
  process_put(k.victim);
  k.victim = &p;
  k.score = score;
  k.rss_pages = rss;
}

}  // namespace

bool oom_kill_largest(uintptr_t addr) {
  // Clean pages of disk files go before any process does (docs/vfs.md
  // "Page cache eviction"): a retry then finds memory.
  if (vfs::page_cache_reclaim(RECLAIM_PAGES)) return true;
  Process* self = current_process();
  Pick k;
  k.total_pages = int64_t(memory_stats().total_bytes / PAGE_SIZE);
  process_for_each(consider, &k);
  Process* v = k.victim ? k.victim : self;
  if (!v) return false;  // a kernel thread with no process to choose
  if (!k.victim) self->refs.fetch_add(1);
  // Chosen already by another fault (it is ending): wait for it, no
  // second line.
  const bool again = v->oom_killed.exchange(true);
  char what[96], outcome[96];
  size_t n = format_to(what, sizeof(what), "serving a page fault at {:#x} in process {} ({})", addr,
                       self ? self->pid : 0, self ? self->comm : "");
  size_t m = format_to(outcome, sizeof(outcome), "process {} ({}, {} KiB resident) is killed (SIGKILL)", v->pid,
                       v->comm, k.rss_pages * (PAGE_SIZE / 1024));
  if (!again)
    notice_out_of_memory(StringView(what, n < sizeof(what) ? n : sizeof(what) - 1),
                         StringView(outcome, m < sizeof(outcome) ? m : sizeof(outcome) - 1));
  if (v == self) {
    process_put(v);
    return false;
  }
  if (!again) {
    KSigInfo info;
    info.signo = SIGKILL;
    info.code = SI_KERNEL;
    (void)signal_send_process(*v, info);
  }
  // Its memory comes back as it ends (its address space is freed before
  // its parent is told). Bounded: 10 s, then the caller goes too.
  bool ended = false;
  for (int i = 0; i < 1000 && !(ended = v->ended.load()); ++i) thread_sleep_ns(10'000'000);
  process_put(v);
  return ended;
}

namespace {

// A kernel copy into or out of the program's memory found no page
// (core/address_space.h set_out_of_memory_handler): the same choice as a
// fault of the program's own. When the caller's process is the one to go,
// it gets SIGKILL, which ends it as the failed call returns.
bool out_of_memory_in_copy(uintptr_t addr) {
  if (oom_kill_largest(addr)) return true;
  if (Process* self = current_process()) {
    KSigInfo info;
    info.signo = SIGKILL;
    info.code = SI_KERNEL;
    (void)signal_send_process(*self, info);
  }
  return false;
}

struct Init {
  Init() { set_out_of_memory_handler(out_of_memory_in_copy); }
};
Init g_init;

}  // namespace

}  // namespace capsule::linux_abi
