// The Internet checksum (net/inet/checksum.h, RFC 1071).
#include "net/inet/checksum.h"

namespace capsule::net {

uint32_t csum_add(uint32_t sum, const void* data, size_t len) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t s = sum;
  // Sum 16-bit big-endian words in a 64-bit accumulator: no carry is lost
  // before the fold (RFC 1071 2(C): the sum may be taken in any order).
  while (len >= 2) {
    s += uint32_t(p[0]) << 8 | p[1];
    p += 2;
    len -= 2;
  }
  if (len) s += uint32_t(p[0]) << 8;
  while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
  return uint32_t(s);
}

uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len) {
  uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
  while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
  return uint32_t(s);
}

uint32_t csum_pseudo6(const uint8_t* src, const uint8_t* dst, uint8_t proto, uint32_t len) {
  uint32_t s = csum_add(0, src, 16);
  s = csum_add(s, dst, 16);
  uint64_t t = uint64_t(s) + (len >> 16) + (len & 0xffff) + proto;
  while (t >> 32) t = (t & 0xffffffffu) + (t >> 32);
  return uint32_t(t);
}

}  // namespace capsule::net
