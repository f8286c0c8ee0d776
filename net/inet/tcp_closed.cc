// TCP before the state machine: every segment finds no connection, and
// RFC 793 (p. 36, "If the connection does not exist (CLOSED)") answers a
// reset to anything but a reset.
#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/ip.h"

namespace capsule::net {

void tcp_input(Netif&, const Ipv4Header& h, PacketBuf pkt) {
  const uint8_t* p = pkt.data();
  if (pkt.size() < 20) return;
  size_t doff = size_t(p[12] >> 4) * 4;
  if (doff < 20 || doff > pkt.size()) return;
  if (csum_fold(csum_add(csum_pseudo(h.src.v, h.dst.v, IPPROTO_TCP_, uint16_t(pkt.size())), p, pkt.size())) != 0) return;
  const uint8_t flags = p[13];
  if (flags & 0x04) return;  // RST: never answered
  uint32_t seq = load32(p + 4), ack = load32(p + 8);
  uint32_t seglen = uint32_t(pkt.size() - doff) + ((flags & 0x02) ? 1 : 0) + ((flags & 0x01) ? 1 : 0);
  auto r = PacketBuf::alloc(20);
  if (!r.ok()) return;
  uint8_t* o = r.value().data();
  __builtin_memset(o, 0, 20);
  store16(o, load16(p + 2));
  store16(o + 2, load16(p));
  if (flags & 0x10) {
    store32(o + 4, ack);  // <SEQ=SEG.ACK><CTL=RST>
    o[13] = 0x04;
  } else {
    store32(o + 8, seq + seglen);  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    o[13] = 0x14;
  }
  o[12] = 5 << 4;
  store16(o + 16, csum_fold(csum_add(csum_pseudo(h.dst.v, h.src.v, IPPROTO_TCP_, 20), o, 20)));
  (void)ip_output(static_cast<PacketBuf&&>(r.value()), h.dst, h.src, IPPROTO_TCP_);
}

void tcp_icmp_error(const Ipv4Header&, const uint8_t*, Error) {}

}  // namespace capsule::net
