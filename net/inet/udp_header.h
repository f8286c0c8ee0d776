#pragma once
// The UDP header (RFC 768): the checks a receiver makes. Pure: the host
// unit tests and the fuzz target (tests/fuzz/udp_fuzz.cc) compile it;
// udp_input (net/inet/udp.cc) delivers what it accepts.
#include <cstddef>
#include <cstdint>

#include "net/ip_addr.h"
#include "net/netif.h"

namespace capsule::net {

inline constexpr size_t UDP_HEADER = 8;

struct UdpHeader {
  uint16_t sport = 0, dport = 0;
  const uint8_t* data = nullptr;  // the payload: UDP length - 8 bytes
  size_t len = 0;
};

// Why a datagram was dropped (all counted as InErrors, udp(7)).
enum class UdpDrop : uint8_t { None, TooShort, BadLength, BadChecksum };

// Checks `len` bytes at p (the IP payload) sent from src to dst: a header,
// a UDP length of at least 8 and at most `len` (the bytes after it are
// ignored), and the checksum over the pseudo-header and the UDP length
// unless it is 0 (none sent). On success fills u.
UdpDrop udp_parse(const uint8_t* p, size_t len, Ipv4 src, Ipv4 dst, UdpHeader& u);
// Either family (an IPv4 one v4-mapped). Over IPv6 the checksum is
// mandatory (RFC 8200 8.1): a zero one is BadChecksum.
UdpDrop udp_parse(const uint8_t* p, size_t len, const IpAddr& src, const IpAddr& dst, UdpHeader& u);

}  // namespace capsule::net
