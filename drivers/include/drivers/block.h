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

// The length of the next request of a range [sector, end) (sector < end)
// for a device taking at most `max` sectors per request (max > 0): the
// whole rest if it fits, else `max` sectors cut back to end on a multiple
// of `align` (the device's discard granularity, in sectors), so that every
// later piece starts aligned; never 0. Pure: unit.BlockSplit.*.
inline uint64_t split_piece(uint64_t sector, uint64_t end, uint64_t max, uint64_t align) {
  uint64_t n = end - sector;
  if (n <= max) return n;
  n = max;
  if (align > 1) {
    const uint64_t cut = (sector + n) / align * align;
    if (cut > sector) n = cut - sector;
  }
  return n;
}

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
  // Discard: the device may forget `count` sectors from `sector` (reads of
  // them afterwards give zeros or the old bytes, as the device likes; QEMU
  // with discard=unmap punches a hole in the image). Write-zeroes: reads
  // of them give zeros afterwards; `may_unmap` lets the device free the
  // storage meanwhile. OpNotSupported when the device does not offer the
  // operation (callers that need zeros write them), then as read/write:
  // ReadOnly, Range, Io; count 0 does nothing. Large ranges are split by
  // the device's limits (split_piece) into several requests.
  Result<void> discard(uint64_t sector, uint64_t count) { return trimmed(Trim::Discard, sector, count); }
  Result<void> write_zeroes(uint64_t sector, uint64_t count, bool may_unmap) {
    return trimmed(may_unmap ? Trim::ZeroesUnmap : Trim::Zeroes, sector, count);
  }
  bool can_discard() const { return discard_.max_sectors != 0; }
  bool can_write_zeroes() const { return zeroes_.max_sectors != 0; }
  // The identity string (virtio-blk GET_ID: QEMU's serial=), NUL
  // terminated, at most 20 bytes; empty when the device has none.
  virtual Result<void> identity(char* buf, size_t cap) = 0;

 protected:
  ~Device() = default;
  // The driver's part of read and write: the range is checked and count is
  // not 0; `write` has passed the read-only check.
  virtual Result<void> transfer(bool write, uint64_t sector, uint8_t* buf, size_t count) = 0;
  enum class Trim : uint8_t { Discard, Zeroes, ZeroesUnmap };
  // One request of discard or write-zeroes: checked, within the limits the
  // driver set (count <= max_sectors), never called for a zero limit.
  virtual Result<void> trim(Trim op, uint64_t sector, uint32_t count) { return Error::OpNotSupported; }
  struct TrimLimits {
    uint32_t max_sectors = 0;  // per request; 0: the device does not offer it
    uint32_t alignment = 1;    // sectors: pieces after the first start on a multiple
  };

  // Set by the driver's probe.
  char name_[16] = {};
  uint64_t sectors_ = 0;
  uint32_t block_size_ = SECTOR_SIZE;
  bool read_only_ = false;
  TrimLimits discard_, zeroes_;

 private:
  Result<void> checked(bool write, uint64_t sector, uint8_t* buf, size_t count) {
    if (sector > sectors_ || count > sectors_ - sector) return Error::Range;
    if (!count) return {};
    return transfer(write, sector, buf, count);
  }
  Result<void> trimmed(Trim op, uint64_t sector, uint64_t count) {
    const TrimLimits& l = op == Trim::Discard ? discard_ : zeroes_;
    if (!l.max_sectors) return Error::OpNotSupported;
    if (read_only_) return Error::ReadOnly;
    if (sector > sectors_ || count > sectors_ - sector) return Error::Range;
    const uint64_t end = sector + count;
    while (sector < end) {
      const uint64_t n = split_piece(sector, end, l.max_sectors, l.alignment);
      TRY(trim(op, sector, uint32_t(n)));
      sector += n;
    }
    return {};
  }
};

// The devices found at boot, in probe order. Never removed.
void register_device(Device* d);
size_t device_count();
Device* device(size_t i);
// By name ("vda"); nullptr if none.
Device* find(StringView name);

}  // namespace capsule::block
