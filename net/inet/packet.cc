// PacketBuf (net/include/net/packet.h).
#include "net/packet.h"

#include "core/mm.h"

namespace capsule::net {

PacketBuf& PacketBuf::operator=(PacketBuf&& o) {
  if (this != &o) {
    reset();
    buf_ = o.buf_, cap_ = o.cap_, off_ = o.off_, len_ = o.len_;
    csum_at_ = o.csum_at_, csum_offset_ = o.csum_offset_, gso_size_ = o.gso_size_;
    o.buf_ = nullptr, o.cap_ = o.off_ = o.len_ = 0;
  }
  return *this;
}

Result<PacketBuf> PacketBuf::alloc(size_t len, size_t headroom) {
  if (len > (1u << 20)) return Error::MessageSize;
  PacketBuf p;
  p.buf_ = static_cast<uint8_t*>(kmalloc(headroom + len));
  if (!p.buf_) return Error::NoMemory;
  p.cap_ = headroom + len;
  p.off_ = headroom;
  p.len_ = len;
  return p;
}

Result<PacketBuf> PacketBuf::copy_of(const void* data, size_t len, size_t headroom) {
  PacketBuf p = TRY(alloc(len, headroom));
  if (len) __builtin_memcpy(p.data(), data, len);
  return p;
}

void PacketBuf::reset() {
  kfree(buf_);
  buf_ = nullptr;
  cap_ = off_ = len_ = 0;
  csum_at_ = 0;
  csum_offset_ = gso_size_ = 0;
}

}  // namespace capsule::net
