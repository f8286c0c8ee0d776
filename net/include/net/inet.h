#pragma once
// AF_INET and AF_INET6 sockets (net/inet/, docs/net.md; ip(7), ipv6(7),
// udp(7), tcp(7)).
#include "net/netif.h"
#include "net/socket.h"

namespace capsule::net {

// An AF_INET address in Address's bytes: the IPv4 address (host order
// in Ipv4) and the port (host order), len INET_ADDRESS_LEN.
inline constexpr uint16_t INET_ADDRESS_LEN = 6;
inline void inet_address(Address& a, Ipv4 ip, uint16_t port) {
  a.family = Family::Inet;
  a.len = INET_ADDRESS_LEN;
  a.data[0] = uint8_t(ip.v >> 24), a.data[1] = uint8_t(ip.v >> 16), a.data[2] = uint8_t(ip.v >> 8), a.data[3] = uint8_t(ip.v);
  a.data[4] = uint8_t(port >> 8), a.data[5] = uint8_t(port);
}
inline Ipv4 inet_ip(const Address& a) {
  return Ipv4{uint32_t(a.data[0]) << 24 | uint32_t(a.data[1]) << 16 | uint32_t(a.data[2]) << 8 | a.data[3]};
}
// An AF_INET6 address: the 16 bytes, the port (host order) and the
// scope id (sin6_scope_id: a link-local address's interface), len
// INET6_ADDRESS_LEN.
inline constexpr uint16_t INET6_ADDRESS_LEN = 22;
inline void inet6_address(Address& a, const IpAddr& ip, uint16_t port, uint32_t scope = 0) {
  a.family = Family::Inet6;
  a.len = INET6_ADDRESS_LEN;
  for (int i = 0; i < 16; ++i) a.data[i] = ip.b[i];
  a.data[16] = uint8_t(port >> 8), a.data[17] = uint8_t(port);
  a.data[18] = uint8_t(scope >> 24), a.data[19] = uint8_t(scope >> 16), a.data[20] = uint8_t(scope >> 8),
  a.data[21] = uint8_t(scope);
}
inline uint16_t inet_port(const Address& a) {
  if (a.family == Family::Inet6) return uint16_t(a.data[16] << 8 | a.data[17]);
  return uint16_t(a.data[4] << 8 | a.data[5]);
}
inline uint32_t inet6_scope(const Address& a) {
  return uint32_t(a.data[18]) << 24 | uint32_t(a.data[19]) << 16 | uint32_t(a.data[20]) << 8 | a.data[21];
}
// Either family's address as an IpAddr: IPv4 v4-mapped, its wildcard ::.
inline IpAddr inet_ipaddr(const Address& a) {
  IpAddr r;
  if (a.family == Family::Inet6) {
    for (int i = 0; i < 16; ++i) r.b[i] = a.data[i];
    return r;
  }
  Ipv4 v = inet_ip(a);
  return v.any() ? IP6_ANY : IpAddr::mapped(v.v);
}
// A socket's name in its family `f`: an AF_INET socket's address is IPv4
// (a wildcard is 0.0.0.0), an AF_INET6 one's as it is (:: for a wildcard).
inline void inet_name(Address& out, Family f, const IpAddr& ip, uint16_t port, uint32_t scope = 0) {
  if (f == Family::Inet) inet_address(out, Ipv4{ip.wildcard() ? 0 : ip.v4()}, port);
  else inet6_address(out, ip.is_v4() && ip.v4() == 0 ? IP6_ANY : ip, port, ip.link_local6() ? scope : 0);
}

// One socket as /proc/net/tcp{,6} and /proc/net/udp{,6} show it.
struct InetSockInfo {
  bool v6 = false;  // an AF_INET6 socket (listed in tcp6/udp6)
  IpAddr laddr, raddr;
  uint16_t lport = 0, rport = 0;
  uint8_t state = 0;  // Linux's numbering (include/net/tcp_states.h): 1 ESTABLISHED ... 7 CLOSE, 10 LISTEN
  uint32_t tx_queue = 0, rx_queue = 0;  // bytes queued; a listener's rx_queue: connections to accept
  uint64_t ino = 0;   // the descriptor's inode; 0 once no descriptor holds the socket
};
// TCP's listeners, then its connections (TIME_WAIT included), or UDP's
// bound sockets: the first `max` into out[]; returns how many it wrote.
size_t tcp_socket_list(InetSockInfo* out, size_t max);
size_t udp_socket_list(InetSockInfo* out, size_t max);

// socket(AF_INET or AF_INET6, type, protocol): Stream is TCP, Dgram UDP,
// or with `icmp` a ping socket; Raw a raw ICMP (ICMPv6) socket. The
// protocol and the caller's privilege were checked by the caller. NoMemory.
Result<SocketRef> inet_socket(SockType type, Family family = Family::Inet, bool icmp = false);

}  // namespace capsule::net
