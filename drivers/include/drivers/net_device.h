#pragma once
// A network device as the layers above see it: Ethernet frames in and out,
// a MAC address, a link state and counters (docs/net_device.md). Drivers
// (drivers/virtio/net.cc) register devices here; net/ sits beside drivers/
// in the layer order, so kernel/ (the composition root) hands each device
// to the Ethernet layer through a receiver it installs.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::netdev {

inline constexpr size_t MAC_LEN = 6;
inline constexpr size_t MAX_FRAME = 1514;  // Ethernet header + 1500 bytes, no FCS

// What the device does for a frame it sends (virtio-net's CSUM and
// HOST_TSO4 [virtio 1.2 §5.1.6.2]): complete a checksum computed from
// csum_start (from the frame's first byte) to the end, stored csum_offset
// bytes further (the field holds the pseudo-header's folded sum); and cut
// a TCP/IPv4 frame into segments of gso_size payload bytes, each with its
// own IPv4 and TCP header and checksums. hdr_len: the Ethernet, IPv4 and
// TCP headers' length.
struct TxOffload {
  uint16_t csum_start = 0, csum_offset = 0;
  uint16_t gso_size = 0;  // 0: the frame goes as it is
  uint16_t hdr_len = 0;
  bool v6 = false;  // a TCP/IPv6 frame to cut (HOST_TSO6): tso6() says the device can
};

struct Stats {
  uint64_t rx_frames = 0, rx_bytes = 0, rx_dropped = 0;  // dropped: no receiver, bad length
  uint64_t tx_frames = 0, tx_bytes = 0, tx_dropped = 0;  // dropped: ring full, too long
};

// Called in one of the driver's receive threads (thread context, may take
// Mutexes) with one whole frame; `frame` is valid only during the call. A
// device with several receive queues calls it from several threads at
// once (docs/net_device.md "Several queue pairs").
using ReceiveFn = void (*)(void* context, const uint8_t* frame, size_t len);

class Device {
 public:
  virtual const char* name() const = 0;  // "eth0"
  virtual const uint8_t* mac() const = 0;
  virtual uint16_t mtu() const = 0;
  virtual bool link_up() const = 0;
  // Queues one frame (Ethernet header included, at most MAX_FRAME bytes);
  // the bytes are copied before it returns. Invalid for an empty or
  // too-long frame; NoSpace when neither the transmit ring nor the
  // driver's backlog has room (the frame is dropped and counted).
  virtual Result<void> transmit(const uint8_t* frame, size_t len) = 0;
  // The largest frame transmit_offload() takes with a gso_size (0: the
  // device cuts no segments and has no partial checksums).
  virtual size_t tso_max() const { return 0; }
  // Whether it also cuts TCP/IPv6 frames (up to tso_max() bytes).
  virtual bool tso6() const { return false; }
  // transmit() with the device's offloads (tso_max() says whether there
  // are any): a frame up to tso_max() bytes with gso_size set.
  virtual Result<void> transmit_offload(const uint8_t* frame, size_t len, const TxOffload& o) {
    (void)frame, (void)len, (void)o;
    return Error::NotSupported;
  }
  // Frames received before a receiver is set are dropped (and counted).
  virtual void set_receiver(ReceiveFn fn, void* context) = 0;
  virtual Stats stats() const = 0;
  // Waits (at most until the uptime_ns() deadline) until the device has
  // taken every queued frame; false if some were still queued then. The VM
  // calls it before it powers off, so a program's last datagram leaves.
  virtual bool flush(uint64_t deadline_ns) = 0;

 protected:
  ~Device() = default;
};

// The devices found at boot, in probe order ("eth0" first).
void register_device(Device* d);
size_t device_count();
Device* device(size_t i);
// flush() on every device, all with the same deadline.
void flush_all(uint64_t deadline_ns);

}  // namespace capsule::netdev
