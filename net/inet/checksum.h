#pragma once
// The Internet checksum (RFC 1071): the ones' complement of the ones'
// complement sum of 16-bit big-endian words. Pure functions: the host unit
// tests compile this file (tests/unit/inet_test.cc).
#include <cstddef>
#include <cstdint>

namespace capsule::net {

// Adds `len` bytes to a running 32-bit sum (an odd length pads with a zero
// byte, RFC 1071 4.1). Chain calls only on even-length pieces.
uint32_t csum_add(uint32_t sum, const void* data, size_t len);
// Folds the carries and complements: the value a header carries.
uint16_t csum_fold(uint32_t sum);
// The checksum of one buffer.
inline uint16_t checksum(const void* data, size_t len) { return csum_fold(csum_add(0, data, len)); }
// The TCP/UDP pseudo-header's sum (RFC 793 3.1, RFC 768): source,
// destination, protocol and the transport length. Addresses host order.
uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
// IPv6's pseudo-header (RFC 8200 8.1): the 16-byte source and destination,
// the upper-layer length as 32 bits, three zero bytes and the next header.
uint32_t csum_pseudo6(const uint8_t* src, const uint8_t* dst, uint8_t proto, uint32_t len);

}  // namespace capsule::net
