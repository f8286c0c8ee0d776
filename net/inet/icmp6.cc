// ICMPv6 (RFC 4443): echo replies, errors out (an unreachable UDP port, an
// unknown next header) and errors in, handed to the transport that sent
// the quoted packet. Neighbor Discovery's messages go to nd_input
// (net/inet/nd.cc).
#include "net/byte_order.h"
#include "net/inet/ip.h"

namespace capsule::net {
namespace {

constexpr uint8_t ICMP6_ECHO_REQUEST = 128, ICMP6_ECHO_REPLY = 129;
constexpr size_t ICMP6_HEADER = 8;
constexpr size_t IPV6_MIN_MTU = 1280;  // RFC 8200 5

// Linux's icmpv6_err_convert.
Error error_of(uint8_t type, uint8_t code) {
  if (type == ICMP6_PACKET_TOO_BIG) return Error::MessageSize;
  if (type == ICMP6_PARAM_PROBLEM) return code == 1 ? Error::ProtoNotSupported : Error::HostUnreach;  // an unknown next header is IPv4's protocol unreachable
  if (type == ICMP6_TIME_EXCEEDED) return Error::HostUnreach;
  switch (code) {
    case ICMP6_NO_ROUTE: return Error::NetUnreach;
    case ICMP6_ADMIN_PROHIBITED: return Error::AccessDenied;
    case ICMP6_PORT_UNREACH: return Error::ConnRefused;
    default: return Error::HostUnreach;
  }
}

uint16_t icmp6_checksum(const IpAddr& src, const IpAddr& dst, const uint8_t* p, size_t len) {
  return csum_fold(csum_add(csum_pseudo6(src.b, dst.b, IP6_ICMPV6, uint32_t(len)), p, len));
}

}  // namespace

void icmp6_input(Netif& nif, const Ipv6Header& h, PacketBuf pkt) {
  Ip6Stats& st = ip6_stats();
  st.icmp_in.fetch_add(1, std::memory_order_relaxed);
  if (pkt.size() < ICMP6_HEADER || icmp6_checksum(h.src, h.dst, pkt.data(), pkt.size()) != 0) {
    st.icmp_in_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  uint8_t* p = pkt.data();
  const uint8_t type = p[0];
  icmp_sockets_input(true, h.src, h.dst, nif.index(), h.hop_limit, nullptr, 0, p, pkt.size());
  if (type == ICMP6_ECHO_REQUEST) {
    // RFC 4443 4.2: the reply carries the request's identifier, sequence
    // and data; to a multicast request it comes from a unicast address.
    IpAddr src = h.dst.multicast6() ? IP6_ANY : h.dst;
    p[0] = ICMP6_ECHO_REPLY;
    store16(p + 2, 0);
    auto r = route6_lookup(h.src, nif.index());
    if (!r.ok()) return;
    if (src.any()) src = r.value().src;
    store16(p + 2, icmp6_checksum(src, h.src, p, pkt.size()));
    st.icmp_out.fetch_add(1, std::memory_order_relaxed);
    (void)ip6_output(static_cast<PacketBuf&&>(pkt), src, h.src, IP6_ICMPV6, IPV6_DEFAULT_HOPS, h.tclass, nif.index());
    return;
  }
  if (type >= ICMP6_DEST_UNREACH && type <= ICMP6_PARAM_PROBLEM) {
    Ipv6Header q;
    const uint8_t* orig = p + ICMP6_HEADER;
    if (!ipv6_parse_quoted(orig, pkt.size() - ICMP6_HEADER, q)) return;
    Error e = error_of(type, p[1]);
    if (q.proto == IPPROTO_UDP_) udp_icmp_error(q.src, q.dst, orig + q.header_len, e);
    else if (q.proto == IPPROTO_TCP_) tcp_icmp_error(q.src, q.dst, orig + q.header_len, e);
    return;
  }
  if (type >= 133 && type <= 137) return nd_input(nif, h, static_cast<PacketBuf&&>(pkt));
  // Other informational messages are dropped (RFC 4443 2.4(b)).
}

void icmp6_send_error(const Ipv6Header& h, const uint8_t* orig, size_t len, uint8_t type, uint8_t code,
                      uint32_t param, uint32_t nif) {
  // RFC 4443 2.4(e): never about an error message, a multicast
  // destination (but Packet Too Big) or a source that does not name one node.
  if (h.proto == IP6_ICMPV6 && len > h.header_len && orig[h.header_len] < 128) return;
  if (h.dst.multicast6() && type != ICMP6_PACKET_TOO_BIG) return;
  if (h.src.any() || h.src.multicast6()) return;
  size_t quote = IPV6_MIN_MTU - IPV6_HEADER - ICMP6_HEADER;  // 2.4(c): as much as fits in the minimum MTU
  if (quote > len) quote = len;
  auto pkt = PacketBuf::alloc(ICMP6_HEADER + quote);
  if (!pkt.ok()) return;
  auto r = route6_lookup(h.src, nif);
  if (!r.ok()) return;
  const IpAddr src = is_local_addr6(h.dst) ? h.dst : r.value().src;
  uint8_t* p = pkt.value().data();
  p[0] = type;
  p[1] = code;
  store16(p + 2, 0);
  store32(p + 4, param);
  __builtin_memcpy(p + ICMP6_HEADER, orig, quote);
  store16(p + 2, icmp6_checksum(src, h.src, p, ICMP6_HEADER + quote));
  ip6_stats().icmp_out.fetch_add(1, std::memory_order_relaxed);
  (void)ip6_output(static_cast<PacketBuf&&>(pkt.value()), src, h.src, IP6_ICMPV6, IPV6_DEFAULT_HOPS, 0, nif);
}

}  // namespace capsule::net
