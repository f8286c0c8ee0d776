#pragma once
// DHCP messages [RFC 2131 §2, §4.3; options RFC 2132]: what the client
// (dhcp_client.cc) sends and reads. Pure logic, host-tested
// (tests/unit/dhcp_test.cc).
#include <cstddef>
#include <cstdint>

namespace capsule::net::ether {

inline constexpr uint16_t DHCP_SERVER_PORT = 67, DHCP_CLIENT_PORT = 68;
inline constexpr size_t DHCP_FIXED = 236;   // op .. file, before the magic cookie
inline constexpr size_t DHCP_MAX_MSG = 576; // what a client must accept [RFC 2131 §2]

enum DhcpType : uint8_t {
  DHCP_DISCOVER = 1, DHCP_OFFER = 2, DHCP_REQUEST = 3, DHCP_DECLINE = 4,
  DHCP_ACK = 5, DHCP_NAK = 6, DHCP_RELEASE = 7,
};

// What a server's reply says, addresses in host order (0: absent).
struct DhcpReply {
  uint8_t type = 0;
  uint32_t xid = 0;
  uint8_t chaddr[6] = {};
  uint32_t yiaddr = 0;       // the address offered
  uint32_t server_id = 0;    // option 54
  uint32_t subnet_mask = 0;  // option 1
  uint32_t router = 0;       // option 3, the first
  uint32_t dns[2] = {};      // option 6, the first two
  uint32_t lease_s = 0;      // option 51
  char domain[64] = {};      // option 15, NUL-terminated
};

// Parses a BOOTREPLY (the UDP payload). False when it is shorter than the
// fixed part, not a reply, lacks the magic cookie or the message type, or
// an option runs past the end.
bool dhcp_parse(const uint8_t* p, size_t n, DhcpReply* out);

// Writes a DISCOVER (requested == 0, server == 0) or a REQUEST for
// `requested` from `server` (selecting state [RFC 2131 §4.3.2]) into
// `out` (at least DHCP_MAX_MSG bytes); returns its length. The broadcast
// flag is set: the client has no address to be answered at yet.
size_t dhcp_build(uint8_t type, uint32_t xid, const uint8_t mac[6], uint32_t requested, uint32_t server,
                  uint8_t* out);

// The prefix length of a contiguous netmask; -1 when it is not one.
int netmask_prefix(uint32_t mask);

}  // namespace capsule::net::ether
