// virtio-net's queue pairs (drivers/virtio/net_mq.h, docs/net_device.md
// "Several queue pairs"): how many pairs the driver uses, where each queue
// and the control queue sit [virtio 1.2 §5.1.2], the VQ_PAIRS_SET command's
// bytes [§5.1.6.5.5], and which pair a CPU sends on.
#include "drivers/virtio/net_mq.h"

#include <gtest/gtest.h>

#include <set>

namespace nm = capsule::virtio::netmq;

TEST(VirtioNetMq, OnePairWithoutMqOrWithOneCpu) {
  EXPECT_EQ(nm::pairs_to_use(false, 4, 4), 1);  // the device has no MQ
  EXPECT_EQ(nm::pairs_to_use(true, 4, 1), 1);   // one CPU
  EXPECT_EQ(nm::pairs_to_use(true, 4, 0), 1);
  EXPECT_EQ(nm::pairs_to_use(true, 1, 4), 1);   // the device has one pair
}

TEST(VirtioNetMq, OnePairPerCpuUpToTheBounds) {
  EXPECT_EQ(nm::pairs_to_use(true, 4, 2), 2);
  EXPECT_EQ(nm::pairs_to_use(true, 4, 4), 4);
  EXPECT_EQ(nm::pairs_to_use(true, 2, 4), 2);     // the device's max_virtqueue_pairs
  EXPECT_EQ(nm::pairs_to_use(true, 64, 64), nm::MAX_PAIRS);  // the driver's
  EXPECT_EQ(nm::pairs_to_use(true, 0x8000, 3), 3);
}

TEST(VirtioNetMq, OutOfRangeDeviceValueMeansOnePair) {
  // max_virtqueue_pairs is 1..0x8000 [§5.1.4]: a device that says 0 or
  // more is broken, and the driver keeps to the first pair.
  EXPECT_EQ(nm::pairs_to_use(true, 0, 4), 1);
  EXPECT_EQ(nm::pairs_to_use(true, 0x8001, 4), 1);
  EXPECT_EQ(nm::pairs_to_use(true, 0xffff, 4), 1);
}

TEST(VirtioNetMq, QueueIndices) {
  EXPECT_EQ(nm::rx_index(0), 0);
  EXPECT_EQ(nm::tx_index(0), 1);
  EXPECT_EQ(nm::rx_index(3), 6);
  EXPECT_EQ(nm::tx_index(3), 7);
  // The control queue follows every pair the device has, used or not.
  EXPECT_EQ(nm::ctrl_index(true, 4), 8);
  EXPECT_EQ(nm::ctrl_index(true, 8), 16);
  EXPECT_EQ(nm::ctrl_index(false, 8), 2);
}

TEST(VirtioNetMq, PairsSetCommand) {
  uint8_t b[nm::PAIRS_SET_LEN] = {0xee, 0xee, 0xee, 0xee};
  ASSERT_EQ(nm::pairs_set_command(4, b), 4u);
  EXPECT_EQ(b[0], 4);  // VIRTIO_NET_CTRL_MQ
  EXPECT_EQ(b[1], 0);  // VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET
  EXPECT_EQ(b[2], 4);  // virtqueue_pairs, little-endian
  EXPECT_EQ(b[3], 0);
  nm::pairs_set_command(0x0102, b);
  EXPECT_EQ(b[2], 0x02);
  EXPECT_EQ(b[3], 0x01);
}

TEST(VirtioNetMq, EachCpuSendsOnAPairInRange) {
  EXPECT_EQ(nm::tx_pair(5, 0), 0);  // no pairs (not started): the first
  for (uint16_t pairs = 1; pairs <= nm::MAX_PAIRS; ++pairs) {
    std::set<uint16_t> used;
    for (uint32_t cpu = 0; cpu < 64; ++cpu) {
      uint16_t k = nm::tx_pair(cpu, pairs);
      ASSERT_LT(k, pairs);
      used.insert(k);
    }
    EXPECT_EQ(used.size(), pairs);  // every pair has a CPU
  }
  EXPECT_EQ(nm::tx_pair(2, 4), 2);  // CPU k sends on pair k
}
