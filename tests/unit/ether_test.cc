// The Ethernet interface's input and output (net/include/net/ether.h) over
// a fake link: malformed frames are dropped and counted, ARP requests for
// our address are answered, IPv4 output resolves the next hop and sends
// what it held; random frames never crash (ASan/UBSan run these tests).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "net/ether.h"

using namespace capsule;
using namespace capsule::net;

namespace {

const uint8_t OUR_MAC[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
const uint8_t HOST_MAC[6] = {0x52, 0x55, 10, 0, 2, 2};
constexpr uint32_t OUR_IP = 0x0a00020f, HOST_IP = 0x0a000202;

std::vector<std::vector<uint8_t>> g_sent;
uint64_t g_now;
int g_resolving;

Result<void> capture(void*, const uint8_t* f, size_t n) {
  g_sent.emplace_back(f, f + n);
  return {};
}
uint64_t now() { return g_now; }
void on_resolving(void*) { ++g_resolving; }

struct Ether : ::testing::Test {
  EtherLink link{"eth0", {}, 1500, nullptr, capture, now, on_resolving};
  std::unique_ptr<EtherIf> eth;
  void SetUp() override {
    g_sent.clear();
    g_now = 0;
    g_resolving = 0;
    memcpy(link.mac, OUR_MAC, 6);
    eth = std::make_unique<EtherIf>(link);
    Ipv4Config c;
    c.addr = OUR_IP;
    c.prefix = 24;
    eth->set_config(c);
  }
};

std::vector<uint8_t> frame(const uint8_t* dst, uint16_t type, std::vector<uint8_t> payload) {
  std::vector<uint8_t> f(dst, dst + 6);
  f.insert(f.end(), HOST_MAC, HOST_MAC + 6);
  f.push_back(uint8_t(type >> 8));
  f.push_back(uint8_t(type));
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

std::vector<uint8_t> arp(uint16_t op, uint32_t spa, uint32_t tpa) {
  ether::ArpPacket a{op, {}, spa, {}, tpa};
  memcpy(a.sha.b, HOST_MAC, 6);
  if (op == ether::ARP_REPLY) memcpy(a.tha.b, OUR_MAC, 6);
  std::vector<uint8_t> b(ether::ARP_LEN);
  ether::arp_build(a, b.data());
  return b;
}

std::vector<std::vector<uint8_t>> g_up;
void up(void*, const uint8_t* p, size_t n) { g_up.emplace_back(p, p + n); }

}  // namespace

TEST_F(Ether, MalformedFramesAreCountedAndDropped) {
  const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const uint8_t other[6] = {0x52, 0x54, 0, 0, 0, 1};
  const uint8_t multicast[6] = {0x01, 0, 0x5e, 0, 0, 1};
  uint8_t tiny[13] = {};
  eth->input(tiny, sizeof tiny);  // shorter than a header
  eth->input(tiny, 0);
  eth->input(frame(other, ETHERTYPE_IPV4, {0x45}).data(), 15);
  eth->input(frame(multicast, ETHERTYPE_ARP, arp(1, HOST_IP, OUR_IP)).data(), 42);
  auto short_arp = frame(bcast, ETHERTYPE_ARP, arp(1, HOST_IP, OUR_IP));
  eth->input(short_arp.data(), short_arp.size() - 1);  // 27 bytes of ARP
  auto bad_arp = frame(bcast, ETHERTYPE_ARP, arp(1, HOST_IP, OUR_IP));
  bad_arp[14 + 4] = 8;  // hardware length 8
  eth->input(bad_arp.data(), bad_arp.size());
  eth->input(frame(OUR_MAC, 0x88cc, {0x02, 0, 0, 0}).data(), 18);  // LLDP: not spoken
  eth->input(frame(OUR_MAC, ETHERTYPE_IPV6, {0x60, 0, 0, 0}).data(), 18);  // 4 bytes of IPv6
  eth->input(frame(OUR_MAC, ETHERTYPE_IPV6, std::vector<uint8_t>(40, 0x45)).data(), 54);  // version 4
  eth->input(frame(OUR_MAC, ETHERTYPE_IPV4, {0x45, 0}).data(), 16);  // 2 bytes of IPv4
  eth->input(frame(OUR_MAC, ETHERTYPE_IPV4, std::vector<uint8_t>(20, 0x65)).data(), 34);  // version 6
  eth->input(frame(OUR_MAC, ETHERTYPE_IPV4, std::vector<uint8_t>(20, 0x42)).data(), 34);  // IHL 2 words
  // A frame to an IPv6 group (33:33:...) while nothing speaks IPv6: not ours.
  const uint8_t group[6] = {0x33, 0x33, 0, 0, 0, 1};
  eth->input(frame(group, ETHERTYPE_IPV6, std::vector<uint8_t>(40, 0x60)).data(), 54);
  EtherStats s = eth->stats();
  EXPECT_EQ(s.rx_frames, 13u);
  EXPECT_EQ(s.rx_short, 2u);
  EXPECT_EQ(s.rx_not_ours, 3u);
  EXPECT_EQ(s.rx_bad_arp, 2u);
  EXPECT_EQ(s.rx_no_protocol, 1u);
  EXPECT_EQ(s.rx_bad_ipv4, 3u);
  EXPECT_EQ(s.rx_bad_ipv6, 2u);
  EXPECT_TRUE(g_sent.empty());  // nothing answered
}

TEST_F(Ether, AnswersArpForItsAddressOnly) {
  const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  auto f = frame(bcast, ETHERTYPE_ARP, arp(ether::ARP_REQUEST, HOST_IP, OUR_IP + 1));
  eth->input(f.data(), f.size());
  EXPECT_TRUE(g_sent.empty());
  f = frame(bcast, ETHERTYPE_ARP, arp(ether::ARP_REQUEST, HOST_IP, OUR_IP));
  eth->input(f.data(), f.size());
  ASSERT_EQ(g_sent.size(), 1u);
  const auto& r = g_sent[0];
  ASSERT_EQ(r.size(), ETHER_MIN_FRAME);  // padded
  EXPECT_EQ(0, memcmp(r.data(), HOST_MAC, 6));
  EXPECT_EQ(0, memcmp(r.data() + 6, OUR_MAC, 6));
  ether::ArpPacket a;
  ASSERT_TRUE(ether::arp_parse(r.data() + 14, r.size() - 14, &a));
  EXPECT_EQ(a.op, ether::ARP_REPLY);
  EXPECT_EQ(a.spa, OUR_IP);
  EXPECT_EQ(a.tpa, HOST_IP);
  EXPECT_EQ(eth->stats().arp_replies_sent, 1u);
}

TEST_F(Ether, OutputResolvesAndSendsWhatItHeld) {
  std::vector<uint8_t> pkt(100, 0x45);
  EXPECT_EQ(eth->output_ipv4(HOST_IP, pkt.data(), pkt.size()).error(), Error::Again);
  EXPECT_EQ(g_resolving, 1);
  ASSERT_EQ(g_sent.size(), 1u);  // the request, broadcast
  EXPECT_EQ(g_sent[0][0], 0xff);
  EXPECT_EQ(g_sent[0][12], 0x08);
  EXPECT_EQ(g_sent[0][13], 0x06);
  auto f = frame(OUR_MAC, ETHERTYPE_ARP, arp(ether::ARP_REPLY, HOST_IP, OUR_IP));
  eth->input(f.data(), f.size());
  ASSERT_EQ(g_sent.size(), 2u);  // the held packet
  EXPECT_EQ(0, memcmp(g_sent[1].data(), HOST_MAC, 6));
  EXPECT_EQ(g_sent[1][13], 0x00);
  EXPECT_EQ(g_sent[1].size(), 14 + pkt.size());
  // Known now: straight out.
  EXPECT_TRUE(eth->output_ipv4(HOST_IP, pkt.data(), pkt.size()).ok());
  EXPECT_EQ(g_sent.size(), 3u);
  // Too long for the MTU.
  std::vector<uint8_t> big(1501);
  EXPECT_EQ(eth->output_ipv4(HOST_IP, big.data(), big.size()).error(), Error::Invalid);
  // Broadcast needs no ARP.
  EXPECT_TRUE(eth->output_ipv4(0x0a0002ff, pkt.data(), pkt.size()).ok());
  EXPECT_EQ(g_sent.back()[0], 0xff);
}

TEST_F(Ether, IPv4GoesUpAndDhcpRepliesToTheTap) {
  g_up.clear();
  std::vector<uint8_t> ip(28, 0);
  ip[0] = 0x45;
  ip[9] = 17;
  ip[22] = 0, ip[23] = 68;  // UDP to port 68
  auto f = frame(OUR_MAC, ETHERTYPE_IPV4, ip);
  eth->input(f.data(), f.size());
  EXPECT_EQ(eth->stats().rx_no_protocol, 1u);  // nothing above yet
  eth->set_ipv4_input(up, nullptr);
  eth->input(f.data(), f.size());
  EXPECT_EQ(g_up.size(), 1u);
  int tapped = 0;
  eth->set_dhcp_tap([](void* c, const uint8_t*, size_t) { ++*static_cast<int*>(c); }, &tapped);
  eth->input(f.data(), f.size());
  EXPECT_EQ(tapped, 1);
  EXPECT_EQ(g_up.size(), 1u);
}

TEST_F(Ether, RandomFramesNeverCrash) {
  std::mt19937 rng(12345);
  eth->set_ipv4_input(up, nullptr);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> f(rng() % 120);
    for (auto& b : f) b = uint8_t(rng());
    if (f.size() >= 14 && (i & 1)) {
      memcpy(f.data(), OUR_MAC, 6);
      f[12] = 0x08;
      f[13] = (i & 2) ? 0x06 : 0x00;
      if (f.size() > 15 && f[13] == 0x06) f[14] = 0, f[15] = 1;
    }
    eth->input(f.data(), f.size());
  }
  g_up.clear();
  EXPECT_EQ(eth->stats().rx_frames, 20000u);
}

// IPv6 (EtherType 0x86dd) goes up once something listens, and so do frames
// to IPv6 groups (33:33:..., RFC 2464 7); IPv4 multicast still does not.
TEST_F(Ether, Ipv6GoesUpWithItsGroups) {
  g_up.clear();
  std::vector<uint8_t> v6(48, 0);
  v6[0] = 0x60;
  v6[5] = 8;  // payload length
  const uint8_t group[6] = {0x33, 0x33, 0xff, 0x12, 0x34, 0x56};
  const uint8_t v4_group[6] = {0x01, 0, 0x5e, 0, 0, 1};
  auto unicast = frame(OUR_MAC, ETHERTYPE_IPV6, v6);
  auto to_group = frame(group, ETHERTYPE_IPV6, v6);
  eth->input(unicast.data(), unicast.size());
  EXPECT_EQ(eth->stats().rx_no_protocol, 1u);  // nothing above yet
  eth->set_ipv6_input(up, nullptr);
  eth->input(unicast.data(), unicast.size());
  eth->input(to_group.data(), to_group.size());
  eth->input(frame(v4_group, ETHERTYPE_IPV4, std::vector<uint8_t>(20, 0x45)).data(), 34);
  ASSERT_EQ(g_up.size(), 2u);
  EXPECT_EQ(g_up[0], v6);
  EXPECT_EQ(g_up[1], v6);
  EXPECT_EQ(eth->stats().rx_not_ours, 1u);
}
