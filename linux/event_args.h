#pragma once
// Arguments the event syscall families share (sys_poll.cc, sys_epoll.cc,
// sys_timerfd.cc, sys_signalfd.cc): struct timespec / timeval at the
// boundary, timeouts as absolute deadlines, and the sigset_t of the p*
// variants.
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "core/poll.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "linux/linux_errno.h"

namespace capsule::linux_abi {

// A kernel array for the length of a call (new[] without exceptions).
// INLINE > 0: up to that many elements live in the object itself (on the
// kernel stack), so the common small call allocates nothing (issue 16: an
// allocation and its free are two heap-lock round trips per call).
template <typename T, size_t INLINE = 0>
class CallArray {
 public:
  explicit CallArray(size_t n) : p_(n == 0 ? nullptr : n <= INLINE ? inline_ptr() : new (std::nothrow) T[n]), n_(n) {}
  ~CallArray() {
    if (p_ != inline_ptr()) delete[] p_;
  }
  CallArray(const CallArray&) = delete;
  CallArray& operator=(const CallArray&) = delete;
  bool failed() const { return n_ && !p_; }  // out of memory
  T* get() const { return p_; }
  T& operator[](size_t i) const { return p_[i]; }

 private:
  struct None {};
  T* inline_ptr() {
    if constexpr (INLINE != 0) return inline_;
    else return nullptr;
  }
  static constexpr size_t CAP = INLINE ? INLINE : 1;
  [[no_unique_address]] std::conditional_t<INLINE != 0, T[CAP], None> inline_;
  T* p_;
  size_t n_;
};

struct KTimespec {  // struct timespec, x86-64
  int64_t sec;
  int64_t nsec;
};
struct KTimeval {  // struct timeval, x86-64
  int64_t sec;
  int64_t usec;
};

inline constexpr uint64_t NS_PER_SEC = 1000000000ull;
// Beyond this a timeout is "forever" in all but name (about 30 years).
inline constexpr uint64_t MAX_TIMEOUT_NS = 1000000000ull * 1000000000ull;

// A valid timespec (0 <= nsec < 1e9, sec >= 0) as ns, saturating at
// `cap`; false otherwise (EINVAL). Timeouts saturate at MAX_TIMEOUT_NS
// ("forever"); points in time (timerfd's TFD_TIMER_ABSTIME on the Unix
// clock, ~1.8e18 ns today) need a higher cap.
inline bool timespec_ns(const KTimespec& t, uint64_t& ns, uint64_t cap = MAX_TIMEOUT_NS) {
  if (t.sec < 0 || t.nsec < 0 || t.nsec >= int64_t(NS_PER_SEC)) return false;
  ns = uint64_t(t.sec) >= cap / NS_PER_SEC ? cap : uint64_t(t.sec) * NS_PER_SEC + uint64_t(t.nsec);
  if (ns > cap) ns = cap;
  return true;
}
inline KTimespec ns_timespec(uint64_t ns) { return {int64_t(ns / NS_PER_SEC), int64_t(ns % NS_PER_SEC)}; }

// A relative timeout as a poll_wait/Epoll::wait deadline: 0 → NO_WAIT.
inline uint64_t deadline_after(uint64_t ns) {
  if (ns == 0) return NO_WAIT;
  if (ns >= MAX_TIMEOUT_NS) return WAIT_FOREVER;
  return uptime_ns() + ns;
}
// What is left of a deadline from deadline_after (0 once past).
inline uint64_t remaining_ns(uint64_t deadline) {
  if (deadline == NO_WAIT || deadline == WAIT_FOREVER) return 0;
  uint64_t now = uptime_ns();
  return deadline > now ? deadline - now : 0;
}
// A poll/epoll_wait millisecond timeout: negative → forever.
inline uint64_t deadline_ms(int64_t ms) {
  if (ms < 0) return WAIT_FOREVER;
  return deadline_after(uint64_t(ms) * 1000000ull);
}

// The sigset_t of ppoll/pselect6/epoll_pwait: the mask, Error::Invalid for
// a size that is not 8, Error::Fault for a bad pointer.
inline Result<uint64_t> read_sigset(UserPtr<const uint64_t> uset, uint64_t size) {
  if (size != 8) return Error::Invalid;
  return uset.read();
}

}  // namespace capsule::linux_abi
