// UDP header checks (net/inet/udp_header.h, RFC 768).
#include "net/inet/udp_header.h"

#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/ipv4_header.h"

namespace capsule::net {

UdpDrop udp_parse(const uint8_t* p, size_t len, Ipv4 src, Ipv4 dst, UdpHeader& u) {
  return udp_parse(p, len, IpAddr::mapped(src.v), IpAddr::mapped(dst.v), u);
}

UdpDrop udp_parse(const uint8_t* p, size_t len, const IpAddr& src, const IpAddr& dst, UdpHeader& u) {
  if (len < UDP_HEADER) return UdpDrop::TooShort;
  uint16_t ulen = load16(p + 4);
  if (ulen < UDP_HEADER || ulen > len) return UdpDrop::BadLength;
  const bool v4 = dst.is_v4();
  if (!v4 && load16(p + 6) == 0) return UdpDrop::BadChecksum;
  // RFC 768: a zero checksum means none was sent (IPv4 only).
  const uint32_t pseudo = v4 ? csum_pseudo(src.v4(), dst.v4(), IPPROTO_UDP_, ulen)
                             : csum_pseudo6(src.b, dst.b, IPPROTO_UDP_, ulen);
  if (load16(p + 6) && csum_fold(csum_add(pseudo, p, ulen)) != 0) return UdpDrop::BadChecksum;
  u.sport = load16(p);
  u.dport = load16(p + 2);
  u.data = p + UDP_HEADER;
  u.len = ulen - UDP_HEADER;
  return UdpDrop::None;
}

}  // namespace capsule::net
