// lib/trace_ring.h: the --trace flight recorder's ring (docs/trace.md).
#include "lib/trace_ring.h"

#include <gtest/gtest.h>

#include <vector>

using capsule::trace::Record;
using capsule::trace::Ring;

namespace {

Record rec(uint64_t n) {
  Record r{};
  r.tsc = n;
  r.event = uint16_t(n % 12 + 1);
  r.cpu = 0;
  r.tid = uint32_t(n);
  for (int i = 0; i < 4; ++i) r.arg[i] = n * 10 + uint64_t(i);
  return r;
}

// The records held, oldest first, as their numbers; checks each is whole.
std::vector<uint64_t> held(const Ring& r) {
  std::vector<uint64_t> out;
  for (uint32_t i = 0; i < r.held(); ++i) {
    const Record& x = r.at(i);
    EXPECT_EQ(x.tid, uint32_t(x.tsc));
    for (int k = 0; k < 4; ++k) EXPECT_EQ(x.arg[k], x.tsc * 10 + uint64_t(k));
    out.push_back(x.tsc);
  }
  return out;
}

}  // namespace

TEST(TraceRing, EmptyHoldsNothing) {
  Record slots[4];
  Ring r;
  r.init(slots, 4);
  EXPECT_EQ(r.written(), 0u);
  EXPECT_EQ(r.lost(), 0u);
  EXPECT_EQ(r.held(), 0u);
  EXPECT_FALSE(r.writing());
}

TEST(TraceRing, BelowCapacityKeepsAllInOrder) {
  Record slots[8];
  Ring r;
  r.init(slots, 8);
  for (uint64_t i = 1; i <= 5; ++i) r.push(rec(i));
  EXPECT_EQ(r.written(), 5u);
  EXPECT_EQ(r.lost(), 0u);
  EXPECT_EQ(held(r), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST(TraceRing, ExactlyFullLosesNothing) {
  Record slots[4];
  Ring r;
  r.init(slots, 4);
  for (uint64_t i = 1; i <= 4; ++i) r.push(rec(i));
  EXPECT_EQ(r.lost(), 0u);
  EXPECT_EQ(held(r), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(TraceRing, WrapOverwritesOldestAndCountsThem) {
  Record slots[4];
  Ring r;
  r.init(slots, 4);
  for (uint64_t i = 1; i <= 11; ++i) r.push(rec(i));
  EXPECT_EQ(r.written(), 11u);
  EXPECT_EQ(r.lost(), 7u);
  EXPECT_EQ(r.held(), 4u);
  EXPECT_EQ(r.written(), r.lost() + r.held());
  EXPECT_EQ(held(r), (std::vector<uint64_t>{8, 9, 10, 11}));
}

TEST(TraceRing, ManyWrapsStayConsistent) {
  Record slots[7];
  Ring r;
  r.init(slots, 7);
  for (uint64_t i = 1; i <= 1000; ++i) {
    r.push(rec(i));
    ASSERT_EQ(r.written(), r.lost() + r.held());
    const auto h = held(r);
    ASSERT_EQ(h.back(), i);
    for (size_t k = 1; k < h.size(); ++k) ASSERT_EQ(h[k], h[k - 1] + 1);
  }
  EXPECT_EQ(r.lost(), 993u);
}

TEST(TraceRing, ZeroCapacityLosesEverything) {
  Ring r;
  r.init(nullptr, 0);
  for (uint64_t i = 1; i <= 3; ++i) r.push(rec(i));
  EXPECT_EQ(r.written(), 3u);
  EXPECT_EQ(r.lost(), 3u);
  EXPECT_EQ(r.held(), 0u);
}

TEST(TraceRing, RecordLayoutIsTheFileFormat) {
  // tools/capsule/capsule_cli/trace.py reads "<QHHI4Q".
  EXPECT_EQ(sizeof(Record), 48u);
  EXPECT_EQ(offsetof(Record, event), 8u);
  EXPECT_EQ(offsetof(Record, cpu), 10u);
  EXPECT_EQ(offsetof(Record, tid), 12u);
  EXPECT_EQ(offsetof(Record, arg), 16u);
}
