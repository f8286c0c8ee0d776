// Vector allocator and handler table for vectors 32..255.
#include "arch/irq.h"

#include <atomic>

#include "lib/log.h"
#include "arch/spinlock.h"

namespace capsule {
namespace {

struct Slot {
  IrqHandler handler;
  void* context;
};

SpinLock g_lock;                  // guards g_allocated and writes to g_slots
uint64_t g_allocated[4];          // bit per vector
Slot g_slots[256];
std::atomic<uint64_t> g_logged[4];  // unexpected vectors already reported
std::atomic<uint64_t> g_unexpected{0};
std::atomic<IrqEoiHook> g_eoi{nullptr};

bool test_bit(const uint64_t* bits, unsigned v) { return bits[v / 64] & (1ull << (v % 64)); }
bool allocatable(unsigned v) { return v >= IRQ_VECTOR_FIRST && v < IRQ_VECTOR_SPURIOUS; }

}  // namespace

Result<uint8_t> irq_vector_alloc() {
  SpinGuard guard(g_lock);
  for (unsigned v = IRQ_VECTOR_FIRST; allocatable(v); ++v) {
    if (!test_bit(g_allocated, v)) {
      g_allocated[v / 64] |= 1ull << (v % 64);
      return uint8_t(v);
    }
  }
  return Error::Busy;
}

Result<void> irq_vector_reserve(uint8_t vector) {
  if (!allocatable(vector)) return Error::Invalid;
  SpinGuard guard(g_lock);
  if (test_bit(g_allocated, vector)) return Error::Busy;
  g_allocated[vector / 64] |= 1ull << (vector % 64);
  return {};
}

void irq_vector_free(uint8_t vector) {
  SpinGuard guard(g_lock);
  g_allocated[vector / 64] &= ~(1ull << (vector % 64));
  g_slots[vector] = {};
}

bool irq_vector_allocated(uint8_t vector) {
  SpinGuard guard(g_lock);
  return test_bit(g_allocated, vector);
}

Result<void> irq_register(uint8_t vector, IrqHandler handler, void* context) {
  SpinGuard guard(g_lock);
  if (!allocatable(vector) || !test_bit(g_allocated, vector) || !handler) return Error::Invalid;
  if (g_slots[vector].handler) return Error::Exists;
  g_slots[vector] = {handler, context};
  return {};
}

void irq_unregister(uint8_t vector) {
  SpinGuard guard(g_lock);
  g_slots[vector] = {};
}

IrqEoiHook irq_set_eoi_hook(IrqEoiHook hook) { return g_eoi.exchange(hook); }

uint64_t irq_unexpected_count() { return g_unexpected.load(std::memory_order_relaxed); }

void irq_dispatch(uint8_t vector) {
  // No lock: handlers are registered before their source is unmasked and
  // removed after it is masked, so the slot is stable while it can fire.
  Slot slot = g_slots[vector];
  if (slot.handler) {
    slot.handler(slot.context);
  } else {
    g_unexpected.fetch_add(1, std::memory_order_relaxed);
    uint64_t bit = 1ull << (vector % 64);
    if (!(g_logged[vector / 64].fetch_or(bit) & bit))
      log_warn("irq: unexpected interrupt on vector {} ({:#x}), ignored", vector, vector);
  }
  if (IrqEoiHook eoi = g_eoi.load(std::memory_order_acquire)) eoi(vector);
}

}  // namespace capsule
