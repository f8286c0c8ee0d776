#pragma once
// A block device as the layers above see it: a number of 512-byte sectors
// read, written and flushed, a read-only flag and a name ("vda"), plus the
// identity string the host gave the disk (virtio-blk's serial). Drivers
// (drivers/virtio/blk.cc) register devices here; fs/ sits beside drivers/
// in the layer order, so kernel/ (the composition root) hands a device to
// a file system through the block cache's interface (fs/block_cache.h).
// docs/block.md.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::block {

inline constexpr size_t SECTOR_SIZE = 512;

class Device {
 public:
  virtual const char* name() const = 0;  // "vda"
  virtual uint64_t sectors() const = 0;  // capacity in 512-byte sectors
  // The device's logical block size (a multiple of 512; 512 when it says
  // nothing); requests are still counted in 512-byte sectors.
  virtual uint32_t block_size() const = 0;
  virtual bool read_only() const = 0;
  // `count` sectors from `sector` into / out of `buf`: kernel memory of the
  // direct map or the heap (the device reads and writes it by physical
  // address; a kernel stack will not do). They sleep until the device
  // answers (the thread is woken by the interrupt, it never spins).
  // Range past the end; ReadOnly for a write to a read-only device; Io for
  // the device's I/O error or an unsupported request. Count 0 does nothing.
  virtual Result<void> read(uint64_t sector, void* buf, size_t count) = 0;
  virtual Result<void> write(uint64_t sector, const void* buf, size_t count) = 0;
  // Everything written so far reaches stable storage (a no-op for a
  // device without a volatile cache).
  virtual Result<void> flush() = 0;
  // The identity string (virtio-blk GET_ID: QEMU's serial=), NUL
  // terminated, at most 20 bytes; empty when the device has none.
  virtual Result<void> identity(char* buf, size_t cap) = 0;

 protected:
  ~Device() = default;
};

// The devices found at boot, in probe order. Never removed.
void register_device(Device* d);
size_t device_count();
Device* device(size_t i);
// By name ("vda"); nullptr if none.
Device* find(StringView name);

}  // namespace capsule::block
