#pragma once
// Spinlock with an interrupt-disabling guard. Test-and-test-and-set; fine
// for the short sections it protects (console, allocator free lists).
#include <atomic>
#include <cstdint>

namespace capsule {

// Called on each spin of a contended lock, interrupts on or off: lets a CPU
// that waits here with interrupts off still serve requests other CPUs wait
// for (TLB shoot-downs, core/sched/tlb.cc), which would otherwise deadlock
// against a lock holder that is waiting for them. nullptr until installed.
inline std::atomic<void (*)()> spin_wait_hook{nullptr};

class SpinLock {
 public:
  void lock() {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        asm volatile("pause");
        if (auto h = spin_wait_hook.load(std::memory_order_relaxed)) h();
      }
    }
  }
  bool try_lock() { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() { locked_.store(false, std::memory_order_release); }
  bool is_locked() const { return locked_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> locked_{false};
};

// Disables interrupts for its lifetime, restoring the previous state.
class IrqGuard {
 public:
  IrqGuard() {
    asm volatile("pushfq; popq %0; cli" : "=r"(flags_) : : "memory");
  }
  ~IrqGuard() {
    if (flags_ & (1u << 9)) asm volatile("sti" ::: "memory");
  }
  IrqGuard(const IrqGuard&) = delete;
  IrqGuard& operator=(const IrqGuard&) = delete;

 private:
  uint64_t flags_;
};

// Interrupts off, then the lock; released in reverse order.
class SpinGuard {
 public:
  explicit SpinGuard(SpinLock& l) : lock_(l) { lock_.lock(); }
  ~SpinGuard() { lock_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  IrqGuard irq_;
  SpinLock& lock_;
};

}  // namespace capsule
