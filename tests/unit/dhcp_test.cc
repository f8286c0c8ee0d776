// DHCP messages (net/ether/dhcp_message.h): what the client sends, and
// what it makes of good, short, foreign and malformed replies.
#include <gtest/gtest.h>

#include <vector>

#include "net/ether/dhcp_message.h"

using namespace capsule::net::ether;

namespace {

const uint8_t MAC[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};

// A BOOTREPLY as QEMU's user networking sends it, with `opts` after the cookie.
std::vector<uint8_t> reply(std::vector<uint8_t> opts, uint32_t xid = 0x11223344) {
  std::vector<uint8_t> m(DHCP_FIXED, 0);
  m[0] = 2;
  m[1] = 1;
  m[2] = 6;
  m[4] = uint8_t(xid >> 24), m[5] = uint8_t(xid >> 16), m[6] = uint8_t(xid >> 8), m[7] = uint8_t(xid);
  m[16] = 10, m[17] = 0, m[18] = 2, m[19] = 15;  // yiaddr
  for (int i = 0; i < 6; ++i) m[28 + i] = MAC[i];
  m.insert(m.end(), {99, 130, 83, 99});
  m.insert(m.end(), opts.begin(), opts.end());
  return m;
}

std::vector<uint8_t> offer_options() {
  return {53, 1, 2,                      // OFFER
          1, 4, 255, 255, 255, 0,        // mask
          3, 4, 10, 0, 2, 2,             // router
          6, 8, 10, 0, 2, 3, 8, 8, 8, 8,  // two name servers
          51, 4, 0, 1, 0x51, 0x80,       // 86400 s
          54, 4, 10, 0, 2, 2,            // server id
          15, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
          0, 0,                          // pads
          255};
}

}  // namespace

TEST(Dhcp, DiscoverLayout) {
  uint8_t out[DHCP_MAX_MSG];
  size_t n = dhcp_build(DHCP_DISCOVER, 0xdeadbeef, MAC, 0, 0, out);
  EXPECT_GE(n, 300u);  // BOOTP's minimum
  EXPECT_EQ(out[0], 1);  // BOOTREQUEST
  EXPECT_EQ(out[1], 1);
  EXPECT_EQ(out[2], 6);
  EXPECT_EQ(out[4], 0xde);
  EXPECT_EQ(out[7], 0xef);
  EXPECT_EQ(out[10], 0x80);  // the broadcast flag
  EXPECT_EQ(out[28], 0x52);
  EXPECT_EQ(out[DHCP_FIXED], 99);
  EXPECT_EQ(out[DHCP_FIXED + 4], 53);  // message type first
  EXPECT_EQ(out[DHCP_FIXED + 6], DHCP_DISCOVER);
}

TEST(Dhcp, RequestNamesTheAddressAndServer) {
  uint8_t out[DHCP_MAX_MSG];
  size_t n = dhcp_build(DHCP_REQUEST, 1, MAC, 0x0a00020f, 0x0a000202, out);
  std::vector<uint8_t> opts(out + DHCP_FIXED + 4, out + n);
  auto find = [&](uint8_t code) {
    for (size_t i = 0; i + 1 < opts.size() && opts[i] != 255;) {
      if (opts[i] == 0) { ++i; continue; }
      if (opts[i] == code) return std::vector<uint8_t>(opts.begin() + i + 2, opts.begin() + i + 2 + opts[i + 1]);
      i += 2 + opts[i + 1];
    }
    return std::vector<uint8_t>();
  };
  EXPECT_EQ(find(53), std::vector<uint8_t>({DHCP_REQUEST}));
  EXPECT_EQ(find(50), std::vector<uint8_t>({10, 0, 2, 15}));
  EXPECT_EQ(find(54), std::vector<uint8_t>({10, 0, 2, 2}));
}

TEST(Dhcp, ParsesAnOffer) {
  auto m = reply(offer_options());
  DhcpReply r;
  ASSERT_TRUE(dhcp_parse(m.data(), m.size(), &r));
  EXPECT_EQ(r.type, DHCP_OFFER);
  EXPECT_EQ(r.xid, 0x11223344u);
  EXPECT_EQ(r.yiaddr, 0x0a00020fu);
  EXPECT_EQ(r.subnet_mask, 0xffffff00u);
  EXPECT_EQ(r.router, 0x0a000202u);
  EXPECT_EQ(r.dns[0], 0x0a000203u);
  EXPECT_EQ(r.dns[1], 0x08080808u);
  EXPECT_EQ(r.lease_s, 86400u);
  EXPECT_EQ(r.server_id, 0x0a000202u);
  EXPECT_STREQ(r.domain, "example");
  EXPECT_EQ(0, memcmp(r.chaddr, MAC, 6));
}

TEST(Dhcp, RejectsMalformedReplies) {
  DhcpReply r;
  auto good = reply(offer_options());
  // Every truncation inside the fixed part or the cookie.
  for (size_t n = 0; n < DHCP_FIXED + 4; ++n) EXPECT_FALSE(dhcp_parse(good.data(), n, &r)) << n;
  auto m = good;
  m[0] = 1;  // a request, not a reply
  EXPECT_FALSE(dhcp_parse(m.data(), m.size(), &r));
  m = good;
  m[DHCP_FIXED + 3] = 0;  // bad magic cookie
  EXPECT_FALSE(dhcp_parse(m.data(), m.size(), &r));
  // An option whose length runs past the end.
  m = reply({53, 1, 2, 6, 200, 10, 0});
  EXPECT_FALSE(dhcp_parse(m.data(), m.size(), &r));
  // A code with no length byte.
  m = reply({53, 1, 2, 3});
  EXPECT_FALSE(dhcp_parse(m.data(), m.size(), &r));
  // No message type at all.
  m = reply({1, 4, 255, 255, 255, 0, 255});
  EXPECT_FALSE(dhcp_parse(m.data(), m.size(), &r));
  // Short option values are ignored, not read past.
  m = reply({53, 1, 5, 3, 2, 10, 0, 1, 0, 255});
  ASSERT_TRUE(dhcp_parse(m.data(), m.size(), &r));
  EXPECT_EQ(r.router, 0u);
  EXPECT_EQ(r.subnet_mask, 0u);
  // A domain with characters a resolv.conf line cannot carry is dropped.
  m = reply({53, 1, 5, 15, 5, 'a', '\n', 'b', ' ', 'c', 255});
  ASSERT_TRUE(dhcp_parse(m.data(), m.size(), &r));
  EXPECT_STREQ(r.domain, "");
  // Options end at the buffer's end without an END option.
  m = reply({53, 1, 5});
  ASSERT_TRUE(dhcp_parse(m.data(), m.size(), &r));
  EXPECT_EQ(r.type, DHCP_ACK);
}

TEST(Dhcp, NetmaskPrefix) {
  EXPECT_EQ(netmask_prefix(0xffffff00), 24);
  EXPECT_EQ(netmask_prefix(0xffffffff), 32);
  EXPECT_EQ(netmask_prefix(0), 0);
  EXPECT_EQ(netmask_prefix(0xff00ff00), -1);
  EXPECT_EQ(netmask_prefix(0x00ffffff), -1);
}
