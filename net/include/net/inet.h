#pragma once
// AF_INET sockets (net/inet/, docs/net.md; ip(7), udp(7), tcp(7)).
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
inline uint16_t inet_port(const Address& a) { return uint16_t(a.data[4] << 8 | a.data[5]); }

// One AF_INET socket as /proc/net/tcp and /proc/net/udp show it.
struct InetSockInfo {
  Ipv4 laddr, raddr;
  uint16_t lport = 0, rport = 0;
  uint8_t state = 0;  // Linux's numbering (include/net/tcp_states.h): 1 ESTABLISHED ... 7 CLOSE, 10 LISTEN
  uint32_t tx_queue = 0, rx_queue = 0;  // bytes queued; a listener's rx_queue: connections to accept
  uint64_t ino = 0;   // the descriptor's inode; 0 once no descriptor holds the socket
};
// TCP's listeners, then its connections (TIME_WAIT included), or UDP's
// bound sockets: the first `max` into out[]; returns how many it wrote.
size_t tcp_socket_list(InetSockInfo* out, size_t max);
size_t udp_socket_list(InetSockInfo* out, size_t max);

// socket(AF_INET, type, protocol): Stream is TCP, Dgram UDP. The protocol
// (0 or the type's own) was checked by the caller. NoMemory.
Result<SocketRef> inet_socket(SockType type);

}  // namespace capsule::net
