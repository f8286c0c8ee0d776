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
  const char* name() const { return name_; }     // "vda"
  uint64_t sectors() const { return sectors_; }  // capacity in 512-byte sectors
  // The device's logical block size (a multiple of 512; 512 when it says
  // nothing); requests are still counted in 512-byte sectors.
  uint32_t block_size() const { return block_size_; }
  bool read_only() const { return read_only_; }
  // `count` sectors from `sector` into / out of `buf`: kernel memory of the
  // direct map or the heap (the device reads and writes it by physical
  // address; a kernel stack will not do). They sleep until the device
  // answers (the thread is woken by the interrupt, it never spins).
  // Range past the end; ReadOnly for a write to a read-only device; Io for
  // the device's I/O error or an unsupported request. Count 0 does nothing.
  Result<void> read(uint64_t sector, void* buf, size_t count) {
    return checked(false, sector, static_cast<uint8_t*>(buf), count);
  }
  Result<void> write(uint64_t sector, const void* buf, size_t count) {
    if (read_only_) return Error::ReadOnly;
    return checked(true, sector, static_cast<uint8_t*>(const_cast<void*>(buf)), count);
  }
  // Everything written so far reaches stable storage (a no-op for a
  // device without a volatile cache).
  virtual Result<void> flush() = 0;
  // The identity string (virtio-blk GET_ID: QEMU's serial=), NUL
  // terminated, at most 20 bytes; empty when the device has none.
  virtual Result<void> identity(char* buf, size_t cap) = 0;

 protected:
  ~Device() = default;
  // The driver's part of read and write: the range is checked and count is
  // not 0; `write` has passed the read-only check.
  virtual Result<void> transfer(bool write, uint64_t sector, uint8_t* buf, size_t count) = 0;

  // Set by the driver's probe.
  char name_[16] = {};
  uint64_t sectors_ = 0;
  uint32_t block_size_ = SECTOR_SIZE;
  bool read_only_ = false;

 private:
  Result<void> checked(bool write, uint64_t sector, uint8_t* buf, size_t count) {
    if (sector > sectors_ || count > sectors_ - sector) return Error::Range;
    if (!count) return {};
    return transfer(write, sector, buf, count);
  }
};

// The devices found at boot, in probe order. Never removed.
void register_device(Device* d);
size_t device_count();
Device* device(size_t i);
// By name ("vda"); nullptr if none.
Device* find(StringView name);

}  // namespace capsule::block
