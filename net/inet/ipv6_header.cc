// IPv6 header checks (net/inet/ipv6_header.h, RFC 8200).
#include "net/inet/ipv6_header.h"

#include "net/byte_order.h"

namespace capsule::net {
namespace {

// Walks the options of a Hop-by-Hop or Destination Options header (`n`
// bytes at p, after its two-byte head). RFC 8200 4.2: Pad1 is one byte,
// every other option is type, length, data; the two high bits of an
// unknown type say what to do, and only 00 ("skip over") keeps the packet.
bool options_ok(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t type = p[i];
    if (type == 0) {  // Pad1
      ++i;
      continue;
    }
    if (i + 2 > n || i + 2 + p[i + 1] > n) return false;
    // PadN (1) and Router Alert (5, RFC 2711) are known; others by their bits.
    if (type != 1 && type != 5 && (type >> 6) != 0) return false;
    i += 2 + p[i + 1];
  }
  return true;
}

// Walks the extension headers from `next` at offset `off` within `end`
// bytes. Quoted: stop quietly where the bytes end.
Ipv6Drop walk(const uint8_t* p, size_t end, uint8_t next, size_t off, Ipv6Header& h, bool quoted) {
  for (bool first = true;; first = false) {
    switch (next) {
      case IP6_HOPOPTS:
        if (!first) return Ipv6Drop::BadExtension;  // RFC 8200 4.1: only right after the header
        [[fallthrough]];
      case IP6_DSTOPTS:
      case IP6_ROUTING: {
        if (off + 8 > end) return Ipv6Drop::BadExtension;
        size_t n = (size_t(p[off + 1]) + 1) * 8;  // Hdr Ext Len in 8-byte units, not counting the first 8
        if (off + n > end) return Ipv6Drop::BadExtension;
        if (next == IP6_ROUTING) {
          // RFC 8200 4.4: with Segments Left 0 the header is ignored; a
          // host is never the middle of a route.
          if (p[off + 3] != 0) return Ipv6Drop::Routing;
        } else if (!quoted && !options_ok(p + off + 2, n - 2)) {
          return Ipv6Drop::BadOption;
        }
        next = p[off];
        off += n;
        break;
      }
      case IP6_FRAGMENT:
        // For the reassembly: where the Fragment header is.
        h.proto = IP6_FRAGMENT;
        h.header_len = off;
        return Ipv6Drop::Fragment;
      case IP6_NONE: return Ipv6Drop::NoNextHeader;
      default:
        h.proto = next;
        h.header_len = off;
        return Ipv6Drop::None;
    }
  }
}

void parse_fixed(const uint8_t* p, Ipv6Header& h) {
  uint32_t w = load32(p);
  h.tclass = uint8_t(w >> 20);
  h.flow = w & 0xfffff;
  h.payload_len = load16(p + 4);
  h.next_header = p[6];
  h.hop_limit = p[7];
  __builtin_memcpy(h.src.b, p + 8, 16);
  __builtin_memcpy(h.dst.b, p + 24, 16);
}

}  // namespace

Ipv6Drop ipv6_parse(const uint8_t* p, size_t len, Ipv6Header& h) {
  if (len < IPV6_HEADER) return Ipv6Drop::TooShort;
  if ((p[0] >> 4) != 6) return Ipv6Drop::BadVersion;
  Ipv6Header t;
  parse_fixed(p, t);
  if (t.payload_len == 0 || IPV6_HEADER + t.payload_len > len) return Ipv6Drop::BadLength;
  if (t.src.is_v4() || t.dst.is_v4()) return Ipv6Drop::BadAddress;
  Ipv6Drop d = walk(p, IPV6_HEADER + t.payload_len, t.next_header, IPV6_HEADER, t, false);
  if (d == Ipv6Drop::None || d == Ipv6Drop::Fragment) h = t;
  return d;
}

bool ipv6_parse_quoted(const uint8_t* p, size_t len, Ipv6Header& q) {
  if (len < IPV6_HEADER + 8 || (p[0] >> 4) != 6) return false;
  Ipv6Header t;
  parse_fixed(p, t);
  if (walk(p, len, t.next_header, IPV6_HEADER, t, true) != Ipv6Drop::None) return false;
  if (t.header_len + 8 > len) return false;
  q = t;
  return true;
}

void ipv6_build(uint8_t* p, const Ipv6Header& h) {
  store32(p, uint32_t(6) << 28 | uint32_t(h.tclass) << 20 | (h.flow & 0xfffff));
  store16(p + 4, h.payload_len);
  p[6] = h.next_header;
  p[7] = h.hop_limit;
  __builtin_memcpy(p + 8, h.src.b, 16);
  __builtin_memcpy(p + 24, h.dst.b, 16);
}

}  // namespace capsule::net
