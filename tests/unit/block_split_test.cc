// block::split_piece (drivers/include/drivers/block.h): how a discard or
// write-zeroes range is cut into requests by a device's limits.
#include <gtest/gtest.h>

#include <vector>

#include "drivers/block.h"

using capsule::block::split_piece;

namespace {

std::vector<uint64_t> pieces(uint64_t sector, uint64_t end, uint64_t max, uint64_t align) {
  std::vector<uint64_t> out;
  while (sector < end) {
    uint64_t n = split_piece(sector, end, max, align);
    EXPECT_GT(n, 0u);
    EXPECT_LE(n, max);
    if (!n) break;
    out.push_back(n);
    sector += n;
  }
  return out;
}

}  // namespace

TEST(BlockSplit, FitsInOne) {
  EXPECT_EQ(pieces(0, 100, 100, 1), std::vector<uint64_t>({100}));
  EXPECT_EQ(pieces(7, 8, 4096, 8), std::vector<uint64_t>({1}));
}

TEST(BlockSplit, ByTheLimit) {
  EXPECT_EQ(pieces(0, 250, 100, 1), std::vector<uint64_t>({100, 100, 50}));
  // QEMU's virtio-blk limits (max_discard_sectors 4194303, alignment 1 on
  // 512-byte blocks): a 4 GiB range is three requests.
  EXPECT_EQ(pieces(0, 8388608, 4194303, 1), std::vector<uint64_t>({4194303, 4194303, 2}));
}

TEST(BlockSplit, LaterPiecesStartAligned) {
  // Starting at sector 3 with 8-sector granularity and 20 per request:
  // the first piece ends on 16, every later one starts on a multiple of 8.
  std::vector<uint64_t> p = pieces(3, 60, 20, 8);
  EXPECT_EQ(p, std::vector<uint64_t>({13, 16, 16, 12}));
  uint64_t s = 3;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    s += p[i];
    EXPECT_EQ(s % 8, 0u);
  }
}

TEST(BlockSplit, AlignmentLargerThanTheLimitStillProgresses) {
  // A granularity the limit cannot reach: cut at the limit (never 0).
  EXPECT_EQ(pieces(1, 30, 5, 64), std::vector<uint64_t>({5, 5, 5, 5, 5, 4}));
}

TEST(BlockSplit, NoOverflowNearTheTop) {
  const uint64_t top = ~uint64_t(0);
  EXPECT_EQ(split_piece(top - 10, top, 4, 1), 4u);
  EXPECT_EQ(split_piece(top - 3, top, 4, 1), 3u);
}
