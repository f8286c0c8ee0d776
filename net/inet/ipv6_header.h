#pragma once
// The IPv6 header and its extension headers (RFC 8200 3, 4): parsing with
// every check a host makes on receipt, and building. Pure functions: the
// host unit tests and the fuzz target compile this file.
#include <cstddef>
#include <cstdint>

#include "net/ip_addr.h"

namespace capsule::net {

inline constexpr size_t IPV6_HEADER = 40;
inline constexpr uint8_t IPV6_DEFAULT_HOPS = 64;  // net.ipv6.conf.all.hop_limit
// Next Header values (IANA): the extension headers a host walks, ICMPv6.
inline constexpr uint8_t IP6_HOPOPTS = 0, IP6_ROUTING = 43, IP6_FRAGMENT = 44, IP6_ICMPV6 = 58, IP6_NONE = 59,
                         IP6_DSTOPTS = 60;

struct Ipv6Header {
  uint8_t tclass = 0;
  uint32_t flow = 0;
  uint16_t payload_len = 0;  // bytes after the fixed 40
  uint8_t next_header = 0;   // the fixed header's field
  uint8_t hop_limit = IPV6_DEFAULT_HOPS;
  IpAddr src, dst;
  // After the extension headers: the upper layer's protocol and where its
  // header starts (40 + the extension headers' lengths).
  uint8_t proto = 0;
  size_t header_len = IPV6_HEADER;
};

// Why a packet was dropped (each has its counter).
enum class Ipv6Drop : uint8_t {
  None, TooShort, BadVersion, BadLength, BadAddress, BadExtension, BadOption, Routing, Fragment, NoNextHeader
};

// Checks a received packet (`len` bytes at p, the link layer's payload,
// which may carry padding after the payload length): version 6, the
// payload inside the data (a payload length of 0, a jumbogram, is
// refused), no IPv4-mapped source or destination (RFC 4942 2.2: never on
// the wire; the stack would take it for IPv4), then walks the extension headers: Hop-by-Hop only first
// (RFC 8200 4.1), Hop-by-Hop and Destination Options whose options are
// all Pad1/PadN or of a type whose action bits say "skip" (4.2: any other
// drops the packet), a Routing header only with Segments Left 0 (4.4), no
// No Next Header. On success fills h; the upper layer is h.proto at
// p + h.header_len, 40 + payload_len - header_len bytes. A Fragment
// header stops the walk with Fragment: h is filled too, h.header_len
// where the Fragment header is (the reassembly's input).
Ipv6Drop ipv6_parse(const uint8_t* p, size_t len, Ipv6Header& h);

// The packet an ICMPv6 error quotes (RFC 4443 2.4(c): as much as fits),
// `len` bytes at p: version 6 and the extension headers walked as far as
// they are present, then 8 bytes of the upper layer. Its payload length
// is not checked (the quote is cut). Fills src, dst, proto, header_len.
bool ipv6_parse_quoted(const uint8_t* p, size_t len, Ipv6Header& q);

// Writes the fixed 40-byte header (next_header, payload_len, tclass,
// flow, hop_limit, src, dst) at p.
void ipv6_build(uint8_t* p, const Ipv6Header& h);

}  // namespace capsule::net
