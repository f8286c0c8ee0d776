// Tracepoints' recorder (core/include/core/trace.h, docs/trace.md): one
// lib/trace_ring.h Ring per CPU, written by its own CPU with interrupts
// off, so neither a lock nor an atomic read-modify-write is on the path.
#include "core/trace.h"

#include <new>

#include "arch/percpu.h"
#include "arch/spinlock.h"
#include "arch/x64/cpu/x64.h"
#include "core/mm.h"
#include "core/sched/thread.h"
#include "lib/log.h"
#include "lib/trace_ring.h"

extern "C" {
uint32_t g_trace_groups = 0;
}

namespace capsule::trace {
namespace {

Ring g_rings[MAX_CPUS];
Record* g_mem[MAX_CPUS];  // each ring's slots
uint32_t g_cpus;  // rings set up (start)
uint32_t g_started_groups;
uint64_t g_start_tsc;

bool same(const char* a, uint64_t n, const char* word) {
  uint64_t i = 0;
  for (; i < n && word[i]; ++i)
    if (a[i] != word[i]) return false;
  return i == n && !word[i];
}

}  // namespace

void record(Event e, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  IrqGuard irq;  // this CPU's ring is ours until the record is whole
  PerCpu* c = this_cpu();
  if (c->index >= g_cpus) return;  // a CPU that came up after start
  Record r;
  r.tsc = x64::rdtsc();
  r.event = uint16_t(e);
  r.cpu = uint16_t(c->index);
  r.tid = trace_id(c->current);
  r.arg[0] = a0;
  r.arg[1] = a1;
  r.arg[2] = a2;
  r.arg[3] = a3;
  g_rings[c->index].push(r);
}

uint32_t parse_groups(const char* text, uint64_t len) {
  static constexpr struct {
    const char* name;
    uint32_t bits;
  } NAMES[] = {{"sched", SCHED}, {"fault", FAULT}, {"syscall", SYSCALL}, {"block", BLOCK},
               {"net", NET},     {"proc", PROC},   {"all", ALL_GROUPS}};
  uint32_t groups = 0;
  uint64_t i = 0;
  while (i <= len) {
    uint64_t j = i;
    while (j < len && text[j] != ',') ++j;
    uint32_t bits = 0;
    for (const auto& n : NAMES)
      if (same(text + i, j - i, n.name)) bits = n.bits;
    if (!bits) return 0;  // an unknown or empty name
    groups |= bits;
    i = j + 1;
  }
  return groups;
}

bool start(uint32_t groups, uint64_t bytes_per_cpu) {
  const uint32_t n = cpu_count() < MAX_CPUS ? cpu_count() : uint32_t(MAX_CPUS);
  uint64_t slots = bytes_per_cpu / sizeof(Record);
  // Bounded by memory: all rings together take at most a quarter of what
  // is free (and kmalloc's largest block each).
  const uint64_t free = memory_stats().free_bytes;
  if (slots * sizeof(Record) * n > free / 4) slots = free / 4 / n / sizeof(Record);
  if (slots * sizeof(Record) > (4u << 20)) slots = (4u << 20) / sizeof(Record);
  for (uint32_t i = 0; i < n; ++i) {
    auto* mem = static_cast<Record*>(kmalloc(slots * sizeof(Record)));
    if (!mem && slots) {
      log_warn("trace: no memory for a ring of {} records on CPU {}", slots, i);
      for (uint32_t k = 0; k < i; ++k) kfree(g_mem[k]), g_mem[k] = nullptr;
      return false;
    }
    g_mem[i] = mem;
    g_rings[i].init(mem, uint32_t(slots));
  }
  g_cpus = n;
  g_start_tsc = x64::rdtsc();
  g_started_groups = groups;
  __atomic_store_n(&g_trace_groups, groups, __ATOMIC_SEQ_CST);
  return true;
}

void stop() {
  __atomic_store_n(&g_trace_groups, 0, __ATOMIC_SEQ_CST);
  // A CPU that tested the flag just before may still be writing one record.
  for (uint32_t i = 0; i < g_cpus; ++i)
    while (g_rings[i].writing()) asm volatile("pause");
}

uint32_t cpus() { return g_cpus; }

RingView ring(uint32_t cpu) {
  if (cpu >= g_cpus) return {};
  const Ring& r = g_rings[cpu];
  return {r.written(), r.lost(), r.held(), r.capacity()};
}

const void* ring_record(uint32_t cpu, uint32_t i) { return &g_rings[cpu].at(i); }
uint32_t groups_started() { return g_started_groups; }
uint64_t start_tsc() { return g_start_tsc; }

}  // namespace capsule::trace
