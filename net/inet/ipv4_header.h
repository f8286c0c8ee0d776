#pragma once
// The IPv4 header (RFC 791 3.1): parsing with every check a receiver makes,
// and building. Pure functions: the host unit tests compile this file.
#include <cstddef>
#include <cstdint>

#include "net/netif.h"

namespace capsule::net {

inline constexpr uint8_t IPPROTO_ICMP_ = 1, IPPROTO_TCP_ = 6, IPPROTO_UDP_ = 17;
inline constexpr size_t IPV4_MIN_HEADER = 20;
inline constexpr uint8_t IPV4_DEFAULT_TTL = 64;  // net.ipv4.ip_default_ttl

struct Ipv4Header {
  size_t header_len = IPV4_MIN_HEADER;  // IHL * 4
  uint8_t tos = 0;
  uint16_t total_len = 0;
  uint16_t id = 0;
  bool dont_fragment = false, more_fragments = false;
  uint16_t frag_offset = 0;  // in bytes (the field times 8)
  uint8_t ttl = IPV4_DEFAULT_TTL;
  uint8_t protocol = 0;
  Ipv4 src, dst;

  bool fragment() const { return more_fragments || frag_offset; }
};

// Why a datagram was dropped (each has its counter).
enum class Ipv4Drop : uint8_t { None, TooShort, BadVersion, BadHeaderLen, BadTotalLen, BadChecksum, BadFragment };

// Checks a received datagram (`len` bytes at p, the link layer's payload,
// which may carry padding after total_len): version 4, IHL >= 5 and
// inside the data, total length >= IHL*4 and <= len, header checksum
// valid, a fragment's offset + length within 65535. On success fills h.
Ipv4Drop ipv4_parse(const uint8_t* p, size_t len, Ipv4Header& h);

// The datagram an ICMP error quotes (RFC 792: its header and the first 8
// bytes of its data), `len` bytes at p: version 4, IHL >= 5, the header and
// 8 bytes after it present. Its length and checksum are not checked (the
// quote may be cut, a router may have changed them). Fills header_len,
// protocol, src and dst; the transport's 8 bytes are at p + header_len.
bool ipv4_parse_quoted(const uint8_t* p, size_t len, Ipv4Header& q);

// Writes a 20-byte header (no options) with its checksum at p.
void ipv4_build(uint8_t* p, const Ipv4Header& h);

}  // namespace capsule::net
