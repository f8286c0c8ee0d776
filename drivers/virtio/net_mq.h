#pragma once
// virtio-net's several queue pairs [virtio 1.2 §5.1.2, §5.1.6.5.5] as pure
// logic, shared by the driver (drivers/virtio/net.cc) and its host test
// (tests/unit/virtio_net_mq_test.cc): how many pairs to use, where each
// queue sits, the control command that turns them on, and which pair a
// CPU sends on (docs/net_device.md "Several queue pairs").
#include <cstddef>
#include <cstdint>

namespace capsule::virtio::netmq {

// The driver's own bound: each pair costs about 1 MiB of buffers, and a
// guest with more CPUs than this shares the pairs among them.
inline constexpr uint16_t MAX_PAIRS = 8;
// [§5.1.4]: max_virtqueue_pairs is 1..0x8000 (VIRTQ_PAIRS_MIN..MAX).
inline constexpr uint16_t DEVICE_PAIRS_MAX = 0x8000;

// The pairs to use: one per CPU, no more than the device's
// max_virtqueue_pairs (`device_max`, read when MQ was negotiated) or
// MAX_PAIRS. Without MQ, with one CPU or a value outside the spec's
// range: one pair, as without the feature.
inline uint16_t pairs_to_use(bool mq, uint16_t device_max, uint32_t cpus) {
  if (!mq || cpus <= 1 || device_max < 1 || device_max > DEVICE_PAIRS_MAX) return 1;
  uint32_t n = cpus < device_max ? cpus : device_max;
  return uint16_t(n < MAX_PAIRS ? n : MAX_PAIRS);
}

// receiveqN is 2(N-1), transmitqN 2(N-1)+1 [§5.1.2]; pair k counts from 0.
inline constexpr uint16_t rx_index(uint16_t k) { return uint16_t(2 * k); }
inline constexpr uint16_t tx_index(uint16_t k) { return uint16_t(2 * k + 1); }
// The control queue: after every pair the device has (2 * max_virtqueue_
// pairs with MQ, not 2 * the pairs used), 2 without MQ.
inline constexpr uint16_t ctrl_index(bool mq, uint16_t device_max) { return mq ? uint16_t(2 * device_max) : 2; }

// The pair a frame sent on CPU `cpu` goes out on.
inline constexpr uint16_t tx_pair(uint32_t cpu, uint16_t pairs) { return pairs ? uint16_t(cpu % pairs) : 0; }

// struct virtio_net_ctrl: class, command, then the command's data; the
// device writes one ack byte into a separate buffer [§5.1.6.5].
inline constexpr uint8_t CTRL_MQ = 4, CTRL_MQ_VQ_PAIRS_SET = 0;
inline constexpr uint8_t CTRL_OK = 0, CTRL_ERR = 1;
inline constexpr size_t PAIRS_SET_LEN = 4;
// The device-readable part of VQ_PAIRS_SET for `pairs` (little-endian
// virtqueue_pairs) into out[PAIRS_SET_LEN]; returns its length.
inline size_t pairs_set_command(uint16_t pairs, uint8_t* out) {
  out[0] = CTRL_MQ;
  out[1] = CTRL_MQ_VQ_PAIRS_SET;
  out[2] = uint8_t(pairs);
  out[3] = uint8_t(pairs >> 8);
  return PAIRS_SET_LEN;
}

}  // namespace capsule::virtio::netmq
