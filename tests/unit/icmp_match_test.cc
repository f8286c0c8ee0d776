// Which ICMP sockets take an arriving message (net/inet/icmp_match.h):
// ping sockets their echo replies by identifier, raw sockets every message
// of their family less the filtered types, both by bound address.
#include <gtest/gtest.h>

#include "net/inet/icmp_match.h"

using namespace capsule::net;

namespace {

const IpAddr LO4 = IpAddr::mapped(0x7f000001);
const IpAddr OTHER4 = IpAddr::mapped(0x0a00020f);

IcmpTaker ping(bool v6, uint16_t ident, IpAddr bound = {}) {
  IcmpTaker t;
  t.v6 = v6, t.ident = ident, t.bound = bound;
  return t;
}

}  // namespace

TEST(IcmpMatch, PingTakesItsEchoReplies) {
  uint8_t reply[8] = {0, 0, 0, 0, 0x12, 0x34, 0, 1};
  EXPECT_TRUE(icmp_takes(ping(false, 0x1234), false, reply, 8, LO4));
  EXPECT_FALSE(icmp_takes(ping(false, 0x1235), false, reply, 8, LO4));  // another identifier
  EXPECT_FALSE(icmp_takes(ping(false, 0), false, reply, 8, LO4));       // none chosen yet
  EXPECT_FALSE(icmp_takes(ping(true, 0x1234), false, reply, 8, LO4));   // an ICMPv6 socket
  EXPECT_FALSE(icmp_takes(ping(false, 0x1234), false, reply, 7, LO4));  // too short for an identifier
  EXPECT_TRUE(icmp_takes(ping(false, 0x1234, LO4), false, reply, 8, LO4));
  EXPECT_FALSE(icmp_takes(ping(false, 0x1234, OTHER4), false, reply, 8, LO4));  // bound elsewhere
  uint8_t request[8] = {8, 0, 0, 0, 0x12, 0x34, 0, 1};
  EXPECT_FALSE(icmp_takes(ping(false, 0x1234), false, request, 8, LO4));
  uint8_t reply6[8] = {129, 0, 0, 0, 0x12, 0x34, 0, 1};
  EXPECT_TRUE(icmp_takes(ping(true, 0x1234), true, reply6, 8, IP6_LOOPBACK));
  EXPECT_FALSE(icmp_takes(ping(true, 0x1234), true, reply, 8, IP6_LOOPBACK));  // IPv4's reply type
}

TEST(IcmpMatch, RawFilters) {
  IcmpTaker raw;
  raw.raw = true;
  uint8_t m[8] = {8, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_TRUE(icmp_takes(raw, false, m, 8, LO4));
  EXPECT_FALSE(icmp_takes(raw, false, m, 3, LO4));  // shorter than a header's first word
  raw.filter[0] = 1u << 8;                          // ICMP_FILTER blocking echo requests
  EXPECT_FALSE(icmp_takes(raw, false, m, 8, LO4));
  m[0] = 0;
  EXPECT_TRUE(icmp_takes(raw, false, m, 8, LO4));
  m[0] = 40;  // IPv4 types above 31 always pass (Linux's icmp_filter)
  raw.filter[0] = ~0u;
  EXPECT_TRUE(icmp_takes(raw, false, m, 8, LO4));
  IcmpTaker raw6;
  raw6.raw = raw6.v6 = true;
  for (uint32_t& w : raw6.filter) w = ~0u;
  raw6.filter[129 >> 5] &= ~(1u << (129 & 31));  // pass echo replies only
  uint8_t na[8] = {136, 0, 0, 0, 0, 0, 0, 0}, rep[8] = {129, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_FALSE(icmp_takes(raw6, true, na, 8, IP6_LOOPBACK));
  EXPECT_TRUE(icmp_takes(raw6, true, rep, 8, IP6_LOOPBACK));
  EXPECT_FALSE(icmp_takes(raw6, false, rep, 8, LO4));  // not its family
}
