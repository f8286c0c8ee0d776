// UDP header checks (net/inet/udp_header.h, RFC 768).
#include "net/inet/udp_header.h"

#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/ipv4_header.h"

namespace capsule::net {

UdpDrop udp_parse(const uint8_t* p, size_t len, Ipv4 src, Ipv4 dst, UdpHeader& u) {
  if (len < UDP_HEADER) return UdpDrop::TooShort;
  uint16_t ulen = load16(p + 4);
  if (ulen < UDP_HEADER || ulen > len) return UdpDrop::BadLength;
  // RFC 768: a zero checksum means none was sent.
  if (load16(p + 6) && csum_fold(csum_add(csum_pseudo(src.v, dst.v, IPPROTO_UDP_, ulen), p, ulen)) != 0)
    return UdpDrop::BadChecksum;
  u.sport = load16(p);
  u.dport = load16(p + 2);
  u.data = p + UDP_HEADER;
  u.len = ulen - UDP_HEADER;
  return UdpDrop::None;
}

}  // namespace capsule::net
