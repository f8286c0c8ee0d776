#include "core/event/ring_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using capsule::event::ByteRing;

namespace {

uint32_t put(ByteRing& r, const uint8_t* src, uint32_t n) {
  return r.push(n, [&](uint8_t* p, uint32_t off, uint32_t len) {
    memcpy(p, src + off, len);
    return true;
  });
}
uint32_t get(ByteRing& r, uint8_t* dst, uint32_t n) {
  return r.pop(n, [&](uint8_t* p, uint32_t off, uint32_t len) {
    memcpy(dst + off, p, len);
    return true;
  });
}

}  // namespace

TEST(ByteRing, EmptyAndFull) {
  uint8_t store[16];
  ByteRing r(store, 16);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.space(), 16u);
  uint8_t data[20];
  for (int i = 0; i < 20; ++i) data[i] = uint8_t(i);
  EXPECT_EQ(put(r, data, 20), 16u);  // clipped to the room
  EXPECT_EQ(r.size(), 16u);
  EXPECT_EQ(r.space(), 0u);
  EXPECT_EQ(put(r, data, 1), 0u);
  uint8_t out[16];
  EXPECT_EQ(get(r, out, 16), 16u);
  EXPECT_EQ(memcmp(out, data, 16), 0);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(get(r, out, 1), 0u);
}

TEST(ByteRing, WrapsAroundInTwoPieces) {
  uint8_t store[8];
  ByteRing r(store, 8);
  uint8_t a[6] = {1, 2, 3, 4, 5, 6}, out[8];
  EXPECT_EQ(put(r, a, 6), 6u);
  EXPECT_EQ(get(r, out, 5), 5u);
  int pieces = 0;
  uint8_t b[7] = {10, 11, 12, 13, 14, 15, 16};
  EXPECT_EQ(r.push(7, [&](uint8_t* p, uint32_t off, uint32_t len) {
    ++pieces;
    memcpy(p, b + off, len);
    return true;
  }), 7u);
  EXPECT_EQ(pieces, 2);  // 2 bytes to the end of storage, 5 from the start
  EXPECT_EQ(get(r, out, 8), 8u);
  uint8_t want[8] = {6, 10, 11, 12, 13, 14, 15, 16};
  EXPECT_EQ(memcmp(out, want, 8), 0);
}

TEST(ByteRing, CopyFailureStopsAndCountsWhatMoved) {
  uint8_t store[8];
  ByteRing r(store, 8);
  uint8_t a[6] = {1, 2, 3, 4, 5, 6}, out[8];
  put(r, a, 6);
  get(r, out, 6);  // head and tail at 6: the next push wraps
  int calls = 0;
  uint32_t n = r.push(5, [&](uint8_t* p, uint32_t, uint32_t len) {
    if (calls++) return false;  // the second piece faults
    memset(p, 0xaa, len);
    return true;
  });
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(r.size(), 2u);
}

TEST(ByteRing, PartialCopyCountsTheBytesBeforeTheFault) {
  uint8_t store[8];
  ByteRing r(store, 8);
  uint8_t a[6] = {1, 2, 3, 4, 5, 6}, out[8];
  put(r, a, 6);
  get(r, out, 6);  // head and tail at 6: the next push wraps
  // The first piece (2 bytes) copies, the second stops after 1 of 3.
  uint32_t n = r.push(5, [&](uint8_t* p, uint32_t off, uint32_t len) -> uint32_t {
    uint32_t k = off == 0 ? len : 1;
    for (uint32_t i = 0; i < k; ++i) p[i] = uint8_t(0x10 + off + i);
    return k;
  });
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(r.size(), 3u);
  // A pop that copies 2 of 3 leaves the third byte in the ring.
  n = r.pop(3, [&](uint8_t* p, uint32_t off, uint32_t len) -> uint32_t {
    uint32_t k = len < 2 - off ? len : 2 - off;
    memcpy(out + off, p, k);
    return k;
  });
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(out[0], 0x10);
  EXPECT_EQ(out[1], 0x11);
  EXPECT_EQ(get(r, out, 1), 1u);
  EXPECT_EQ(out[0], 0x12);
}

TEST(ByteRing, CountersWrapPast32Bits) {
  uint8_t store[4];
  ByteRing r(store, 4, 0xfffffff0u);  // the counters wrap after 16 bytes
  uint8_t in[3] = {7, 8, 9}, out[3];
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(r.space(), 4u);
    ASSERT_EQ(put(r, in, 3), 3u);
    ASSERT_EQ(get(r, out, 3), 3u);
    ASSERT_EQ(memcmp(in, out, 3), 0);
  }
  EXPECT_TRUE(r.empty());
}

TEST(ByteRing, ResizeKeepsContentsInOrder) {
  uint8_t s1[4], s2[16];
  ByteRing r(s1, 4);
  uint8_t a[4] = {1, 2, 3, 4}, out[8];
  put(r, a, 3);
  get(r, out, 2);
  put(r, a, 3);  // contents 3,1,2,3 wrapped in s1
  EXPECT_EQ(r.resize(s2, 16), s1);
  EXPECT_EQ(r.capacity(), 16u);
  EXPECT_EQ(r.size(), 4u);
  EXPECT_EQ(get(r, out, 8), 4u);
  uint8_t want[4] = {3, 1, 2, 3};
  EXPECT_EQ(memcmp(out, want, 4), 0);
}

TEST(ByteRing, RandomizedAgainstAModel) {
  uint8_t store[64];
  ByteRing r(store, 64);
  std::vector<uint8_t> model;
  uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1103515245 + 12345, (seed >> 16) & 0x7fff; };
  uint8_t next = 0;
  for (int step = 0; step < 20000; ++step) {
    uint32_t n = rnd() % 80;
    if (rnd() & 1) {
      uint8_t buf[80];
      for (uint32_t i = 0; i < n; ++i) buf[i] = next++;
      uint32_t done = put(r, buf, n);
      ASSERT_EQ(done, std::min<uint32_t>(n, 64 - uint32_t(model.size())));
      next = uint8_t(next - (n - done));
      model.insert(model.end(), buf, buf + done);
    } else {
      uint8_t buf[80];
      uint32_t done = get(r, buf, n);
      ASSERT_EQ(done, std::min<uint32_t>(n, uint32_t(model.size())));
      for (uint32_t i = 0; i < done; ++i) ASSERT_EQ(buf[i], model[i]);
      model.erase(model.begin(), model.begin() + done);
    }
    ASSERT_EQ(r.size(), model.size());
  }
}

// A pipe's ring starts without storage (allocated at the first write):
// it reports its capacity and room, reads nothing, changes capacity
// without moving anything, and works once storage is attached.
TEST(ByteRing, StartsUnbackedThenAttaches) {
  ByteRing r(nullptr, 16);
  EXPECT_EQ(r.storage(), nullptr);
  EXPECT_EQ(r.capacity(), 16u);
  EXPECT_EQ(r.space(), 16u);
  uint8_t out[4];
  EXPECT_EQ(get(r, out, 4), 0u);
  r.set_capacity_unbacked(32);
  EXPECT_EQ(r.capacity(), 32u);
  uint8_t store[32];
  r.attach(store);
  uint8_t data[40];
  for (int i = 0; i < 40; ++i) data[i] = uint8_t(i);
  EXPECT_EQ(put(r, data, 40), 32u);
  uint8_t back[32];
  EXPECT_EQ(get(r, back, 32), 32u);
  EXPECT_EQ(memcmp(back, data, 32), 0);
}
