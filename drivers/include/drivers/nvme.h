#pragma once
// NVMe controllers on PCI (drivers/nvme/, docs/block.md): each one's first
// active namespace becomes a block::Device ("nvme0n1") in the block
// registry (drivers/block.h), its identity the controller's serial number.
namespace capsule::nvme {

// Boot: finds NVMe controllers (class 01:08:02) on PCI bus 0 and starts
// them. Admin commands are polled, so interrupts may still be off; I/O
// needs them on. A controller that fails is one log line and no device.
void nvme_init();

}  // namespace capsule::nvme
