// eventfd(2) (core/include/core/eventfd.h).
#include "core/thread.h"
#include "core/eventfd.h"

#include <new>

#include "core/event/sync.h"

namespace capsule {

using event::Hold;

Result<EventFd*> EventFd::create(uint64_t initial, bool semaphore) {
  auto* e = new (std::nothrow) EventFd(initial, semaphore);
  if (!e) return Error::NoMemory;
  return e;
}

EventFd::~EventFd() { detach_watchers(); }

Result<uint64_t> EventFd::read(bool nonblock) {
  uint64_t v;
  {
    Hold<Mutex> g(mu_);
    while (count_ == 0) {
      if (nonblock) return Error::Again;
      WaitTag tag("eventfd read", this);
      TRY(readers_.wait(mu_, 0));
    }
    // eventfd(2): EFD_SEMAPHORE reads 1 and decrements; otherwise the
    // whole value is returned and the counter reset.
    v = semaphore_ ? 1 : count_;
    count_ -= v;
    writers_.wake_all();
    notify(POLL_OUT | POLL_WRNORM);
  }
  return v;
}

Result<void> EventFd::write(uint64_t v, bool nonblock) {
  if (v == ~0ull) return Error::Invalid;  // eventfd(2): EINVAL
  Hold<Mutex> g(mu_);
  // Blocks until the sum fits below 0xffffffffffffffff.
  while (MAX_COUNT - count_ < v) {
    if (nonblock) return Error::Again;
    WaitTag tag("eventfd write", this);
    TRY(writers_.wait(mu_, 0));
  }
  count_ += v;
  if (v) {
    readers_.wake_all();
    notify(POLL_IN | POLL_RDNORM);
  }
  return {};
}

uint32_t EventFd::poll_events() {
  Hold<Mutex> g(mu_);
  uint32_t ev = 0;
  if (count_ > 0) ev |= POLL_IN | POLL_RDNORM;
  if (count_ < MAX_COUNT) ev |= POLL_OUT | POLL_WRNORM;
  return ev;
}

uint64_t EventFd::value() {
  Hold<Mutex> g(mu_);
  return count_;
}

}  // namespace capsule
