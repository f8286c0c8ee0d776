#include "core/time/timer_queue.h"

namespace capsule {
namespace {

uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

Result<void> TimerQueue::insert(Timer& t, uint64_t deadline_ns, uint64_t period_ns) {
  if (t.armed()) {
    if (t.queue != this) return Error::Busy;
    tree_.remove(t);
  }
  t.deadline_ns = deadline_ns;
  t.period_ns = period_ns;
  t.overruns = 0;
  t.queue = this;
  tree_.insert(t);
  return {};
}

Result<void> TimerQueue::arm(Timer& t, uint64_t deadline_ns) { return insert(t, deadline_ns, 0); }

Result<void> TimerQueue::arm_periodic(Timer& t, uint64_t first_deadline_ns, uint64_t period_ns) {
  if (period_ns == 0) return Error::Invalid;  // would fire forever within one expire()
  return insert(t, first_deadline_ns, period_ns);
}

bool TimerQueue::cancel(Timer& t) {
  if (!t.armed() || t.queue != this) return false;
  tree_.remove(t);
  t.queue = nullptr;
  return true;
}

uint64_t TimerQueue::next_deadline() const {
  const Timer* t = tree_.first();
  return t ? t->deadline_ns : NEVER;
}

size_t TimerQueue::expire(uint64_t now_ns) {
  size_t ran = 0;
  // Re-read the first timer every round: a callback may have armed or
  // cancelled any timer, including ones that are due.
  while (Timer* t = tree_.first()) {
    if (t->deadline_ns > now_ns) break;
    tree_.remove(*t);
    if (t->period_ns) {
      // Next deadline strictly after now, on the original grid.
      uint64_t missed = (now_ns - t->deadline_ns) / t->period_ns;
      t->overruns = missed;
      t->deadline_ns = saturating_add(t->deadline_ns, (missed + 1) * t->period_ns);
      // Queued again before the callback, so the callback can cancel it.
      tree_.insert(*t);
    } else {
      t->queue = nullptr;
    }
    if (t->callback) t->callback(*t, now_ns);
    ++ran;
  }
  return ran;
}

}  // namespace capsule
