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

struct Stats {
  uint64_t rx_frames = 0, rx_bytes = 0, rx_dropped = 0;  // dropped: no receiver, bad length
  uint64_t tx_frames = 0, tx_bytes = 0, tx_dropped = 0;  // dropped: ring full, too long
};

// Called in the driver's receive thread (thread context, may take
// Mutexes) with one whole frame; `frame` is valid only during the call.
using ReceiveFn = void (*)(void* context, const uint8_t* frame, size_t len);

class Device {
 public:
  virtual const char* name() const = 0;  // "eth0"
  virtual const uint8_t* mac() const = 0;
  virtual uint16_t mtu() const = 0;
  virtual bool link_up() const = 0;
  // Queues one frame (Ethernet header included, at most MAX_FRAME bytes);
  // the bytes are copied before it returns. Invalid for an empty or
  // too-long frame; NoSpace when the transmit ring is full (the frame is
  // dropped and counted).
  virtual Result<void> transmit(const uint8_t* frame, size_t len) = 0;
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
