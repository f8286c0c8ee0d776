#pragma once
// eventfd(2) objects (core/event/eventfd.cc, docs/events.md). EFD_NONBLOCK
// and EFD_CLOEXEC belong to the file description and the fd; the adapter
// passes nonblock per call. The adapter also checks the 8-byte buffer size.
#include <cstdint>

#include "core/poll.h"
#include "core/event/wait.h"

namespace capsule {

class EventFd final : public Pollable {
 public:
  static constexpr uint64_t MAX_COUNT = 0xfffffffffffffffeull;  // the counter never exceeds this

  // NoMemory.
  static Result<EventFd*> create(uint64_t initial, bool semaphore);
  ~EventFd();
  bool signals_io() const override { return false; }  // Linux's eventfd has no fasync

  // read(2): the counter (then 0), or 1 (then counter - 1) in semaphore
  // mode. Blocks while 0; Again with nonblock; Interrupted.
  Result<uint64_t> read(bool nonblock);
  // write(2): adds v. Invalid for 0xffffffffffffffff; blocks while the sum
  // would pass MAX_COUNT; Again with nonblock; Interrupted.
  Result<void> write(uint64_t v, bool nonblock);
  uint32_t poll_events() override;
  uint64_t value();  // for /proc fdinfo and tests

 private:
  EventFd(uint64_t v, bool sem) : count_(v), semaphore_(sem) {}
  Mutex mu_;
  uint64_t count_;  // under mu_
  const bool semaphore_;
  event::WaitList readers_, writers_;
};

}  // namespace capsule
