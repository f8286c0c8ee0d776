// ARP packets and the neighbour cache (net/include/net/arp.h): parse and
// build, learning, holding packets while resolving, retries, give-up,
// timeouts and eviction.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "net/arp.h"

using namespace capsule::net::ether;

namespace {

constexpr uint64_t S = 1'000'000'000ull;
const Mac MAC_A{{2, 0, 0, 0, 0, 0xa}};
const Mac MAC_B{{2, 0, 0, 0, 0, 0xb}};

std::vector<uint8_t> request_bytes() {
  ArpPacket a{ARP_REQUEST, {{0x52, 0x55, 10, 0, 2, 2}}, 0x0a000202, {}, 0x0a00020f};
  std::vector<uint8_t> b(ARP_LEN);
  arp_build(a, b.data());
  return b;
}

struct Flushed {
  std::vector<std::string> packets;
  Mac mac{};
};
void record(void* ctx, const uint8_t* p, size_t n, const Mac& mac) {
  auto* f = static_cast<Flushed*>(ctx);
  f->packets.emplace_back(reinterpret_cast<const char*>(p), n);
  f->mac = mac;
}
void count_request(void* ctx, uint32_t) { ++*static_cast<int*>(ctx); }

}  // namespace

TEST(Arp, ParseRoundTrip) {
  auto b = request_bytes();
  // The RFC 826 layout: hrd 1, pro 0x0800, hln 6, pln 4, op.
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(b[1], 1);
  EXPECT_EQ(b[2], 8);
  EXPECT_EQ(b[3], 0);
  EXPECT_EQ(b[4], 6);
  EXPECT_EQ(b[5], 4);
  ArpPacket a;
  ASSERT_TRUE(arp_parse(b.data(), b.size(), &a));
  EXPECT_EQ(a.op, ARP_REQUEST);
  EXPECT_EQ(a.spa, 0x0a000202u);
  EXPECT_EQ(a.tpa, 0x0a00020fu);
  EXPECT_EQ(a.sha.b[5], 2);
}

TEST(Arp, BadPacketsAreRejected) {
  ArpPacket a;
  auto b = request_bytes();
  for (size_t n = 0; n < ARP_LEN; ++n) EXPECT_FALSE(arp_parse(b.data(), n, &a)) << "length " << n;
  auto bad = [&](size_t at, uint8_t v) {
    auto c = b;
    c[at] = v;
    return arp_parse(c.data(), c.size(), &a);
  };
  EXPECT_FALSE(bad(1, 6));    // hardware type 6 (IEEE 802)
  EXPECT_FALSE(bad(2, 0x86)); // protocol 0x8600
  EXPECT_FALSE(bad(4, 8));    // hardware length 8
  EXPECT_FALSE(bad(5, 16));   // protocol length 16 (IPv6-sized)
  EXPECT_FALSE(bad(7, 3));    // operation 3 (RARP request)
  EXPECT_FALSE(bad(7, 0));
  // Trailing padding (a 60-byte frame) is fine.
  b.resize(46, 0);
  EXPECT_TRUE(arp_parse(b.data(), b.size(), &a));
}

TEST(ArpCache, HoldsUntilResolvedThenFlushesInOrder) {
  ArpCache c;
  Mac m;
  EXPECT_FALSE(c.lookup(0x0a000202, 0, &m));
  EXPECT_TRUE(c.hold(0x0a000202, reinterpret_cast<const uint8_t*>("one"), 3, 0));   // ask now
  EXPECT_FALSE(c.hold(0x0a000202, reinterpret_cast<const uint8_t*>("two"), 3, 1));  // already asking
  Flushed f;
  c.learn(0x0a000202, MAC_A, 2, false, record, &f);
  ASSERT_EQ(f.packets.size(), 2u);
  EXPECT_EQ(f.packets[0], "one");
  EXPECT_EQ(f.packets[1], "two");
  EXPECT_EQ(f.mac, MAC_A);
  ASSERT_TRUE(c.lookup(0x0a000202, 3, &m));
  EXPECT_EQ(m, MAC_A);
  EXPECT_EQ(c.stats().resolved, 1u);
}

TEST(ArpCache, KeepsTheNewestPendingBytes) {
  // A burst before the answer (a UDP sender's first datagrams): the newest
  // MAX_PENDING_BYTES are kept, in order, the oldest dropped and counted.
  ArpCache c;
  std::vector<uint8_t> p(1000);
  for (int i = 0; i < 100; ++i) {
    p[0] = uint8_t(i);
    EXPECT_EQ(c.hold(1, p.data(), p.size(), 0), i == 0);  // one request
  }
  Flushed f;
  c.learn(1, MAC_A, 1, false, record, &f);
  const size_t kept = ArpCache::MAX_PENDING_BYTES / 1000;
  ASSERT_EQ(f.packets.size(), kept);
  for (size_t i = 0; i < kept; ++i) EXPECT_EQ(uint8_t(f.packets[i][0]), uint8_t(100 - kept + i));
  EXPECT_EQ(c.stats().pending_dropped, 100 - kept);
}

TEST(ArpCache, PendingBytesAreBoundedOverAllAddresses) {
  ArpCache c;
  std::vector<uint8_t> p(1400);
  for (uint32_t ip = 1; ip <= 8; ++ip)
    for (int i = 0; i < 100; ++i) c.hold(ip, p.data(), p.size(), 0);
  size_t total = 0;
  for (uint32_t ip = 1; ip <= 8; ++ip) {
    Flushed f;
    c.learn(ip, MAC_A, 1, false, record, &f);
    EXPECT_LE(f.packets.size() * p.size(), ArpCache::MAX_PENDING_BYTES);
    total += f.packets.size() * p.size();
  }
  EXPECT_LE(total, ArpCache::MAX_PENDING_TOTAL);
  EXPECT_GT(total, ArpCache::MAX_PENDING_TOTAL - 2 * ArpCache::MAX_PENDING_BYTES);
  // Nothing is left held: a new burst has the whole budget again.
  for (int i = 0; i < 100; ++i) c.hold(20, p.data(), p.size(), 2);
  Flushed g;
  c.learn(20, MAC_A, 3, false, record, &g);
  EXPECT_EQ(g.packets.size(), ArpCache::MAX_PENDING_BYTES / p.size());
}

TEST(ArpCache, RetriesThenGivesUp) {
  ArpCache c;
  int asked = 0;
  uint8_t p = 1;
  ASSERT_TRUE(c.hold(7, &p, 1, 0));
  EXPECT_TRUE(c.tick(ArpCache::RETRY_NS / 2, count_request, &asked));  // not due yet
  EXPECT_EQ(asked, 0);
  EXPECT_TRUE(c.tick(1 * S, count_request, &asked));
  EXPECT_TRUE(c.tick(2 * S, count_request, &asked));
  EXPECT_EQ(asked, 2);  // 3 requests in all with the first
  EXPECT_FALSE(c.tick(3 * S, count_request, &asked));
  EXPECT_EQ(c.stats().failed, 1u);
  EXPECT_EQ(c.stats().pending_dropped, 1u);
  Mac m;
  EXPECT_FALSE(c.lookup(7, 3 * S, &m));
  // An answer after giving up does not create an entry unless asked to.
  Flushed f;
  c.learn(7, MAC_A, 4 * S, false, record, &f);
  EXPECT_FALSE(c.lookup(7, 4 * S, &m));
}

TEST(ArpCache, AnExpiredAnswerIsUsedWhileAskedAgain) {
  ArpCache c;
  Flushed f;
  c.learn(9, MAC_A, 0, true, record, &f);
  Mac m;
  bool ask = false;
  EXPECT_TRUE(c.lookup(9, ArpCache::REACHABLE_NS - 1, &m, &ask));
  EXPECT_FALSE(ask);
  // Expired: still used (no packet waits), and the caller asks once.
  const uint64_t t = ArpCache::REACHABLE_NS;
  EXPECT_TRUE(c.lookup(9, t, &m, &ask));
  EXPECT_TRUE(ask);
  EXPECT_EQ(m, MAC_A);
  ask = false;
  EXPECT_TRUE(c.lookup(9, t + 1, &m, &ask));
  EXPECT_FALSE(ask);
  // The ARP thread repeats the request; an answer makes it fresh again.
  int asked = 0;
  EXPECT_TRUE(c.tick(t + ArpCache::RETRY_NS, count_request, &asked));
  EXPECT_EQ(asked, 1);
  c.learn(9, MAC_B, t + ArpCache::RETRY_NS + 1, false, record, &f);
  EXPECT_FALSE(c.tick(t + 5 * ArpCache::RETRY_NS, count_request, &asked));
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(c.lookup(9, t + 5 * ArpCache::RETRY_NS, &m, &ask));
  EXPECT_FALSE(ask);
  EXPECT_EQ(m, MAC_B);
  EXPECT_TRUE(f.packets.empty());
}

TEST(ArpCache, AnExpiredAnswerNobodyConfirmsIsForgotten) {
  ArpCache c;
  Flushed f;
  c.learn(9, MAC_A, 0, true, record, &f);
  Mac m;
  bool ask = false;
  const uint64_t t = ArpCache::REACHABLE_NS;
  ASSERT_TRUE(c.lookup(9, t, &m, &ask));
  ASSERT_TRUE(ask);
  int asked = 0;
  EXPECT_TRUE(c.tick(t + 1 * S, count_request, &asked));
  EXPECT_TRUE(c.tick(t + 2 * S, count_request, &asked));
  EXPECT_FALSE(c.tick(t + 3 * S, count_request, &asked));  // MAX_REQUESTS in all: given up
  EXPECT_EQ(asked, 2);
  EXPECT_FALSE(c.lookup(9, t + 3 * S, &m, &ask));
  EXPECT_EQ(c.stats().failed, 0u);  // nothing waited on it
  // The next packet resolves from scratch.
  uint8_t p = 1;
  EXPECT_TRUE(c.hold(9, &p, 1, t + 4 * S));
}

TEST(ArpCache, FullCacheEvictsTheLeastRecentlyUsed) {
  ArpCache c;
  Flushed f;
  for (uint32_t i = 0; i < ArpCache::ENTRIES; ++i) c.learn(100 + i, MAC_A, i, true, record, &f);
  Mac m;
  EXPECT_TRUE(c.lookup(100, 1000, &m));  // 100 is now the most recent
  c.learn(500, MAC_A, 1001, true, record, &f);
  EXPECT_EQ(c.stats().evicted, 1u);
  EXPECT_TRUE(c.lookup(100, 1002, &m));
  EXPECT_FALSE(c.lookup(101, 1002, &m));  // the oldest went
  EXPECT_TRUE(c.lookup(500, 1002, &m));
}
