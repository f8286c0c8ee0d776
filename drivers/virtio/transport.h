#pragma once
// A virtio device as the drivers see it, whatever the transport
// (virtio-mmio on microvm, virtio-pci on q35): features, status, device
// configuration, queues, notifications and one interrupt [virtio 1.2 §3,
// §4.1, §4.2]. Only the modern (VIRTIO_F_VERSION_1) interface is spoken.
#include <cstddef>
#include <cstdint>

#include "arch/irq.h"
#include "lib/result.h"

namespace capsule::virtio {

// Device status bits [§2.1].
inline constexpr uint8_t STATUS_ACKNOWLEDGE = 1, STATUS_DRIVER = 2, STATUS_DRIVER_OK = 4,
                         STATUS_FEATURES_OK = 8, STATUS_NEEDS_RESET = 64, STATUS_FAILED = 128;
inline constexpr uint64_t F_VERSION_1 = 1ull << 32;

// Device types [§5].
inline constexpr uint32_t DEVICE_NET = 1, DEVICE_BLOCK = 2, DEVICE_CONSOLE = 3, DEVICE_RNG = 4,
                           DEVICE_9P = 9, DEVICE_FS = 26;

class Transport {
 public:
  virtual const char* kind() const = 0;  // "mmio", "pci"
  virtual uint32_t device_id() = 0;

  virtual uint64_t device_features() = 0;
  virtual void set_driver_features(uint64_t f) = 0;
  virtual uint8_t status() = 0;
  virtual void set_status(uint8_t s) = 0;  // 0 resets the device

  // Device-specific configuration space, byte offset `off`.
  virtual uint8_t config8(size_t off) = 0;
  virtual uint16_t config16(size_t off) = 0;
  virtual uint32_t config32(size_t off) = 0;

  // Queue `q`: its maximum size (0: no such queue), then its rings.
  virtual uint16_t queue_max(uint16_t q) = 0;
  virtual Result<void> queue_setup(uint16_t q, uint16_t size, uint64_t desc, uint64_t avail,
                                   uint64_t used) = 0;
  virtual void notify(uint16_t q) = 0;

  // One handler for every interrupt of the device (used buffers on any
  // queue, configuration change). It runs in interrupt context; the
  // transport acknowledges the interrupt before calling it.
  virtual Result<void> setup_irq(IrqHandler handler, void* context) = 0;
  // Optional, after setup_irq and before queue_setup(q): an interrupt of
  // queue q's own (virtio-pci's MSI-X: a table entry and a vector), whose
  // handler then runs for q's used buffers instead of setup_irq's.
  // NotSupported where the device has one interrupt (virtio-mmio) or no
  // entry is left: q's buffers then come to setup_irq's handler.
  virtual Result<void> setup_queue_irq(uint16_t q, IrqHandler handler, void* context) {
    (void)q, (void)handler, (void)context;
    return Error::NotSupported;
  }

 protected:
  ~Transport() = default;
};

// The status handshake up to FEATURES_OK [§3.1.1]: reset, ACKNOWLEDGE,
// DRIVER, negotiate (`wanted` & offered, always with VERSION_1). Returns
// the accepted features; NotSupported when the device lacks VERSION_1 or
// refuses FEATURES_OK (then the device is marked FAILED).
// `fixup`, when given, sees what both sides have of `wanted` and returns
// the set to take (features that need another one the device lacks out).
Result<uint64_t> negotiate(Transport& t, uint64_t wanted, uint64_t (*fixup)(uint64_t) = nullptr);

// Boot: finds virtio devices on every transport (microvm's virtio-mmio
// slots, PCI bus 0) and starts the drivers that want them.
void virtio_init();

// Drivers, called by virtio_init for their device type.
Result<void> console_probe(Transport& t);
Result<void> net_probe(Transport& t);
Result<void> p9_probe(Transport& t);
Result<void> blk_probe(Transport& t);
Result<void> fs_probe(Transport& t);

}  // namespace capsule::virtio
