#pragma once
// A byte ring for a TCP connection's send or receive buffer: the send
// side keeps what is unacknowledged and unsent (read at an offset for
// retransmission), the receive side what the program has not read yet.
// Storage comes from the kernel heap when the connection first needs it
// and goes back when the connection ends (a TIME_WAIT socket holds none).
#include <cstddef>
#include <cstdint>

#include "core/io_buffer.h"
#include "core/mm.h"

namespace capsule::net {

class TcpRing {
 public:
  TcpRing() = default;
  TcpRing(const TcpRing&) = delete;
  TcpRing& operator=(const TcpRing&) = delete;
  ~TcpRing() { release(); }

  // Storage of `cap` bytes (a power of two). NoMemory.
  Result<void> ensure(uint32_t cap) {
    if (buf_) return {};
    buf_ = static_cast<uint8_t*>(kmalloc(cap));
    if (!buf_) return Error::NoMemory;
    cap_ = cap;
    head_ = size_ = 0;
    return {};
  }
  void release() {
    kfree(buf_);
    buf_ = nullptr;
    cap_ = head_ = size_ = 0;
  }
  bool ready() const { return buf_ != nullptr; }
  uint32_t size() const { return size_; }
  uint32_t capacity() const { return cap_; }
  uint32_t space() const { return cap_ - size_; }

  // Appends n bytes from an IoBuffer at `pos` (user memory may fault).
  Result<void> push(IoBuffer& src, size_t pos, uint32_t n) {
    for (uint32_t done = 0; done < n;) {
      uint32_t at = (head_ + size_) & (cap_ - 1);
      uint32_t k = n - done;
      if (k > cap_ - at) k = cap_ - at;
      TRY(src.copy_in(pos + done, buf_ + at, k));
      done += k;
      size_ += k;
    }
    return {};
  }
  void push(const uint8_t* src, uint32_t n) {
    for (uint32_t done = 0; done < n;) {
      uint32_t at = (head_ + size_) & (cap_ - 1);
      uint32_t k = n - done;
      if (k > cap_ - at) k = cap_ - at;
      __builtin_memcpy(buf_ + at, src + done, k);
      done += k;
      size_ += k;
    }
  }
  // Out-of-order bytes: writes n bytes `off` bytes past the in-order end
  // without counting them (off + n <= space()); commit() counts them once
  // the bytes before them have come (docs/net.md "TCP").
  void write_at(uint32_t off, const uint8_t* src, uint32_t n) {
    for (uint32_t done = 0; done < n;) {
      uint32_t at = (head_ + size_ + off + done) & (cap_ - 1);
      uint32_t k = n - done;
      if (k > cap_ - at) k = cap_ - at;
      __builtin_memcpy(buf_ + at, src + done, k);
      done += k;
    }
  }
  void commit(uint32_t n) { size_ += n; }
  // Copies n bytes from offset `from` (from the front) to dst.
  void read(uint32_t from, uint8_t* dst, uint32_t n) const {
    for (uint32_t done = 0; done < n;) {
      uint32_t at = (head_ + from + done) & (cap_ - 1);
      uint32_t k = n - done;
      if (k > cap_ - at) k = cap_ - at;
      __builtin_memcpy(dst + done, buf_ + at, k);
      done += k;
    }
  }
  Result<void> read(uint32_t from, IoBuffer& dst, size_t pos, uint32_t n) const {
    for (uint32_t done = 0; done < n;) {
      uint32_t at = (head_ + from + done) & (cap_ - 1);
      uint32_t k = n - done;
      if (k > cap_ - at) k = cap_ - at;
      TRY(dst.copy_out(pos + done, buf_ + at, k));
      done += k;
    }
    return {};
  }
  void pop(uint32_t n) {
    if (n > size_) n = size_;
    head_ = (head_ + n) & (cap_ - 1);
    size_ -= n;
  }

 private:
  uint8_t* buf_ = nullptr;
  uint32_t cap_ = 0, head_ = 0, size_ = 0;
};

}  // namespace capsule::net
