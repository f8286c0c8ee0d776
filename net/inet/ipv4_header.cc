// IPv4 header parsing and building (net/inet/ipv4_header.h, RFC 791 3.1).
#include "net/inet/ipv4_header.h"

#include "net/byte_order.h"
#include "net/inet/checksum.h"

namespace capsule::net {

Ipv4Drop ipv4_parse(const uint8_t* p, size_t len, Ipv4Header& h) {
  if (len < IPV4_MIN_HEADER) return Ipv4Drop::TooShort;
  if ((p[0] >> 4) != 4) return Ipv4Drop::BadVersion;
  size_t ihl = size_t(p[0] & 0xf) * 4;
  if (ihl < IPV4_MIN_HEADER || ihl > len) return Ipv4Drop::BadHeaderLen;
  uint16_t total = load16(p + 2);
  if (total < ihl || total > len) return Ipv4Drop::BadTotalLen;
  // RFC 1122 3.2.1.2: a datagram whose header checksum fails is dropped
  // silently. The sum over a valid header, checksum included, is 0xffff.
  if (csum_fold(csum_add(0, p, ihl)) != 0) return Ipv4Drop::BadChecksum;
  uint16_t frag = load16(p + 6);
  if (frag & 0x8000) return Ipv4Drop::BadFragment;  // the reserved flag bit must be zero
  h.header_len = ihl;
  h.tos = p[1];
  h.total_len = total;
  h.id = load16(p + 4);
  h.dont_fragment = frag & 0x4000;
  h.more_fragments = frag & 0x2000;
  h.frag_offset = uint16_t((frag & 0x1fff) * 8);
  // A fragment that would end past the largest datagram (the "ping of
  // death") or a non-final fragment whose data is not a multiple of 8.
  size_t data = total - ihl;
  if (size_t(h.frag_offset) + data > 65535) return Ipv4Drop::BadFragment;
  if (h.more_fragments && (data == 0 || data % 8)) return Ipv4Drop::BadFragment;
  h.ttl = p[8];
  h.protocol = p[9];
  h.src = Ipv4{load32(p + 12)};
  h.dst = Ipv4{load32(p + 16)};
  return Ipv4Drop::None;
}

bool ipv4_parse_quoted(const uint8_t* p, size_t len, Ipv4Header& q) {
  if (len < IPV4_MIN_HEADER || (p[0] >> 4) != 4) return false;
  size_t ihl = size_t(p[0] & 0xf) * 4;
  if (ihl < IPV4_MIN_HEADER || len < ihl + 8) return false;
  q.header_len = ihl;
  q.protocol = p[9];
  q.src = Ipv4{load32(p + 12)};
  q.dst = Ipv4{load32(p + 16)};
  return true;
}

void ipv4_build(uint8_t* p, const Ipv4Header& h) {
  p[0] = 0x45;
  p[1] = h.tos;
  store16(p + 2, h.total_len);
  store16(p + 4, h.id);
  uint16_t frag = uint16_t(h.frag_offset / 8);
  if (h.dont_fragment) frag |= 0x4000;
  if (h.more_fragments) frag |= 0x2000;
  store16(p + 6, frag);
  p[8] = h.ttl;
  p[9] = h.protocol;
  store16(p + 10, 0);
  store32(p + 12, h.src.v);
  store32(p + 16, h.dst.v);
  store16(p + 10, checksum(p, IPV4_MIN_HEADER));
}

}  // namespace capsule::net
