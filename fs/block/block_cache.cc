// The metadata block cache (fs/include/fs/block_cache.h, docs/block.md):
// a hash table of cached blocks; the ones nobody holds sit on an LRU list
// and are evicted from its head when more than `capacity` are cached.
#include <new>

#include "fs/block_cache.h"

namespace capsule::bcache {

struct BlockRef::Buf {
  uint64_t block;
  uint32_t refs;
  Buf* hash_next;
  Buf* lru_prev;  // on the LRU list only while refs == 0
  Buf* lru_next;
  uint8_t* data;
};

namespace {
size_t bucket(uint64_t block) { return size_t((block * 0x9e3779b97f4a7c15ull) >> 56); }
}  // namespace

BlockRef& BlockRef::operator=(BlockRef&& o) {
  if (this != &o) {
    reset();
    cache_ = o.cache_;
    buf_ = o.buf_;
    o.buf_ = nullptr;
  }
  return *this;
}

void BlockRef::reset() {
  if (buf_) cache_->put(buf_);
  buf_ = nullptr;
}

const uint8_t* BlockRef::data() const { return buf_ ? buf_->data : nullptr; }
uint8_t* BlockRef::mutable_data() { return buf_ ? buf_->data : nullptr; }
uint64_t BlockRef::block() const { return buf_ ? buf_->block : 0; }

BlockCache::BlockCache(BlockIo& io, uint32_t block_size, size_t capacity)
    : io_(io),
      block_size_(block_size),
      sectors_per_block_(block_size / SECTOR_SIZE),
      blocks_(io.sectors() / (block_size / SECTOR_SIZE)),
      capacity_(capacity ? capacity : 1) {}

BlockCache::~BlockCache() {
  vfs::FsGuard g(lock_);
  for (Buf*& head : table_) {
    while (Buf* b = head) {
      head = b->hash_next;
      delete[] b->data;
      delete b;
    }
  }
}

BlockCache::Buf* BlockCache::find_locked(uint64_t block) {
  for (Buf* b = table_[bucket(block)]; b; b = b->hash_next)
    if (b->block == block) return b;
  return nullptr;
}

Result<BlockRef> BlockCache::get(uint64_t block) { return get_or_make(block, false); }

Result<BlockRef> BlockCache::get_zeroed(uint64_t block) {
  BlockRef r = TRY(get_or_make(block, true));
  __builtin_memset(r.mutable_data(), 0, block_size_);
  return r;
}

Result<BlockRef> BlockCache::get_or_make(uint64_t block, bool zero) {
  if (block >= blocks_) return Error::Range;
  vfs::FsGuard g(lock_);
  if (Buf* b = find_locked(block)) {
    ++stats_.hits;
    if (b->refs++ == 0) {  // off the LRU list while held
      (b->lru_prev ? b->lru_prev->lru_next : lru_head_) = b->lru_next;
      (b->lru_next ? b->lru_next->lru_prev : lru_tail_) = b->lru_prev;
    }
    return BlockRef(this, b);
  }
  ++stats_.misses;
  // Make room: drop the least recently used unheld blocks.
  while (stats_.cached >= capacity_ && lru_head_) {
    Buf* victim = lru_head_;
    lru_head_ = victim->lru_next;
    (lru_head_ ? lru_head_->lru_prev : lru_tail_) = nullptr;
    Buf** pp = &table_[bucket(victim->block)];
    while (*pp != victim) pp = &(*pp)->hash_next;
    *pp = victim->hash_next;
    delete[] victim->data;
    delete victim;
    --stats_.cached;
    ++stats_.evictions;
  }
  auto* b = new (std::nothrow) Buf{block, 1, nullptr, nullptr, nullptr, nullptr};
  if (!b) return Error::NoMemory;
  b->data = new (std::nothrow) uint8_t[block_size_];
  if (!b->data) {
    delete b;
    return Error::NoMemory;
  }
  if (zero) {
    __builtin_memset(b->data, 0, block_size_);
  } else if (auto r = io_.read(block * sectors_per_block_, b->data, sectors_per_block_); !r.ok()) {
    ++stats_.errors;
    delete[] b->data;
    delete b;
    return r.error();
  }
  b->hash_next = table_[bucket(block)];
  table_[bucket(block)] = b;
  ++stats_.cached;
  return BlockRef(this, b);
}

void BlockCache::put(Buf* b) {
  vfs::FsGuard g(lock_);
  if (--b->refs) return;
  b->lru_prev = lru_tail_;
  b->lru_next = nullptr;
  (lru_tail_ ? lru_tail_->lru_next : lru_head_) = b;
  lru_tail_ = b;
}

Result<void> BlockCache::read_blocks(uint64_t block, size_t count, void* buf) {
  if (block > blocks_ || count > blocks_ - block) return Error::Range;
  return io_.read(block * sectors_per_block_, buf, count * sectors_per_block_);
}

Result<void> BlockCache::write(const BlockRef& b) {
  if (!b.buf_) return Error::Invalid;
  return io_.write(b.buf_->block * sectors_per_block_, b.buf_->data, sectors_per_block_);
}

Result<void> BlockCache::write_blocks(uint64_t block, size_t count, const void* buf) {
  if (block > blocks_ || count > blocks_ - block) return Error::Range;
  {
    vfs::FsGuard g(lock_);
    for (size_t i = 0; i < count; ++i)
      if (Buf* b = find_locked(block + i))
        __builtin_memcpy(b->data, static_cast<const uint8_t*>(buf) + i * block_size_, block_size_);
  }
  return io_.write(block * sectors_per_block_, buf, count * sectors_per_block_);
}

CacheStats BlockCache::stats() {
  vfs::FsGuard g(lock_);
  return stats_;
}

}  // namespace capsule::bcache
