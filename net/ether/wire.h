#pragma once
// Network byte order on raw bytes, and the Internet checksum [RFC 1071]:
// what the Ethernet layer and the DHCP client read and write. Frames are
// byte arrays at any alignment, so fields go through these, never through
// casts to packed structs. Compiles for the host.
#include <cstddef>
#include <cstdint>

namespace capsule::net::ether {

inline uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// The one's complement of the one's complement sum of 16-bit words
// [RFC 1071 §4.1]; `sum` carries a pseudo-header's partial sum.
inline uint16_t checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (; n > 1; n -= 2, p += 2) sum += uint32_t(p[0] << 8 | p[1]);
  if (n) sum += uint32_t(p[0] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

}  // namespace capsule::net::ether
