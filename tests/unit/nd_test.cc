// Neighbor Discovery's pure logic (net/inet/nd_message.cc, RFC 4861, RFC
// 4862, RFC 2464): message checks, options, building, and the addresses
// SLAAC forms; what malformed input gets.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "net/byte_order.h"
#include "net/inet/nd_message.h"

using namespace capsule::net;

namespace {

const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const IpAddr LL_ROUTER{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
const IpAddr GLOBAL{{0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x15}};

// QEMU's user network's advertisement, in shape: lifetime 1800 s, a source
// link-layer address, the prefix fec0::/64 (on-link, autonomous), RDNSS.
std::vector<uint8_t> router_advert() {
  std::vector<uint8_t> p(16, 0);
  p[0] = ND_ROUTER_ADVERT;
  p[4] = 64;
  store16(p.data() + 6, 1800);
  store32(p.data() + 8, 25000), store32(p.data() + 12, 500);  // ReachableTime, RetransTimer (ms)
  const uint8_t slla[8] = {1, 1, 0x52, 0x55, 0x0a, 0, 2, 2};
  p.insert(p.end(), slla, slla + 8);
  std::vector<uint8_t> pi(32, 0);
  pi[0] = 3, pi[1] = 4, pi[2] = 64, pi[3] = 0xc0;
  store32(pi.data() + 4, 86400), store32(pi.data() + 8, 14400);
  pi[16] = 0xfe, pi[17] = 0xc0;
  p.insert(p.end(), pi.begin(), pi.end());
  std::vector<uint8_t> dns(24, 0);
  dns[0] = 25, dns[1] = 3;
  store32(dns.data() + 4, 3600);
  dns[8] = 0xfe, dns[9] = 0xc0, dns[23] = 3;
  p.insert(p.end(), dns.begin(), dns.end());
  return p;
}

TEST(NdMessage, RouterAdvertisement) {
  auto p = router_advert();
  NdMessage m;
  ASSERT_EQ(nd_parse(p.data(), p.size(), 255, LL_ROUTER, IP6_ALL_NODES, m), NdDrop::None);
  EXPECT_EQ(m.type, ND_ROUTER_ADVERT);
  EXPECT_EQ(m.router_lifetime, 1800);
  EXPECT_EQ(m.cur_hop_limit, 64);
  EXPECT_TRUE(m.has_slla);
  EXPECT_EQ(m.slla[5], 2);
  ASSERT_EQ(m.nprefixes, 1);
  EXPECT_EQ(m.prefixes[0].len, 64);
  EXPECT_TRUE(m.prefixes[0].on_link && m.prefixes[0].autonomous);
  EXPECT_EQ(m.prefixes[0].valid, 86400u);
  EXPECT_EQ(m.prefixes[0].preferred, 14400u);
  EXPECT_EQ(m.prefixes[0].prefix.b[0], 0xfe);
  EXPECT_EQ(m.prefixes[0].prefix.b[1], 0xc0);
  ASSERT_EQ(m.ndns, 1);
  EXPECT_EQ(m.dns[0].b[15], 3);
  EXPECT_EQ(m.dns_lifetime[0], 3600u);
  EXPECT_EQ(m.reachable_ms, 25000u);
  EXPECT_EQ(m.retrans_ms, 500u);
}

TEST(NdMessage, ChecksOfRfc4861) {
  auto p = router_advert();
  NdMessage m;
  // It crossed a router; a non-zero code; a source that is not link-local.
  EXPECT_EQ(nd_parse(p.data(), p.size(), 64, LL_ROUTER, IP6_ALL_NODES, m), NdDrop::HopLimit);
  p[1] = 1;
  EXPECT_EQ(nd_parse(p.data(), p.size(), 255, LL_ROUTER, IP6_ALL_NODES, m), NdDrop::Code);
  p[1] = 0;
  EXPECT_EQ(nd_parse(p.data(), p.size(), 255, GLOBAL, IP6_ALL_NODES, m), NdDrop::BadSource);
  // An option of length 0, one running past the end, an SLLA of 2 units.
  auto z = p;
  z[17] = 0;
  EXPECT_EQ(nd_parse(z.data(), z.size(), 255, LL_ROUTER, IP6_ALL_NODES, m), NdDrop::BadOption);
  auto past = p;
  past[17] = 40;
  EXPECT_EQ(nd_parse(past.data(), past.size(), 255, LL_ROUTER, IP6_ALL_NODES, m), NdDrop::BadOption);
  // Too short for its type; not ND at all.
  EXPECT_EQ(nd_parse(p.data(), 15, 255, LL_ROUTER, IP6_ALL_NODES, m), NdDrop::TooShort);
  uint8_t echo[8] = {128, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(nd_parse(echo, 8, 255, LL_ROUTER, IP6_ALL_NODES, m), NdDrop::NotNd);
  // Every truncation: never accepted past what it says, never read past (ASan).
  for (size_t n = 0; n < p.size(); ++n) {
    std::vector<uint8_t> cut(p.begin(), p.begin() + long(n));
    NdMessage c;
    NdDrop d = nd_parse(cut.data(), cut.size(), 255, LL_ROUTER, IP6_ALL_NODES, c);
    // Cutting exactly between options leaves a valid shorter message.
    if (n == 16 || n == 24 || n == 56) EXPECT_EQ(d, NdDrop::None) << n;
    else EXPECT_NE(d, NdDrop::None) << n;
  }
}

TEST(NdMessage, SolicitationAndAdvertisementRoundTrip) {
  uint8_t b[32];
  size_t n = nd_build_ns(b, GLOBAL, MAC);
  ASSERT_EQ(n, 32u);
  NdMessage m;
  ASSERT_EQ(nd_parse(b, n, 255, LL_ROUTER, solicited_node(GLOBAL), m), NdDrop::None);
  EXPECT_EQ(m.type, ND_NEIGHBOR_SOLICIT);
  EXPECT_EQ(m.target, GLOBAL);
  EXPECT_TRUE(m.has_slla);
  EXPECT_EQ(std::memcmp(m.slla, MAC, 6), 0);
  // DAD's solicitation comes from :: and must not carry the option.
  EXPECT_EQ(nd_parse(b, n, 255, IP6_ANY, solicited_node(GLOBAL), m), NdDrop::BadOption);
  EXPECT_EQ(nd_parse(b, 24, 255, IP6_ANY, solicited_node(GLOBAL), m), NdDrop::None);

  n = nd_build_na(b, GLOBAL, MAC, true);
  ASSERT_EQ(n, 32u);
  ASSERT_EQ(nd_parse(b, n, 255, GLOBAL, LL_ROUTER, m), NdDrop::None);
  EXPECT_EQ(m.type, ND_NEIGHBOR_ADVERT);
  EXPECT_TRUE(m.solicited && m.override_ && !m.router);
  EXPECT_TRUE(m.has_tlla);
  EXPECT_EQ(std::memcmp(m.tlla, MAC, 6), 0);
  // A solicited advertisement to a group, a multicast target: dropped.
  EXPECT_EQ(nd_parse(b, n, 255, GLOBAL, IP6_ALL_NODES, m), NdDrop::BadTarget);
  n = nd_build_ns(b, IP6_ALL_NODES, MAC);
  EXPECT_EQ(nd_parse(b, n, 255, LL_ROUTER, IP6_ALL_NODES, m), NdDrop::BadTarget);

  n = nd_build_rs(b, MAC);
  ASSERT_EQ(n, 16u);
  ASSERT_EQ(nd_parse(b, n, 255, LL_ROUTER, IP6_ALL_ROUTERS, m), NdDrop::None);
  EXPECT_EQ(m.type, ND_ROUTER_SOLICIT);
  EXPECT_TRUE(m.has_slla);
}

TEST(NdMessage, Addresses) {
  // RFC 4291 appendix A: 52:54:00:12:34:56 -> 5054:00ff:fe12:3456.
  IpAddr ll = eui64_address(IpAddr{{0xfe, 0x80}}, MAC);
  const IpAddr want{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56}};
  EXPECT_EQ(ll, want);
  EXPECT_TRUE(ll.link_local6());
  IpAddr g = eui64_address(IpAddr{{0xfe, 0xc0}}, MAC);
  EXPECT_EQ(g.b[1], 0xc0);
  EXPECT_EQ(g.b[8], 0x50);
  // ff02::1:ff12:3456 and its MAC 33:33:ff:12:34:56.
  IpAddr sn = solicited_node(ll);
  const IpAddr want_sn{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0x12, 0x34, 0x56}};
  EXPECT_EQ(sn, want_sn);
  uint8_t mac[6];
  multicast_mac(sn, mac);
  const uint8_t want_mac[6] = {0x33, 0x33, 0xff, 0x12, 0x34, 0x56};
  EXPECT_EQ(std::memcmp(mac, want_mac, 6), 0);
}

}  // namespace
