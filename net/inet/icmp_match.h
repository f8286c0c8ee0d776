#pragma once
// Which ICMP sockets take an arriving ICMP message (docs/net.md "Ping and
// raw sockets"). Pure: icmp_socket.cc asks it for each socket under the
// table's lock; the unit tests and fuzz.ipv4 call it directly.
#include <cstddef>
#include <cstdint>

#include "net/ip_addr.h"

namespace capsule::net {

// What a socket wants, as the table sees it.
struct IcmpTaker {
  bool v6 = false;   // an AF_INET6 socket (ICMPv6), else ICMP
  bool raw = false;  // a raw socket, else a ping socket
  uint16_t ident = 0;        // a ping socket's identifier (0: none yet: takes nothing)
  IpAddr bound;              // its address; a wildcard takes any destination
  uint32_t filter[8] = {};   // raw: ICMP_FILTER (word 0, types 0-31) / ICMP6_FILTER; a set bit blocks
};

inline constexpr uint8_t ICMP_ECHO_REPLY_TYPE = 0, ICMP6_ECHO_REPLY_TYPE = 129;

// Does taker t take the message (len bytes at msg, of family v6) sent to dst?
// A ping socket: an echo reply with its identifier; a raw socket: any
// message of its family whose type its filter lets through (an IPv4
// type above 31 always passes, as Linux's icmp_filter); both only when
// bound to dst or a wildcard. Shorter than 4 bytes: no one.
inline bool icmp_takes(const IcmpTaker& t, bool v6, const uint8_t* msg, size_t len, const IpAddr& dst) {
  if (len < 4 || t.v6 != v6) return false;
  const uint8_t type = msg[0];
  if (!t.bound.wildcard() && t.bound != dst) return false;
  if (!t.raw) {
    if (len < 8 || !t.ident) return false;
    const uint16_t id = uint16_t(msg[4] << 8 | msg[5]);
    return id == t.ident && type == (v6 ? ICMP6_ECHO_REPLY_TYPE : ICMP_ECHO_REPLY_TYPE);
  }
  if (!v6 && type >= 32) return true;
  return !(t.filter[type >> 5] >> (type & 31) & 1);
}

}  // namespace capsule::net
