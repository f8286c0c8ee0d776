// timerfd (core/include/core/timerfd.h). Deadlines are kept on the monotonic
// clock; a Realtime absolute time is converted when set (a later
// settimeofday does not move an armed timer: TFD_TIMER_CANCEL_ON_SET and
// clock-change tracking are not implemented, docs/events.md).
#include "core/thread.h"
#include "core/timerfd.h"

#include <new>

#include "core/time.h"
#include "core/event/sync.h"

namespace capsule {

using event::Hold;

Result<TimerFd*> TimerFd::create(TimerClock clock) {
  auto* t = new (std::nothrow) TimerFd(clock);
  if (!t) return Error::NoMemory;
  t->timer_.callback = expired;
  t->timer_.context = t;
  return t;
}

TimerFd::~TimerFd() {
  detach_watchers();
  kernel_timer_cancel(timer_);
}

// On the ktimer thread. Counts this expiry plus any whole periods missed
// (timerfd_create(2): read returns the number of expirations), re-arms.
void TimerFd::expired(KernelTimer& kt) {
  auto* self = static_cast<TimerFd*>(kt.context);
  Hold<Mutex> g(self->mu_);
  if (!self->deadline_ns_) return;  // disarmed meanwhile
  uint64_t now = uptime_ns();
  uint64_t n = 1;
  if (self->interval_ns_) {
    if (now > self->deadline_ns_) n += (now - self->deadline_ns_) / self->interval_ns_;
    self->deadline_ns_ += n * self->interval_ns_;
    kernel_timer_arm(self->timer_, self->deadline_ns_);
  } else {
    self->deadline_ns_ = 0;
  }
  self->expirations_ += n;
  self->readers_.wake_all();
  self->notify(POLL_IN | POLL_RDNORM);
}

TimerSpec TimerFd::gettime() {
  Hold<Mutex> g(mu_);
  TimerSpec s;
  s.interval_ns = interval_ns_;
  if (deadline_ns_) {
    uint64_t now = uptime_ns();
    s.value_ns = deadline_ns_ > now ? deadline_ns_ - now : 1;  // due: reported as "about to fire"
  }
  return s;
}

Result<TimerSpec> TimerFd::settime(const TimerSpec& spec, bool absolute) {
  Hold<Mutex> serial(set_mu_);
  TimerSpec old = gettime();
  // The callback takes mu_, so cancel (which waits for a running callback)
  // must be called without it.
  kernel_timer_cancel(timer_);
  Hold<Mutex> g(mu_);
  expirations_ = 0;
  interval_ns_ = spec.interval_ns;
  deadline_ns_ = 0;
  if (spec.value_ns) {
    uint64_t now = uptime_ns();
    uint64_t d;
    if (!absolute) {
      d = now + spec.value_ns;
    } else if (clock_ == TimerClock::Realtime) {
      int64_t mono = int64_t(spec.value_ns) - realtime_offset_ns();
      d = mono > int64_t(now) ? uint64_t(mono) : now;
    } else {
      d = spec.value_ns > now ? spec.value_ns : now;
    }
    if (d == 0) d = 1;
    deadline_ns_ = d;
    kernel_timer_arm(timer_, d);
  }
  return old;
}

Result<uint64_t> TimerFd::read(bool nonblock) {
  Hold<Mutex> g(mu_);
  while (expirations_ == 0) {
    if (nonblock) return Error::Again;
    WaitTag tag("timerfd read", this);
    TRY(readers_.wait(mu_, 0));
  }
  uint64_t n = expirations_;
  expirations_ = 0;
  return n;
}

uint32_t TimerFd::poll_events() {
  Hold<Mutex> g(mu_);
  return expirations_ ? (POLL_IN | POLL_RDNORM) : 0;
}

}  // namespace capsule
