#pragma once
// The IPv4 layer inside net/ (docs/net.md): output for the transports,
// the protocols' input entries, ICMP errors, counters. Private to net/.
#include <atomic>

#include "net/inet/checksum.h"
#include "net/inet/ipv4_header.h"
#include "net/inet/ipv6_header.h"
#include "net/netif.h"

namespace capsule::net {

// Counters (/proc/net/snmp's Ip: and Icmp: lines, in spirit).
struct IpStats {
  std::atomic<uint64_t> in_receives{0}, in_hdr_errors{0}, in_addr_errors{0}, in_unknown_protos{0},
      in_delivers{0}, out_requests{0}, out_no_routes{0}, frag_creates{0}, reasm_oks{0}, reasm_fails{0},
      icmp_in{0}, icmp_out{0}, icmp_in_errors{0};
};
IpStats& ip_stats();

// /proc/net/snmp6's Ip6 and Icmp6 lines, in spirit.
struct Ip6Stats {
  std::atomic<uint64_t> in_receives{0}, in_hdr_errors{0}, in_addr_errors{0}, in_unknown_protos{0}, in_delivers{0},
      in_fragments_dropped{0}, reasm_oks{0}, reasm_fails{0}, frag_creates{0}, out_requests{0}, out_no_routes{0},
      icmp_in{0}, icmp_out{0}, icmp_in_errors{0}, nd_in{0}, nd_out{0};
};
Ip6Stats& ip6_stats();


// Sends a transport segment (its header at pkt.data(), room in front for
// the IP header) from src (IPV4_ANY: the route's) to dst. Datagrams
// larger than the interface's MTU are fragmented unless df. Errors:
// NetUnreach, MessageSize (df and too big), NoMemory.
Result<void> ip_output(PacketBuf pkt, Ipv4 src, Ipv4 dst, uint8_t proto, uint8_t ttl = IPV4_DEFAULT_TTL,
                       uint8_t tos = 0, bool df = false);

// A received datagram as the transports see it, either family: the
// addresses (IPv4 ones v4-mapped, net/ip_addr.h), the header that came
// (exactly one of v4, v6), the IP header bytes pulled before the
// transport header (to quote it in an ICMP error), the interface.
struct IpMeta {
  IpAddr src, dst;
  const Ipv4Header* v4 = nullptr;
  const Ipv6Header* v6 = nullptr;
  size_t header_len = 0;
  uint32_t nif = 0;  // the arriving interface's index (a link-local peer's scope)
};

// IPv6 output (net/inet/ipv6.cc): routes (scope: a link-local
// destination's interface), adds the 40-byte header (src any: the
// route's, unless `unspecified`: duplicate address detection sends from
// ::) and hands it to the interface, in fragments when it is larger
// than the link's MTU (RFC 8200 5). More than 65,535 bytes of payload is
// MessageSize. NetUnreach, NoMemory.
Result<void> ip6_output(PacketBuf pkt, const IpAddr& src, const IpAddr& dst, uint8_t proto,
                        uint8_t hops = IPV6_DEFAULT_HOPS, uint8_t tclass = 0, uint32_t scope = 0,
                        bool unspecified = false);
void ip6_input(Netif& nif, PacketBuf pkt);

// Either family, by the destination (a v4-mapped one goes out as IPv4).
inline Result<void> inet_output(PacketBuf pkt, const IpAddr& src, const IpAddr& dst, uint8_t proto, uint8_t ttl,
                                uint8_t tos, uint32_t scope = 0) {
  if (dst.is_v4())
    return ip_output(static_cast<PacketBuf&&>(pkt), Ipv4{src.wildcard() ? 0 : src.v4()}, Ipv4{dst.v4()}, proto, ttl, tos);
  return ip6_output(static_cast<PacketBuf&&>(pkt), src, dst, proto, ttl, tos, scope);
}
// The route toward dst, either family: the source address the host uses
// and the link's MTU. NetUnreach.
struct InetRoute {
  IpAddr src;
  uint32_t mtu = 0;
  uint32_t tso_max = 0;  // Netif::tso_max() (IPv4), tso6_max() (IPv6)
};
inline Result<InetRoute> inet_route(const IpAddr& dst, uint32_t scope = 0) {
  if (dst.is_v4()) {
    Route r = TRY(route_lookup(Ipv4{dst.v4()}));
    return InetRoute{IpAddr::mapped(r.src.v), r.nif->mtu(), r.nif->tso_max()};
  }
  Route6 r = TRY(route6_lookup(dst, scope));
  return InetRoute{r.src, r.nif->mtu(), r.nif->tso6_max()};
}
// The loopback address of dst's family: connect and send to a wildcard
// address mean this host (Linux).
inline IpAddr inet_this_host(const IpAddr& wild) { return wild.is_v4() ? IpAddr::mapped(0x7f000001) : IP6_LOOPBACK; }

// The TCP/UDP pseudo-header's sum of the family the addresses are in.
inline uint32_t csum_pseudo_ip(const IpAddr& src, const IpAddr& dst, uint8_t proto, uint32_t len) {
  if (dst.is_v4()) return csum_pseudo(src.v4(), dst.v4(), proto, uint16_t(len));
  return csum_pseudo6(src.b, dst.b, proto, len);
}

// A received transport segment: h is its datagram's header; pkt.data() is
// the transport header (IP header pulled), exactly the payload's length.
void icmp_input(Netif& nif, const Ipv4Header& h, PacketBuf pkt);
// UDP and TCP take either family (m says which).
void udp_input(Netif& nif, const IpMeta& m, PacketBuf pkt);
void tcp_input(Netif& nif, const IpMeta& m, PacketBuf pkt);
// ICMPv6 (net/inet/icmp6.cc): pkt.data() is the ICMPv6 message.
void icmp6_input(Netif& nif, const Ipv6Header& h, PacketBuf pkt);
// Neighbor Discovery (net/inet/nd.cc): a message of types 133-137
// (checksum checked).
void nd_input(Netif& nif, const Ipv6Header& h, PacketBuf pkt);

// An ICMP (v6: ICMPv6) message that came in, checksum checked, before the
// kernel acts on it: the ping sockets (an echo reply with their
// identifier) and raw sockets of its family (net/inet/icmp_socket.cc)
// get a copy; `head` is the IPv4 header a raw IPv4 socket reads first.
void icmp_sockets_input(bool v6, const IpAddr& src, const IpAddr& dst, uint32_t scope, uint8_t ttl, const uint8_t* head,
                        size_t head_len, const uint8_t* msg, size_t len);

// ICMP destination-unreachable codes (RFC 792).
inline constexpr uint8_t ICMP_NET_UNREACH = 0, ICMP_HOST_UNREACH = 1, ICMP_PROTO_UNREACH = 2, ICMP_PORT_UNREACH = 3,
                         ICMP_FRAG_NEEDED = 4;
// Sends destination-unreachable about the datagram whose header and
// payload start at `orig` (`len` bytes): the header and 8 bytes of it
// back to its source. Never about an ICMP error, a broadcast, or a
// fragment other than the first (RFC 1122 3.2.2).
void icmp_send_unreachable(const Ipv4Header& h, const uint8_t* orig, size_t len, uint8_t code);

// ICMPv6 error types and Destination Unreachable codes (RFC 4443 3).
inline constexpr uint8_t ICMP6_DEST_UNREACH = 1, ICMP6_PACKET_TOO_BIG = 2, ICMP6_TIME_EXCEEDED = 3,
                         ICMP6_PARAM_PROBLEM = 4;
inline constexpr uint8_t ICMP6_NO_ROUTE = 0, ICMP6_ADMIN_PROHIBITED = 1, ICMP6_ADDR_UNREACH = 3, ICMP6_PORT_UNREACH = 4;
// Sends an ICMPv6 error about the packet at `orig` (`len` bytes, header
// h): as much of it as fits in the minimum MTU (RFC 4443 2.4(c)). Never
// about an ICMPv6 error, a multicast destination or a source that is
// unspecified or multicast (2.4(e)).
// `nif` is the interface it came in by (the scope of a link-local source).
void icmp6_send_error(const Ipv6Header& h, const uint8_t* orig, size_t len, uint8_t type, uint8_t code,
                      uint32_t param, uint32_t nif);

// An ICMP error about a datagram we sent (its quoted source and
// destination, either family, and its first 8 transport bytes at `l4`):
// the transport learns of it.
void udp_icmp_error(const IpAddr& src, const IpAddr& dst, const uint8_t* l4, Error e);
void tcp_icmp_error(const IpAddr& src, const IpAddr& dst, const uint8_t* l4, Error e);

}  // namespace capsule::net
