// In-kernel tests of TLB shoot-down (--test=tlb). They need more than one
// CPU to mean anything (tests/guest/tlb.cmake runs them on 4); on one CPU
// they say so and pass.
#include <atomic>

#include "arch/x64/cpu/x64.h"
#include "core/address_space.h"
#include "lib/ktest.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/tlb.h"
#include "arch/uaccess.h"
#include "core/mm/mm_internal.h"
#include "arch/spinlock.h"

namespace capsule {
namespace {

constexpr uintptr_t VA1 = 0x40000000;
constexpr uintptr_t VA2 = VA1 + 16 * PAGE_SIZE;
constexpr uint64_t SEC = 1000000000;

// --- (a) a remapped or unmapped page, seen from every CPU ---------------

enum class Cmd : int { None, Read, Invlpg, Exit };

struct Remap {
  uint64_t root = 0;
  std::atomic<uint32_t> seq{0};
  Cmd cmd = Cmd::None;
  std::atomic<uint32_t> acks{0};
  uint64_t value[MAX_CPUS];
  bool fault[MAX_CPUS];
};

void remap_reader(void* a) {
  auto* r = static_cast<Remap*>(a);
  uint32_t me = current_cpu();  // pinned
  x64::write_cr3(r->root);      // this CPU now walks (and caches) the test's tables
  uint32_t seen = 0;
  for (;;) {
    uint32_t s;
    while ((s = r->seq.load(std::memory_order_acquire)) == seen) x64::pause();
    seen = s;
    Cmd c = r->cmd;
    if (c == Cmd::Exit) break;
    if (c == Cmd::Read) {
      auto v = get_user(reinterpret_cast<const uint64_t*>(VA1));
      r->fault[me] = !v.ok();
      r->value[me] = v.ok() ? v.value() : 0;
    } else if (c == Cmd::Invlpg) {
      x64::invlpg(VA1);
    }
    r->acks.fetch_add(1, std::memory_order_acq_rel);
  }
  x64::write_cr3(mm::kernel_root());
  r->acks.fetch_add(1, std::memory_order_acq_rel);
}

// Gives every reader a command and waits until all have done it.
bool command(Remap& r, Cmd c, uint32_t readers) {
  r.acks.store(0);
  r.cmd = c;
  r.seq.fetch_add(1, std::memory_order_release);
  uint64_t deadline = uptime_ns() + 10 * SEC;
  while (r.acks.load(std::memory_order_acquire) != readers) {
    if (uptime_ns() > deadline) return false;
    x64::pause();
  }
  return true;
}

bool map_page(AddressSpace* as, uintptr_t va, uint64_t pattern) {
  mm::MapRequest q;
  q.addr = va;
  q.len = PAGE_SIZE;
  q.prot = mm::VM_READ | mm::VM_WRITE;
  q.placement = mm::Placement::Fixed;
  if (!as->mmap(q, true).ok()) return false;
  return put_user(reinterpret_cast<uint64_t*>(va), pattern).ok();
}

KTEST(tlb_remap_seen_by_every_cpu) {
  uint32_t n = cpu_count();
  if (n < 2) {
    kprint("tlb.remap: needs 2 CPUs, have {}: skipped\n", n);
    return;
  }
  Thread* self = thread_current();
  KEXPECT(thread_pin(self, 0).ok());
  auto created = AddressSpace::create();
  KEXPECT(created.ok());
  if (!created.ok()) return;
  AddressSpace* as = created.value();
  as->activate();
  auto* r = new (std::nothrow) Remap();
  r->root = as->root();
  Thread* readers[MAX_CPUS];
  uint32_t nr = 0;
  for (uint32_t i = 1; i < n; ++i) {
    ThreadOptions o;
    o.pin_cpu = int(i);
    readers[nr++] = thread_create("tlb-reader", remap_reader, r, o).value();
  }
  TlbStats s0 = tlb_stats();
  unsigned stale_control = 0, new_seen = 0, faulted = 0;
  // Round 0 is the control: the same change without the shoot-down hook,
  // to show whether the readers' TLBs really held the old translation.
  for (int round = 0; round < 2; ++round) {
    bool control = round == 0;
    uint64_t a = 0xa11ce000ull + uint64_t(round), b = 0xb0b0b000ull + uint64_t(round);
    KEXPECT(map_page(as, VA1, a));
    KEXPECT(map_page(as, VA2, b));
    KEXPECT(command(*r, Cmd::Read, nr));  // every reader caches VA1 -> page A
    for (uint32_t i = 1; i < n; ++i) KEXPECT(!r->fault[i] && r->value[i] == a);
    if (control) set_tlb_shootdown(nullptr);
    // VA1 now maps page B: A goes away and B moves over (mremap).
    KEXPECT(as->munmap(VA1, PAGE_SIZE).ok());
    auto moved = as->mremap(VA2, PAGE_SIZE, PAGE_SIZE, mm::REMAP_MAYMOVE | mm::REMAP_FIXED, VA1);
    KEXPECT(moved.ok() && moved.value() == VA1);
    if (control) set_tlb_shootdown(tlb_address_space_hook);
    KEXPECT(command(*r, Cmd::Read, nr));
    for (uint32_t i = 1; i < n; ++i) {
      if (control) {
        if (r->fault[i] || r->value[i] != b) ++stale_control;
      } else {
        KEXPECT(!r->fault[i] && r->value[i] == b);
        if (!r->fault[i] && r->value[i] == b) ++new_seen;
      }
    }
    if (control) {
      KEXPECT(command(*r, Cmd::Invlpg, nr));  // clean up what the control left
      KEXPECT(as->munmap(VA1, PAGE_SIZE).ok());
      continue;
    }
    // Unmapped: every reader must fault (it still cached VA1 -> B).
    KEXPECT(as->munmap(VA1, PAGE_SIZE).ok());
    KEXPECT(command(*r, Cmd::Read, nr));
    for (uint32_t i = 1; i < n; ++i) {
      KEXPECT(r->fault[i]);
      if (r->fault[i]) ++faulted;
    }
  }
  r->acks.store(0);
  r->cmd = Cmd::Exit;
  r->seq.fetch_add(1, std::memory_order_release);
  for (uint32_t i = 0; i < nr; ++i) KEXPECT(thread_join(readers[i]).ok());
  TlbStats s1 = tlb_stats();
  AddressSpace::destroy(as);
  KEXPECT(thread_pin(self, -1).ok());
  KEXPECT(s1.shootdowns > s0.shootdowns);
  kprint("tlb.remap: {} of {} other CPUs saw the new page, {} faulted after unmap; "
         "control without shoot-down: {} stale; {} shoot-downs, {} IPIs\n",
         new_seen, nr, faulted, stale_control, s1.shootdowns - s0.shootdowns, s1.ipis_sent - s0.ipis_sent);
  delete r;
}

// --- (b) every CPU shoots down at once, in a loop ------------------------

constexpr unsigned ROUNDS = 2000;

struct Storm {
  std::atomic<uint32_t> ready{0};
  std::atomic<bool> go{false};
  std::atomic<uint32_t> done{0};
  SpinLock lock;  // held across some shoot-downs while others spin for it
};

void storm_body(void* a) {
  auto* s = static_cast<Storm*>(a);
  s->ready.fetch_add(1);
  while (!s->go.load(std::memory_order_acquire)) x64::pause();
  for (unsigned i = 0; i < ROUNDS; ++i) {
    uintptr_t va = VA1 + (i % 8) * PAGE_SIZE;
    switch (i % 4) {
      case 0:
        tlb_shootdown(va, 1);  // interrupts on
        break;
      case 1: {
        IrqGuard irq;  // the sender has interrupts off
        tlb_shootdown(va, 4);
        break;
      }
      case 2: {
        SpinGuard g(s->lock);  // others spin for this lock, interrupts off
        tlb_shootdown(va, 1);
        break;
      }
      default:
        tlb_shootdown(0, 0);  // full flush
        break;
    }
  }
  s->done.fetch_add(1, std::memory_order_release);
}

KTEST(tlb_concurrent_shootdowns) {
  uint32_t n = cpu_count();
  if (n < 2) {
    kprint("tlb.concurrent: needs 2 CPUs, have {}: skipped\n", n);
    return;
  }
  auto* s = new (std::nothrow) Storm();
  Thread* ts[MAX_CPUS];
  for (uint32_t i = 0; i < n; ++i) {
    ThreadOptions o;
    o.pin_cpu = int(i);
    ts[i] = thread_create("tlb-storm", storm_body, s, o).value();
  }
  while (s->ready.load() != n) thread_sleep_ns(100000);
  TlbStats s0 = tlb_stats();
  uint64_t t0 = uptime_ns();
  s->go.store(true, std::memory_order_release);
  // A deadlock is no progress at all (no request served) for 20 s; a busy
  // host can make the whole run slow (each request needs every vCPU to be
  // scheduled), which is not a failure.
  uint64_t last_served = s0.requests_served, last_progress = t0;
  while (s->done.load(std::memory_order_acquire) != n) {
    thread_sleep_ns(1000000);
    uint64_t served_now = tlb_stats().requests_served, now = uptime_ns();
    if (served_now != last_served) {
      last_served = served_now;
      last_progress = now;
    } else if (now - last_progress > 20 * SEC) {
      break;
    }
  }
  uint64_t dt = uptime_ns() - t0;
  bool finished = s->done.load() == n;
  KEXPECT(finished);
  if (!finished) {
    kprint("tlb.concurrent: only {} of {} CPUs finished, no progress for 20 s: deadlock\n", s->done.load(), n);
    return;  // the threads are stuck; leak them
  }
  for (uint32_t i = 0; i < n; ++i) KEXPECT(thread_join(ts[i]).ok());
  TlbStats s1 = tlb_stats();
  uint64_t shootdowns = s1.shootdowns - s0.shootdowns;
  uint64_t served = s1.requests_served - s0.requests_served;
  uint64_t sent = s1.ipis_sent - s0.ipis_sent;
  uint64_t received = s1.ipis_received - s0.ipis_received;
  // Every request was served by every other CPU exactly once.
  KEXPECT(shootdowns == uint64_t(n) * ROUNDS);
  KEXPECT(served == uint64_t(n) * ROUNDS * (n - 1));
  KEXPECT(sent > 0 && sent <= served);
  kprint("tlb.concurrent: {} CPUs x {} shoot-downs in {} ms, {} requests served, "
         "{} IPIs sent, {} received ({} ns per shoot-down)\n",
         n, ROUNDS, dt / 1000000, served, sent, received, dt / (shootdowns ? shootdowns : 1));
  delete s;
}

}  // namespace
}  // namespace capsule
