#pragma once
// AF_NETLINK sockets (linux/netlink_socket.cc, linux/netlink_route.cc;
// docs/net.md, "Netlink"). Netlink's wire format is Linux's own, so the
// family lives here rather than in net/: NETLINK_ROUTE answers the
// requests getifaddrs(), if_nameindex(), glibc's AI_ADDRCONFIG and
// iproute2 make (links, addresses, routes), read from net/'s interfaces.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "net/socket.h"

namespace capsule::linux_abi {

inline constexpr int L_AF_NETLINK = 16;
inline constexpr int L_SOL_NETLINK = 270;
inline constexpr size_t SOCKADDR_NL = 12;  // sizeof(struct sockaddr_nl)

// socket(AF_NETLINK, type, protocol): SOCK_RAW or SOCK_DGRAM
// (ESOCKTNOSUPPORT otherwise), NETLINK_ROUTE (EPROTONOSUPPORT for the
// other protocols).
Result<net::SocketRef> netlink_socket(int type, int protocol);

// A sockaddr_nl as net's Address and back: fewer than 12 bytes or another
// family is EINVAL.
Result<void> parse_netlink_addr(const uint8_t* buf, size_t len, net::Address& a);
size_t encode_netlink_addr(const net::Address& a, uint8_t* buf);

// The socket's protocol (SO_PROTOCOL) and type as created (SO_TYPE:
// SOCK_RAW or SOCK_DGRAM, which behave the same).
int netlink_protocol(net::Socket& s);
int netlink_sock_type(net::Socket& s);
// SOL_NETLINK options (NETLINK_PKTINFO, NETLINK_CAP_ACK, NETLINK_EXT_ACK,
// NETLINK_GET_STRICT_CHK, memberships...): NoProtoOpt for unknown ones.
Result<void> netlink_setsockopt(net::Socket& s, int optname, int value);
Result<int> netlink_getsockopt(net::Socket& s, int optname);

}  // namespace capsule::linux_abi
