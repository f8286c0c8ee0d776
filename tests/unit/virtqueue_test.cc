// Split virtqueue bookkeeping (drivers/virtio/virtqueue.h) against a fake
// device that reads the available ring and writes the used ring the way
// virtio 1.2 §2.7 describes, over ordinary memory (phys == address).
#include "drivers/virtio/virtqueue.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

using namespace capsule;
using namespace capsule::virtio;

namespace {

struct Mem {
  explicit Mem(size_t n) : p(static_cast<uint8_t*>(aligned_alloc(16, (n + 15) & ~size_t(15)))) { memset(p, 0, n); }
  ~Mem() { free(p); }
  uint8_t* p;
};

// Plays the device: takes the next available chain, returns it as used.
struct FakeDevice {
  Virtqueue& q;
  uint16_t next_avail = 0;

  bool has_avail() { return q.avail_ring()[1] != next_avail; }
  // The chain's descriptors, in order.
  std::vector<Desc> take(uint16_t* head_out) {
    uint16_t head = q.avail_ring()[2 + (next_avail % q.size())];
    ++next_avail;
    std::vector<Desc> chain;
    uint16_t i = head;
    for (;;) {
      chain.push_back(q.desc()[i]);
      if (!(q.desc()[i].flags & DESC_F_NEXT)) break;
      i = q.desc()[i].next;
    }
    *head_out = head;
    return chain;
  }
  void complete(uint16_t head, uint32_t written) {
    uint16_t idx = q.used_hdr()[1];
    q.used_ring()[idx % q.size()].id = head;
    q.used_ring()[idx % q.size()].len = written;
    q.used_hdr()[1] = uint16_t(idx + 1);
  }
};

TEST(Virtqueue, LayoutFollowsTheSpecAlignment) {
  EXPECT_EQ(Virtqueue::bytes(64), size_t(16 * 64 + 6 + 2 * 64) + 2 /*pad to 4*/ + 6 + 8 * 64);
  Mem m(Virtqueue::bytes(64));
  Virtqueue q;
  ASSERT_TRUE(q.init(64, m.p, 0x10000).ok());
  EXPECT_EQ(q.desc_phys(), 0x10000u);
  EXPECT_EQ(q.avail_phys(), 0x10000u + 16 * 64);
  EXPECT_EQ(q.used_phys() % 4, 0u);
  EXPECT_GE(q.used_phys(), q.avail_phys() + 6 + 2 * 64);
}

TEST(Virtqueue, RejectsBadSizes) {
  Mem m(Virtqueue::bytes(256));
  Virtqueue q;
  EXPECT_FALSE(q.init(0, m.p, 0).ok());
  EXPECT_FALSE(q.init(48, m.p, 0).ok());
  EXPECT_FALSE(q.init(512, m.p, 0).ok());
  EXPECT_TRUE(q.init(1, m.p, 0).ok());
}

TEST(Virtqueue, ChainIsVisibleOnlyAfterKick) {
  Mem m(Virtqueue::bytes(8));
  Virtqueue q;
  ASSERT_TRUE(q.init(8, m.p, 0).ok());
  FakeDevice dev{q};
  int token = 7;
  Virtqueue::Buf b[] = {{0x1000, 10, false}, {0x2000, 20, true}};
  ASSERT_TRUE(q.add(b, 2, &token).ok());
  EXPECT_FALSE(dev.has_avail());
  EXPECT_TRUE(q.kick_prepare());
  EXPECT_FALSE(q.kick_prepare());  // nothing new
  ASSERT_TRUE(dev.has_avail());
  uint16_t head;
  auto chain = dev.take(&head);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0].addr, 0x1000u);
  EXPECT_EQ(chain[0].len, 10u);
  EXPECT_EQ(chain[0].flags, DESC_F_NEXT);
  EXPECT_EQ(chain[1].addr, 0x2000u);
  EXPECT_EQ(chain[1].flags, DESC_F_WRITE);
  EXPECT_EQ(q.free_count(), 6);
  EXPECT_FALSE(q.has_used());
  dev.complete(head, 5);
  void* t = nullptr;
  uint32_t len = 0;
  ASSERT_TRUE(q.pop_used(&t, &len));
  EXPECT_EQ(t, &token);
  EXPECT_EQ(len, 5u);
  EXPECT_EQ(q.free_count(), 8);
  EXPECT_FALSE(q.pop_used(&t, &len));
}

TEST(Virtqueue, FullTableAndBadChains) {
  Mem m(Virtqueue::bytes(4));
  Virtqueue q;
  ASSERT_TRUE(q.init(4, m.p, 0).ok());
  Virtqueue::Buf one{0x1000, 1, true};
  Virtqueue::Buf three[] = {{1, 1, false}, {2, 1, false}, {3, 1, false}};
  Virtqueue::Buf writable_first[] = {{1, 1, true}, {2, 1, false}};
  Virtqueue::Buf empty{1, 0, false};
  EXPECT_EQ(q.add(writable_first, 2, nullptr).error(), Error::Invalid);
  EXPECT_EQ(q.add(&empty, 1, nullptr).error(), Error::Invalid);
  EXPECT_EQ(q.add(three, 0, nullptr).error(), Error::Invalid);
  ASSERT_TRUE(q.add(three, 3, nullptr).ok());
  EXPECT_EQ(q.add(three, 3, nullptr).error(), Error::NoSpace);
  EXPECT_TRUE(q.add(&one, 1, nullptr).ok());
  EXPECT_EQ(q.add(&one, 1, nullptr).error(), Error::NoSpace);
  EXPECT_EQ(q.free_count(), 0);
}

TEST(Virtqueue, NoNotifyFlagSuppressesTheKick) {
  Mem m(Virtqueue::bytes(4));
  Virtqueue q;
  ASSERT_TRUE(q.init(4, m.p, 0).ok());
  q.used_hdr()[0] = USED_F_NO_NOTIFY;
  Virtqueue::Buf one{0x1000, 1, true};
  ASSERT_TRUE(q.add(&one, 1, nullptr).ok());
  EXPECT_FALSE(q.kick_prepare());
  EXPECT_EQ(q.avail_ring()[1], 1);  // still published
  q.disable_interrupts();
  EXPECT_EQ(q.avail_ring()[0], AVAIL_F_NO_INTERRUPT);
  q.enable_interrupts();
  EXPECT_EQ(q.avail_ring()[0], 0);
}

// Many rounds through a small ring, out-of-order completion, index
// wrap-around past 65535: every token comes back once with its length, and
// the descriptors are all free at the end.
TEST(Virtqueue, OutOfOrderCompletionAndIndexWrap) {
  Mem m(Virtqueue::bytes(8));
  Virtqueue q;
  ASSERT_TRUE(q.init(8, m.p, 0).ok());
  FakeDevice dev{q};
  std::vector<int> tokens(70000 + 8);
  size_t sent = 0, got = 0;
  unsigned seed = 1;
  while (got < 70000) {
    while (sent < 70000 && q.free_count() >= 2) {
      Virtqueue::Buf b[] = {{sent, 1, false}, {sent + 1, 2, true}};
      ASSERT_TRUE(q.add(b, 1 + sent % 2, &tokens[sent]).ok());
      ++sent;
    }
    q.kick_prepare();
    std::vector<uint16_t> heads;
    while (dev.has_avail()) {
      uint16_t h;
      dev.take(&h);
      heads.push_back(h);
    }
    // complete in a shuffled order
    for (size_t i = heads.size(); i > 1; --i) {
      seed = seed * 1103515245 + 12345;
      std::swap(heads[i - 1], heads[(seed >> 8) % i]);
    }
    for (uint16_t h : heads) dev.complete(h, h + 100u);
    void* t;
    uint32_t len;
    while (q.pop_used(&t, &len)) {
      int* tp = static_cast<int*>(t);
      ASSERT_EQ(*tp, 0) << "token returned twice";
      *tp = 1;
      ++got;
    }
  }
  EXPECT_EQ(q.free_count(), 8);
  for (size_t i = 0; i < 70000; ++i) ASSERT_EQ(tokens[i], 1) << i;
}

TEST(Virtqueue, BrokenDeviceIdIsIgnored) {
  Mem m(Virtqueue::bytes(4));
  Virtqueue q;
  ASSERT_TRUE(q.init(4, m.p, 0).ok());
  FakeDevice dev{q};
  dev.complete(999, 1);  // an id outside the table
  void* t;
  uint32_t len;
  EXPECT_FALSE(q.pop_used(&t, &len));
  EXPECT_EQ(q.free_count(), 4);
}

}  // namespace
