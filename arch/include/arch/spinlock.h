#pragma once
// Spinlock with an interrupt-disabling guard. Test-and-test-and-set; fine
// for the short sections it protects (console, allocator free lists).
#include <atomic>
#include <cstdint>

#include "lib/thread_annotations.h"
#ifdef CAPSULE_DEBUG_KERNEL
#include "arch/lock_debug.h"
#endif

namespace capsule {

// Called on each spin of a contended lock, interrupts on or off: lets a CPU
// that waits here with interrupts off still serve requests other CPUs wait
// for (TLB shoot-downs, core/sched/tlb.cc), which would otherwise deadlock
// against a lock holder that is waiting for them. nullptr until installed.
inline std::atomic<void (*)()> spin_wait_hook{nullptr};

// Who holds a spinlock, for assert_held(): the CPU in the kernel (its
// PerCpu, %gs:0; GS is loaded before the first lock is taken, see
// percpu_early_boot), the thread in the host unit tests. A spinlock is held
// with interrupts off, so its holder cannot move to another CPU.
inline const void* spin_owner_token() {
#ifdef CAPSULE_HOST
  static thread_local char self;
  return &self;
#else
  const void* cpu;
  asm volatile("movq %%gs:0, %0" : "=r"(cpu));
  return cpu;
#endif
}

class CAPABILITY("spinlock") SpinLock {
 public:
#ifdef CAPSULE_DEBUG_KERNEL
  // The debug kernel's lock class: where the lock is constructed (the
  // enclosing type's constructor, or the variable's declaration).
  constexpr SpinLock(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE())
      : file_(file), line_(line) {}
#endif
  void lock() ACQUIRE() {
#ifdef CAPSULE_DEBUG_KERNEL
    lock_debug_acquire(this, file_, line_, LockKind::Spin, false);
#endif
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) break;
      while (locked_.load(std::memory_order_relaxed)) {
        asm volatile("pause");
        if (auto h = spin_wait_hook.load(std::memory_order_relaxed)) h();
      }
    }
    owner_.store(spin_owner_token(), std::memory_order_relaxed);
  }
  bool try_lock() TRY_ACQUIRE(true) {
    if (locked_.exchange(true, std::memory_order_acquire)) return false;
    owner_.store(spin_owner_token(), std::memory_order_relaxed);
#ifdef CAPSULE_DEBUG_KERNEL
    lock_debug_acquire(this, file_, line_, LockKind::Spin, true);
#endif
    return true;
  }
  // Not checked against the owner: the scheduler takes a run-queue lock in
  // one thread and drops it in the next one on the same CPU.
  void unlock() RELEASE() {
#ifdef CAPSULE_DEBUG_KERNEL
    lock_debug_release(this, LockKind::Spin);
#endif
    owner_.store(nullptr, std::memory_order_relaxed);
    locked_.store(false, std::memory_order_release);
  }
  bool is_locked() const { return locked_.load(std::memory_order_relaxed); }
  // True if this CPU (host: this thread) holds the lock.
  bool held_here() const {
    return is_locked() && owner_.load(std::memory_order_relaxed) == spin_owner_token();
  }
  // Traps (ud2) unless this CPU holds the lock: the first line of every
  // `*_locked` function, and what tells the analysis the lock is held.
  void assert_held() const ASSERT_CAPABILITY(this) {
    if (!held_here()) __builtin_trap();
  }

 private:
  std::atomic<bool> locked_{false};
  std::atomic<const void*> owner_{nullptr};
#ifdef CAPSULE_DEBUG_KERNEL
  const char* file_;
  unsigned line_;
#endif
};

// True when this CPU takes interrupts (no spinlock of ours is held and no
// IrqGuard is active).
inline bool interrupts_on() {
  uint64_t flags;
  asm volatile("pushfq; popq %0" : "=r"(flags) : : "memory");
  return flags & (1u << 9);
}

// Disables interrupts for its lifetime, restoring the previous state.
class IrqGuard {
 public:
  IrqGuard() {
    asm volatile("pushfq; popq %0; cli" : "=r"(flags_) : : "memory");
#ifdef CAPSULE_DEBUG_KERNEL
    if (flags_ & (1u << 9)) lock_debug_irq_off();
#endif
  }
  ~IrqGuard() {
#ifdef CAPSULE_DEBUG_KERNEL
    if (flags_ & (1u << 9)) lock_debug_irq_on();
#endif
    if (flags_ & (1u << 9)) asm volatile("sti" ::: "memory");
  }
  IrqGuard(const IrqGuard&) = delete;
  IrqGuard& operator=(const IrqGuard&) = delete;

 private:
  uint64_t flags_;
};

// Interrupts off, then the lock; released in reverse order.
class SCOPED_CAPABILITY SpinGuard {
 public:
  explicit SpinGuard(SpinLock& l) ACQUIRE(l) : lock_(l) { lock_.lock(); }
  ~SpinGuard() RELEASE() { lock_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  IrqGuard irq_;
  SpinLock& lock_;
};

}  // namespace capsule
