#pragma once
// IoBuffer: the one buffer type of every transfer in the kernel (docs/vfs.md
// "I/O buffers"). read() puts bytes into one and write() takes them from
// one, whatever sits between the program and the data: a file system, a
// pipe, the tty, a device driver. An IoBuffer is kernel memory
// (KernelBuffer) or the application's (linux/'s UserBuffer, over
// copy_to_user/copy_from_user: a bad pointer ends the transfer with
// Error::Fault, the adapter's EFAULT, never a kernel fault). Positions are
// relative to the buffer's start; a vectored buffer (readv) maps them
// across its pieces. Whoever holds the bytes copies them once, straight
// between its own memory and the buffer (a page of a file, a pipe's ring,
// a device's transmit buffer).
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule {

class IoBuffer {
 public:
  explicit IoBuffer(size_t size) : size_(size) {}
  size_t size() const { return size_; }
  // Bytes into the buffer at pos.
  virtual Result<void> copy_out(size_t pos, const void* src, size_t n) = 0;
  // Bytes out of the buffer at pos.
  virtual Result<void> copy_in(size_t pos, void* dst, size_t n) = 0;
  // As copy_out/copy_in, where a fault part way counts: the bytes moved
  // before it (fewer than n, maybe 0), so that read(2)/write(2) can return
  // a partial count and a pipe keeps what did not move. Errors other than
  // a fault stay errors. The default moves all or nothing.
  virtual Result<size_t> copy_out_partial(size_t pos, const void* src, size_t n) {
    TRY(copy_out(pos, src, n));
    return n;
  }
  virtual Result<size_t> copy_in_partial(size_t pos, void* dst, size_t n) {
    TRY(copy_in(pos, dst, n));
    return n;
  }
  // Zeros into the buffer (holes). The default copies from a zero block.
  virtual Result<void> zero(size_t pos, size_t n) {
    static const uint8_t zeros[512] = {};
    while (n) {
      size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
      TRY(copy_out(pos, zeros, k));
      pos += k;
      n -= k;
    }
    return {};
  }

 protected:
  ~IoBuffer() = default;
  size_t size_;
};

// Kernel memory. Range for a position outside it.
class KernelBuffer final : public IoBuffer {
 public:
  KernelBuffer(void* p, size_t n) : IoBuffer(n), p_(static_cast<uint8_t*>(p)) {}
  KernelBuffer(const void* p, size_t n) : IoBuffer(n), p_(static_cast<uint8_t*>(const_cast<void*>(p))) {}
  Result<void> copy_out(size_t pos, const void* src, size_t n) override {
    if (pos > size_ || n > size_ - pos) return Error::Range;
    __builtin_memcpy(p_ + pos, src, n);
    return {};
  }
  Result<void> copy_in(size_t pos, void* dst, size_t n) override {
    if (pos > size_ || n > size_ - pos) return Error::Range;
    __builtin_memcpy(dst, p_ + pos, n);
    return {};
  }
  Result<void> zero(size_t pos, size_t n) override {
    if (pos > size_ || n > size_ - pos) return Error::Range;
    __builtin_memset(p_ + pos, 0, n);
    return {};
  }

 private:
  uint8_t* p_;
};

}  // namespace capsule
