#pragma once
// The IPv4 layer inside net/ (docs/net.md): output for the transports,
// the protocols' input entries, ICMP errors, counters. Private to net/.
#include <atomic>

#include "net/inet/ipv4_header.h"
#include "net/netif.h"

namespace capsule::net {

// Counters (/proc/net/snmp's Ip: and Icmp: lines, in spirit).
struct IpStats {
  std::atomic<uint64_t> in_receives{0}, in_hdr_errors{0}, in_addr_errors{0}, in_unknown_protos{0},
      in_delivers{0}, out_requests{0}, out_no_routes{0}, frag_creates{0}, reasm_oks{0}, reasm_fails{0},
      icmp_in{0}, icmp_out{0}, icmp_in_errors{0};
};
IpStats& ip_stats();

// Sends a transport segment (its header at pkt.data(), room in front for
// the IP header) from src (IPV4_ANY: the route's) to dst. Datagrams
// larger than the interface's MTU are fragmented unless df. Errors:
// NetUnreach, MessageSize (df and too big), NoMemory.
Result<void> ip_output(PacketBuf pkt, Ipv4 src, Ipv4 dst, uint8_t proto, uint8_t ttl = IPV4_DEFAULT_TTL,
                       uint8_t tos = 0, bool df = false);

// A received transport segment: h is its datagram's header; pkt.data() is
// the transport header (IP header pulled), exactly the payload's length.
void icmp_input(Netif& nif, const Ipv4Header& h, PacketBuf pkt);
void udp_input(Netif& nif, const Ipv4Header& h, PacketBuf pkt);
void tcp_input(Netif& nif, const Ipv4Header& h, PacketBuf pkt);

// ICMP destination-unreachable codes (RFC 792).
inline constexpr uint8_t ICMP_NET_UNREACH = 0, ICMP_HOST_UNREACH = 1, ICMP_PROTO_UNREACH = 2, ICMP_PORT_UNREACH = 3,
                         ICMP_FRAG_NEEDED = 4;
// Sends destination-unreachable about the datagram whose header and
// payload start at `orig` (`len` bytes): the header and 8 bytes of it
// back to its source. Never about an ICMP error, a broadcast, or a
// fragment other than the first (RFC 1122 3.2.2).
void icmp_send_unreachable(const Ipv4Header& h, const uint8_t* orig, size_t len, uint8_t code);

// An ICMP error about a datagram we sent (the quoted header `h` and its
// first 8 payload bytes at `l4`): the transport learns of it.
void udp_icmp_error(const Ipv4Header& h, const uint8_t* l4, Error e);
void tcp_icmp_error(const Ipv4Header& h, const uint8_t* l4, Error e);

}  // namespace capsule::net
