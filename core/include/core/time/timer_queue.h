#pragma once
// Per-CPU timer queue. Timers are embedded in their owners (a sleeping
// thread, a TCP connection, a preemption slice) and kept in a red-black tree
// by deadline: arm and cancel are O(log n) worst case, the next deadline is
// O(1). Nothing allocates, so timers are armed from IRQ context.
//
// The CPU's interrupt path is:
//   queue.expire(now);                          // run what is due, in order
//   deadline = queue.next_deadline();           // NEVER: nothing pending
//   deadline == NEVER ? lapic_stop() : lapic_oneshot(deadline);
// so an idle CPU with no timers takes no interrupts at all (tickless).
//
// Timers with equal deadlines fire in the order they were armed. Times are
// absolute nanoseconds since boot (64 bits: 584 years, no wrap handling).
// Not thread-safe: the owning CPU calls it with interrupts off.
#include <cstddef>
#include <cstdint>

#include "lib/rbtree.h"
#include "lib/result.h"

namespace capsule {

class TimerQueue;

struct Timer {
  // Runs from expire() with the queue's lock held (interrupts off). It may
  // arm or cancel any timer of this queue, itself included.
  using Callback = void (*)(Timer& t, uint64_t now_ns);

  Callback callback = nullptr;
  void* context = nullptr;  // for the callback

  // Read-only for owners; set by arm().
  uint64_t deadline_ns = 0;  // during a periodic callback: the next deadline
  uint64_t period_ns = 0;    // 0: one-shot
  uint64_t overruns = 0;     // periodic: periods skipped before this callback

  RbNode node;
  TimerQueue* queue = nullptr;  // where it is armed, nullptr when idle

  bool armed() const { return node.linked(); }
};

class TimerQueue {
 public:
  static constexpr uint64_t NEVER = UINT64_MAX;

  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // One-shot at deadline_ns. Re-arming an armed timer moves it (it fires
  // once, at the new deadline). Error::Busy: armed on another CPU's queue.
  Result<void> arm(Timer& t, uint64_t deadline_ns);
  // Every period_ns, first at first_deadline_ns. A late expiry does not fire
  // a burst to catch up: missed periods are counted in Timer::overruns.
  Result<void> arm_periodic(Timer& t, uint64_t first_deadline_ns, uint64_t period_ns);
  // True when t was armed here and now is not. Safe on an idle timer.
  bool cancel(Timer& t);

  uint64_t next_deadline() const;
  // Runs every timer due at `now`, earliest first; returns how many ran.
  // A callback that arms a timer for a time <= now makes it run in this same
  // call, so periodic work must re-arm into the future.
  size_t expire(uint64_t now_ns);

  size_t size() const { return tree_.size(); }
  bool empty() const { return tree_.empty(); }

 private:
  struct ByDeadline {
    bool operator()(const Timer& a, const Timer& b) const { return a.deadline_ns < b.deadline_ns; }
  };
  Result<void> insert(Timer& t, uint64_t deadline_ns, uint64_t period_ns);

  IntrusiveRbTree<Timer, &Timer::node, ByDeadline> tree_;
};

}  // namespace capsule
