#pragma once
// The block layer under disk file systems (docs/block.md): a BlockIo is
// what a file system's blocks come from (a disk: kernel/ adapts a driver's
// block::Device; memory: the host tests and the fuzzer), and a BlockCache
// keeps recently used metadata blocks (superblock, group descriptors,
// inode tables, extent and directory blocks) with reference counts.
//
//   BlockCache cache(io, 4096, 256);
//   auto b = TRY(cache.get(block));   // read on a miss; Io/Range upward
//   use b.data() ... ;                // the block stays while b lives
//
// File data does not go through it: a file keeps its own pages (the page
// cache of fs/ext4) and reads them with read_blocks().
#include <cstddef>
#include <cstdint>

#include "fs/vfs/platform.h"
#include "lib/result.h"

namespace capsule::bcache {

inline constexpr size_t SECTOR_SIZE = 512;

class BlockIo {
 public:
  virtual uint64_t sectors() const = 0;
  virtual bool read_only() const = 0;
  // As block::Device (drivers/include/drivers/block.h): kernel heap or
  // direct-map memory; Range past the end, Io for a device error.
  virtual Result<void> read(uint64_t sector, void* buf, size_t count) = 0;
  virtual Result<void> write(uint64_t sector, const void* buf, size_t count) = 0;
  virtual Result<void> flush() = 0;
  // The device may forget `count` sectors from `sector` (block::Device's
  // discard): OpNotSupported, the default, where it cannot.
  virtual Result<void> discard(uint64_t sector, uint64_t count) { return Error::OpNotSupported; }

 protected:
  ~BlockIo() = default;
};

class BlockCache;

// One cached block, held: its bytes stay valid and in place until the
// reference goes.
class BlockRef {
 public:
  BlockRef() = default;
  BlockRef(BlockRef&& o) : cache_(o.cache_), buf_(o.buf_) { o.buf_ = nullptr; }
  BlockRef& operator=(BlockRef&& o);
  BlockRef(const BlockRef&) = delete;
  BlockRef& operator=(const BlockRef&) = delete;
  ~BlockRef() { reset(); }
  void reset();
  const uint8_t* data() const;
  // The bytes to change; BlockCache::write() then puts them on the device
  // (the file system serializes its changes to one block).
  uint8_t* mutable_data();
  uint64_t block() const;
  explicit operator bool() const { return buf_ != nullptr; }

 private:
  friend class BlockCache;
  struct Buf;
  BlockRef(BlockCache* c, Buf* b) : cache_(c), buf_(b) {}
  BlockCache* cache_ = nullptr;
  Buf* buf_ = nullptr;
};

struct CacheStats {
  uint64_t hits = 0, misses = 0, evictions = 0, errors = 0;
  size_t cached = 0;
};

class BlockCache {
 public:
  // block_size: a power of two from 512 to 65536. capacity: blocks kept
  // when nobody holds them (held blocks may exceed it).
  BlockCache(BlockIo& io, uint32_t block_size, size_t capacity);
  ~BlockCache();  // every BlockRef must be gone
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  uint32_t block_size() const { return block_size_; }
  uint64_t blocks() const { return blocks_; }
  bool read_only() const { return io_.read_only(); }

  // The block, read from the device if it is not cached. Range past the
  // device's end; the device's error (Io) otherwise, and nothing is
  // cached then (the next get reads again).
  Result<BlockRef> get(uint64_t block);
  // `count` blocks from `block` straight into `buf` (kernel heap or direct
  // map memory), bypassing the cache.
  Result<void> read_blocks(uint64_t block, size_t count, void* buf);

  // --- writing (write-through: nothing is held back, docs/ext4.md) ---
  // The held block's bytes (changed through mutable_data()) to the device
  // now. ReadOnly on a read-only device.
  Result<void> write(const BlockRef& b);
  // A block about to be filled whole (a newly allocated metadata block):
  // zeros, cached, not read from the device.
  Result<BlockRef> get_zeroed(uint64_t block);
  // `count` blocks from `buf` straight to the device (file data); cached
  // copies of those blocks are updated too, so the cache is never stale.
  Result<void> write_blocks(uint64_t block, size_t count, const void* buf);
  // The device's volatile cache to stable storage (fsync, sync).
  Result<void> flush() { return io_.flush(); }

  CacheStats stats();

 private:
  friend class BlockRef;
  using Buf = BlockRef::Buf;
  void put(Buf* b);
  Buf* find_locked(uint64_t block) REQUIRES(lock_);
  // A held entry for `block`: found, or made (read from the device unless
  // `zero`).
  Result<BlockRef> get_or_make(uint64_t block, bool zero);

  BlockIo& io_;
  const uint32_t block_size_;
  const uint32_t sectors_per_block_;
  const uint64_t blocks_;
  const size_t capacity_;
  // Guards the table, the LRU list and every Buf's refs. Held across the
  // device read of a miss: one miss at a time (docs/block.md).
  vfs::FsMutex lock_;
  static constexpr size_t BUCKETS = 256;
  Buf* table_[BUCKETS] GUARDED_BY(lock_) = {};
  // Blocks nobody holds, least recently used first (evicted from the head).
  Buf* lru_head_ GUARDED_BY(lock_) = nullptr;
  Buf* lru_tail_ GUARDED_BY(lock_) = nullptr;
  CacheStats stats_ GUARDED_BY(lock_);
};

}  // namespace capsule::bcache
