// ICMP (RFC 792, RFC 1122 3.2.2): echo replies, destination-unreachable
// out for closed UDP ports and unknown protocols, and errors in handed to
// the transport that sent the datagram.
#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/ip.h"

namespace capsule::net {
namespace {

constexpr uint8_t ICMP_ECHO_REPLY = 0, ICMP_DEST_UNREACH = 3, ICMP_ECHO = 8;
constexpr size_t ICMP_HEADER = 8;

Error error_of_unreach(uint8_t code) {
  // RFC 1122 4.2.3.9 / Linux's icmp_err_convert.
  switch (code) {
    case ICMP_NET_UNREACH: return Error::NetUnreach;
    case ICMP_HOST_UNREACH: return Error::HostUnreach;
    case ICMP_PROTO_UNREACH: return Error::ProtoNotSupported;
    case ICMP_PORT_UNREACH: return Error::ConnRefused;
    case ICMP_FRAG_NEEDED: return Error::MessageSize;
    default: return Error::HostUnreach;
  }
}

}  // namespace

void icmp_input(Netif& nif, const Ipv4Header& h, PacketBuf pkt) {
  IpStats& st = ip_stats();
  st.icmp_in.fetch_add(1, std::memory_order_relaxed);
  if (pkt.size() < ICMP_HEADER || checksum(pkt.data(), pkt.size()) != 0) {
    st.icmp_in_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  uint8_t* p = pkt.data();
  if (const uint8_t* head = pkt.push(h.header_len)) {
    icmp_sockets_input(false, IpAddr::mapped(h.src.v), IpAddr::mapped(h.dst.v), nif.index(), h.ttl, head, h.header_len,
                       p, pkt.size() - h.header_len);
    pkt.pull(h.header_len);
  }
  if (p[0] == ICMP_ECHO) {
    // RFC 1122 3.2.2.6: the reply carries the request's data; not to a
    // broadcast request (Linux's icmp_echo_ignore_broadcasts).
    if (h.dst.broadcast() || !is_local_addr(h.dst)) return;
    p[0] = ICMP_ECHO_REPLY;
    store16(p + 2, 0);
    store16(p + 2, checksum(p, pkt.size()));
    st.icmp_out.fetch_add(1, std::memory_order_relaxed);
    (void)ip_output(static_cast<PacketBuf&&>(pkt), h.dst, h.src, IPPROTO_ICMP_, IPV4_DEFAULT_TTL, h.tos);
    return;
  }
  if (p[0] == ICMP_DEST_UNREACH) {
    // The quoted datagram: its header (checked) and 8 bytes of transport.
    Ipv4Header q;
    const uint8_t* orig = p + ICMP_HEADER;
    if (!ipv4_parse_quoted(orig, pkt.size() - ICMP_HEADER, q)) return;
    Error e = error_of_unreach(p[1]);
    const IpAddr qs = IpAddr::mapped(q.src.v), qd = IpAddr::mapped(q.dst.v);
    if (q.protocol == IPPROTO_UDP_) udp_icmp_error(qs, qd, orig + q.header_len, e);
    else if (q.protocol == IPPROTO_TCP_) tcp_icmp_error(qs, qd, orig + q.header_len, e);
  }
}

void icmp_send_unreachable(const Ipv4Header& h, const uint8_t* orig, size_t len, uint8_t code) {
  if (h.protocol == IPPROTO_ICMP_ && len > h.header_len && orig[h.header_len] != ICMP_ECHO &&
      orig[h.header_len] != ICMP_ECHO_REPLY)
    return;  // never an error about an error
  if (h.dst.broadcast() || h.dst.multicast() || h.frag_offset) return;
  size_t quote = h.header_len + 8;
  if (quote > len) quote = len;
  auto pkt = PacketBuf::alloc(ICMP_HEADER + quote);
  if (!pkt.ok()) return;
  uint8_t* p = pkt.value().data();
  p[0] = ICMP_DEST_UNREACH;
  p[1] = code;
  store16(p + 2, 0);
  store32(p + 4, 0);
  __builtin_memcpy(p + ICMP_HEADER, orig, quote);
  store16(p + 2, checksum(p, ICMP_HEADER + quote));
  ip_stats().icmp_out.fetch_add(1, std::memory_order_relaxed);
  (void)ip_output(static_cast<PacketBuf&&>(pkt.value()), h.dst, h.src, IPPROTO_ICMP_);
}

}  // namespace capsule::net
