#pragma once
// timerfd_create(2) objects (core/event/timerfd.cc, docs/events.md). Expiry
// runs on the ktimer service thread (core/time/kernel_timer.h).
#include <cstdint>

#include "core/poll.h"
#include "core/event/wait.h"
#include "core/time/kernel_timer.h"

namespace capsule {

enum class TimerClock : uint8_t { Monotonic, Realtime };

// itimerspec in nanoseconds. value 0 disarms; interval 0 is one-shot.
struct TimerSpec {
  uint64_t value_ns = 0;     // settime: first expiry (relative, or absolute on the clock); gettime: time left
  uint64_t interval_ns = 0;
};

class TimerFd final : public Pollable {
 public:
  // CLOCK_BOOTTIME behaves as Monotonic here (no suspend). NoMemory.
  static Result<TimerFd*> create(TimerClock clock);
  ~TimerFd();
  bool signals_io() const override { return false; }  // no fasync on Linux

  // timerfd_settime(2): returns the previous setting (as gettime). With
  // absolute, value_ns is a time on the timer's clock (Realtime: Unix ns);
  // a time already past expires at once. Resets the expiration count.
  Result<TimerSpec> settime(const TimerSpec& spec, bool absolute);
  TimerSpec gettime();
  // read(2): expirations since the last read (≥ 1); blocks while 0; Again
  // with nonblock; Interrupted.
  Result<uint64_t> read(bool nonblock);
  uint32_t poll_events() override;

 private:
  explicit TimerFd(TimerClock c) : clock_(c) {}
  static void expired(KernelTimer& t);

  const TimerClock clock_;
  Mutex set_mu_;        // serializes settime (it cancels without mu_)
  Mutex mu_;
  KernelTimer timer_;
  uint64_t deadline_ns_ = 0;  // monotonic, 0 = disarmed; under mu_
  uint64_t interval_ns_ = 0;  // under mu_
  uint64_t expirations_ = 0;  // under mu_
  event::WaitList readers_;
};

}  // namespace capsule
