#pragma once
// PacketBuf: one network packet in a kernel buffer with headroom (docs/net.md,
// "Packets"). A protocol writes its payload first, then each layer below
// prepends its header into the headroom (push) without copying what is
// there; on the way in each layer strips its header (pull). Move-only: a
// packet has one owner at a time (a queue, a layer, a device ring).
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::net {

class PacketBuf {
 public:
  // Room for every header a frame carries below a transport's payload:
  // Ethernet (14, with a VLAN tag 18) + IPv4 with options (60) + TCP with
  // options (60), rounded up.
  static constexpr size_t HEADROOM = 160;

  PacketBuf() = default;
  PacketBuf(const PacketBuf&) = delete;
  PacketBuf& operator=(const PacketBuf&) = delete;
  PacketBuf(PacketBuf&& o)
      : buf_(o.buf_), cap_(o.cap_), off_(o.off_), len_(o.len_), csum_at_(o.csum_at_), csum_offset_(o.csum_offset_),
        gso_size_(o.gso_size_) {
    o.buf_ = nullptr, o.cap_ = o.off_ = o.len_ = 0;
  }
  PacketBuf& operator=(PacketBuf&& o);
  ~PacketBuf() { reset(); }

  // A packet of `len` bytes (uninitialized) with `headroom` bytes free in
  // front. NoMemory.
  static Result<PacketBuf> alloc(size_t len, size_t headroom = HEADROOM);
  // A packet holding a copy of `len` bytes (a received frame).
  static Result<PacketBuf> copy_of(const void* data, size_t len, size_t headroom = HEADROOM);

  uint8_t* data() { return buf_ + off_; }
  const uint8_t* data() const { return buf_ + off_; }
  size_t size() const { return len_; }
  size_t headroom() const { return off_; }
  bool empty() const { return buf_ == nullptr; }

  // Prepends n bytes (a header) and returns where they start; nullptr when
  // the headroom is short (a layer's bug, never input's).
  uint8_t* push(size_t n) {
    if (n > off_) return nullptr;
    off_ -= n, len_ += n;
    return data();
  }
  // Strips n bytes from the front; false when the packet is shorter.
  bool pull(size_t n) {
    if (n > len_) return false;
    off_ += n, len_ -= n;
    return true;
  }
  // Cuts the packet to n bytes (drops link-layer padding); no-op if shorter.
  void trim(size_t n) {
    if (n < len_) len_ = n;
  }
  void reset();

  // For the device (TCP segmentation offload, docs/net.md): a checksum the
  // device completes, from `at` bytes into the data (kept as the headers
  // in front are pushed) to the end, stored `offset` bytes further; and
  // TCP segments of gso_size payload bytes (0: none).
  void set_partial_csum(size_t at, uint16_t offset) {
    csum_at_ = uint32_t(off_ + at);
    csum_offset_ = offset;
  }
  void set_gso_size(uint16_t n) { gso_size_ = n; }
  bool partial_csum() const { return csum_offset_ != 0; }
  size_t csum_start() const { return csum_at_ - off_; }
  uint16_t csum_offset() const { return csum_offset_; }
  uint16_t gso_size() const { return gso_size_; }

 private:
  uint8_t* buf_ = nullptr;
  size_t cap_ = 0, off_ = 0, len_ = 0;
  uint32_t csum_at_ = 0;
  uint16_t csum_offset_ = 0, gso_size_ = 0;
};

}  // namespace capsule::net
