#pragma once
// Byte ring for pipes: a power-of-two capacity over caller-provided storage,
// with free-running 32-bit head/tail counters (count = tail - head, so full
// and empty need no extra flag). Pure logic, tested on the host
// (tests/unit/ring_buffer_test.cc). Not thread-safe: the pipe's lock guards it.
//
// Data moves through a "copier" callable, so the pipe can copy straight
// between the ring and application memory (which may fault): each call
// gets one contiguous piece of the ring and returns false to stop, or
// returns how many bytes of the piece it copied (fewer stops: a copy that
// faulted part way, whose bytes before the fault still count).
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace capsule::event {

class ByteRing {
 public:
  ByteRing() = default;
  // capacity: a power of two; storage: that many bytes.
  // start: initial counter value (tests start near 2^32 to cross the wrap).
  ByteRing(uint8_t* storage, uint32_t capacity, uint32_t start = 0)
      : buf_(storage), cap_(capacity), head_(start), tail_(start) {}

  uint32_t capacity() const { return cap_; }
  uint32_t size() const { return tail_ - head_; }
  uint32_t space() const { return cap_ - size(); }
  bool empty() const { return head_ == tail_; }
  uint8_t* storage() const { return buf_; }

  // Appends up to n bytes: copy(ring_ptr, offset_in_request, len) fills the
  // ring. Returns the bytes appended (stops early if copy returns false).
  template <typename Copy>
  uint32_t push(uint32_t n, Copy&& copy) {
    if (n > space()) n = space();
    uint32_t done = segments(tail_, n, copy);
    tail_ += done;
    return done;
  }

  // Removes up to n bytes: copy(ring_ptr, offset_in_request, len) drains
  // the ring. Returns the bytes removed.
  template <typename Copy>
  uint32_t pop(uint32_t n, Copy&& copy) {
    uint32_t done = peek(n, copy);
    head_ += done;
    return done;
  }

  // Copies up to n bytes from the front without removing them (tee(2)).
  template <typename Copy>
  uint32_t peek(uint32_t n, Copy&& copy) const {
    if (n > size()) n = size();
    return segments(head_, n, copy);
  }

  // A ring may start without storage (a pipe allocates it at its first
  // write): attach gives it storage of capacity() bytes, while empty.
  void attach(uint8_t* storage) { buf_ = storage; }
  // Without storage: only the capacity changes (no contents to move).
  void set_capacity_unbacked(uint32_t new_cap) { cap_ = new_cap; }
  // Moves the contents into new storage of capacity new_cap (a power of
  // two >= size()); the old storage is returned for the caller to free.
  uint8_t* resize(uint8_t* storage, uint32_t new_cap) {
    uint32_t n = size();
    uint8_t* old = buf_;
    for (uint32_t i = 0; i < n; ++i) storage[i] = buf_[(head_ + i) & (cap_ - 1)];
    buf_ = storage;
    cap_ = new_cap;
    head_ = 0;
    tail_ = n;
    return old;
  }

 private:
  // copy(ring_ptr, offset_in_request, len) over the n bytes from position
  // `from`, in at most two contiguous pieces; the bytes copied.
  template <typename Copy>
  uint32_t segments(uint32_t from, uint32_t n, Copy& copy) const {
    uint32_t done = 0;
    while (done < n) {
      uint32_t at = (from + done) & (cap_ - 1);
      uint32_t len = n - done;
      if (len > cap_ - at) len = cap_ - at;
      if constexpr (std::is_same_v<decltype(copy(buf_, 0u, 0u)), bool>) {
        if (!copy(buf_ + at, done, len)) break;
        done += len;
      } else {
        uint32_t c = copy(buf_ + at, done, len);
        done += c < len ? c : len;
        if (c < len) break;
      }
    }
    return done;
  }

  uint8_t* buf_ = nullptr;
  uint32_t cap_ = 0;
  uint32_t head_ = 0;  // next byte to read (free-running)
  uint32_t tail_ = 0;  // next byte to write (free-running)
};

}  // namespace capsule::event
