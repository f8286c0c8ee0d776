#pragma once
// The debug kernel's hooks in the locking primitives (docs/debug-kernel.md).
// Only the debug kernel (capsule-debug.elf, built with
// CAPSULE_DEBUG_KERNEL=1) includes this from arch/spinlock.h and calls it:
// the normal kernel has no trace of it. The checks themselves live in
// core/debug/lock_check.cc, which installs its table of functions here once
// the heap and the per-CPU data are up; before that every hook is a no-op.
#include <atomic>
#include <cstdint>

namespace capsule {

enum class LockKind : uint8_t { Spin, Mutex };

// One lock held: by a CPU (spinlocks) or by a thread (mutexes).
struct HeldLock {
  const void* lock;  // nullptr: a released slot not yet popped
  uint32_t cls;      // lock class (core/debug/lock_check.cc)
  uint32_t site;     // low half of the acquiring call's address (kernel text)
};
struct HeldLocks {
  static constexpr unsigned MAX = 24;
  HeldLock e[MAX];
  unsigned depth;
};

struct LockDebugOps {
  // `file:line` is where the lock was constructed: its class. Called before
  // waiting for the lock, or after taking it for a try-lock.
  void (*acquire)(const void* lock, const char* file, unsigned line, LockKind kind, bool try_lock);
  void (*release)(const void* lock, LockKind kind);
  // An outermost IrqGuard turned interrupts off / is about to turn them on.
  void (*irq_off)();
  void (*irq_on)();
  // About to sleep (sched_block, a mutex or semaphore wait): no spinlock may
  // be held. `what` names the caller for the report.
  void (*might_sleep)(const char* what);
  // The scheduler switched threads on this CPU (interrupts off).
  void (*switched)();
};

inline std::atomic<const LockDebugOps*> lock_debug_ops{nullptr};

inline void lock_debug_acquire(const void* lock, const char* file, unsigned line, LockKind kind,
                               bool try_lock) {
  if (auto o = lock_debug_ops.load(std::memory_order_acquire)) o->acquire(lock, file, line, kind, try_lock);
}
inline void lock_debug_release(const void* lock, LockKind kind) {
  if (auto o = lock_debug_ops.load(std::memory_order_acquire)) o->release(lock, kind);
}
inline void lock_debug_irq_off() {
  if (auto o = lock_debug_ops.load(std::memory_order_acquire)) o->irq_off();
}
inline void lock_debug_irq_on() {
  if (auto o = lock_debug_ops.load(std::memory_order_acquire)) o->irq_on();
}
inline void lock_debug_might_sleep(const char* what) {
  if (auto o = lock_debug_ops.load(std::memory_order_acquire)) o->might_sleep(what);
}
inline void lock_debug_switched() {
  if (auto o = lock_debug_ops.load(std::memory_order_acquire)) o->switched();
}

}  // namespace capsule
