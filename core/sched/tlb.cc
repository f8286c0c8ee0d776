// Cross-CPU TLB shoot-down (core/include/core/tlb.h).
//
// Each CPU has one request slot (what it wants flushed, and how many CPUs
// still have to do it) and one mailbox (a bit per CPU whose request it has
// yet to serve). A shoot-down fills its slot, sets its bit in every other
// online CPU's mailbox, sends an IPI where the mailbox was empty (a
// non-empty one already has an IPI on the way, and the handler empties the
// whole mailbox), and waits for the count to reach zero — serving its own
// mailbox meanwhile, so two CPUs shooting at each other with interrupts off
// both make progress. A CPU spinning on a SpinLock with interrupts off
// serves its mailbox too (the spin-wait hook): the classic deadlock — A
// holds a lock and shoots down, B spins for that lock with interrupts off —
// cannot happen.
//
// The slot is reused only after the count reached zero, i.e. after every
// target read it; the mailbox bit is set with release order after the slot
// was written, and taken with acquire order, so a target always sees the
// request the bit stands for.
#include "core/tlb.h"

#include <atomic>

#include "arch/x64/cpu/x64.h"
#include "core/address_space.h"
#include "arch/apic.h"
#include "arch/irq.h"
#include "lib/log.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "arch/spinlock.h"

namespace capsule {
namespace {

static_assert(MAX_CPUS <= 64, "a mailbox is a 64-bit mask of CPUs");

struct alignas(64) Request {
  uintptr_t start = 0;
  size_t pages = 0;                   // 0: everything
  std::atomic<uint32_t> remaining{0};  // targets that have not flushed yet
};

struct alignas(64) Mailbox {
  std::atomic<uint64_t> pending{0};   // bit s: serve g_requests[s]
};

Request g_requests[MAX_CPUS];
Mailbox g_mailboxes[MAX_CPUS];
uint8_t g_vector;

std::atomic<uint64_t> g_shootdowns{0};
std::atomic<uint64_t> g_ipis_sent{0};
std::atomic<uint64_t> g_ipis_received{0};
std::atomic<uint64_t> g_served{0};

void flush_local(uintptr_t start, size_t pages) {
  if (pages == 0 || pages > TLB_FLUSH_PAGES_MAX) {
    x64::write_cr3(x64::read_cr3());  // drops every non-global entry (no PCID in use)
    return;
  }
  for (size_t i = 0; i < pages; ++i) x64::invlpg(start + i * PAGE_SIZE);
}

unsigned serve(uint32_t self) {
  uint64_t m = g_mailboxes[self].pending.exchange(0, std::memory_order_acq_rel);
  unsigned n = 0;
  while (m) {
    unsigned s = unsigned(__builtin_ctzll(m));
    m &= m - 1;
    Request& r = g_requests[s];
    flush_local(r.start, r.pages);
    r.remaining.fetch_sub(1, std::memory_order_release);
    ++n;
  }
  if (n) g_served.fetch_add(n, std::memory_order_relaxed);
  return n;
}

bool irqs_off() { return !(x64::read_rflags() & (1u << 9)); }

void on_ipi(void*) {
  g_ipis_received.fetch_add(1, std::memory_order_relaxed);
  serve(this_cpu()->index);
}

// Runs on every spin of a contended SpinLock. With interrupts on, the IPI
// gets through by itself (and this_cpu() would not be stable).
void spin_wait() {
  if (!irqs_off()) return;
  uint32_t self = this_cpu()->index;
  if (g_mailboxes[self].pending.load(std::memory_order_relaxed)) serve(self);
}

}  // namespace

void tlb_address_space_hook(AddressSpace*, uintptr_t start, uintptr_t end) {
  uintptr_t first = start & ~uintptr_t(PAGE_SIZE - 1);
  size_t pages = (end - first + PAGE_SIZE - 1) / PAGE_SIZE;
  tlb_shootdown(first, pages > TLB_FLUSH_PAGES_MAX ? 0 : pages);
}

unsigned tlb_service_pending() { return serve(this_cpu()->index); }

void tlb_shootdown(uintptr_t start, size_t pages) {
  if (!g_vector) return;
  IrqGuard irq;  // no migration, and no re-entry of our own slot
  uint32_t self = this_cpu()->index;
  Request& r = g_requests[self];
  uint32_t targets[MAX_CPUS];
  uint32_t n = 0;
  for (uint32_t i = 0; i < MAX_CPUS; ++i) {
    PerCpu* c = cpu_by_index(i);
    if (!c) break;
    if (i != self && c->online.load(std::memory_order_acquire)) targets[n++] = i;
  }
  if (!n) return;
  r.start = start;
  r.pages = pages;
  r.remaining.store(n, std::memory_order_relaxed);
  g_shootdowns.fetch_add(1, std::memory_order_relaxed);
  uint64_t bit = 1ull << self;
  for (uint32_t k = 0; k < n; ++k) {
    uint32_t t = targets[k];
    uint64_t before = g_mailboxes[t].pending.fetch_or(bit, std::memory_order_acq_rel);
    if (before == 0) {
      lapic_send_ipi(cpu_by_index(t)->apic_id, g_vector);
      g_ipis_sent.fetch_add(1, std::memory_order_relaxed);
    }
  }
  while (r.remaining.load(std::memory_order_acquire) != 0) {
    serve(self);  // others may be waiting for us right now
    x64::pause();
  }
}

TlbStats tlb_stats() {
  return {g_shootdowns.load(), g_ipis_sent.load(), g_ipis_received.load(), g_served.load()};
}

void tlb_init() {
  if (g_vector) return;
  auto v = irq_vector_alloc();
  if (!v.ok()) {
    log_warn("tlb: no interrupt vector for shoot-downs ({})", error_name(v.error()));
    return;
  }
  if (auto r = irq_register(v.value(), on_ipi, nullptr); !r.ok()) {
    log_warn("tlb: cannot register the shoot-down handler ({})", error_name(r.error()));
    return;
  }
  spin_wait_hook.store(spin_wait, std::memory_order_release);
  g_vector = v.value();
  set_tlb_shootdown(tlb_address_space_hook);
  log_info("tlb: shoot-down IPIs on vector {} ({} CPUs)", unsigned(g_vector), cpu_count());
}

}  // namespace capsule
