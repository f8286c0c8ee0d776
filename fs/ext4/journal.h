#pragma once
// The ext4 journal (jbd2) as a writer uses it (docs/ext4.md "Journal"):
// a transaction's metadata blocks (the changes batched since the last
// commit) go to the log first (descriptor blocks, the blocks' copies, a
// commit block; with metadata_csum, jbd2's checksum v3 on every one),
// then in place. A crash before the commit block is on the disk loses
// that transaction whole; after it, e2fsck (or Linux's mount) replays it. Formats from the kernel.org "Journal (jbd2)"
// documentation; everything in the journal is big-endian.
#include <cstddef>
#include <cstdint>

#include "fs/block_cache.h"
#include "fs/ext4/layout.h"

namespace capsule::ext4 {

class Ext4Fs;

class Journal {
 public:
  // Reads and checks the journal superblock of the journal inode `jin`.
  // NotSupported (why says it) for a journal this writer does not use:
  // external, version 1, fast commits, unknown features, another block
  // size; Busy when it is not empty (it needs recovery), unless
  // `allow_dirty` (replay() follows).
  Result<void> load(Ext4Fs& fs, const Inode& jin, Why& why, bool allow_dirty = false);
  // A journal left by a crash: every transaction whose commit block (and,
  // with checksums, every block) is whole is written in place, in order;
  // the first incomplete one ends the replay; then the journal is empty.
  // Revoke records (Linux writes them) are honoured as jbd2 does: a first
  // pass collects those of committed transactions, the second skips every
  // copy of a block logged by a transaction up to the one that revoked
  // it. Io for a device error. Returns the transactions replayed.
  Result<uint32_t> replay(Why& why);
  // Before the first transaction: the features this writer uses (64bit
  // tags on a 64bit volume, checksum v3 with metadata_csum) into the
  // journal superblock.
  Result<void> start();
  // One transaction: the held blocks' current bytes to the log after the
  // last transaction (or from the start when it does not fit there), a
  // flush (the data written for it and the last checkpoint are then on
  // stable storage), the commit block and the journal superblock pointing
  // at it, a flush; then the blocks in place (the checkpoint), which the
  // next commit's first flush makes stable. Until then a replay finds this
  // transaction, so the log holds at most two, never overlapping. TooBig
  // when the journal cannot hold them (the caller drains it and writes
  // them in place unjournaled).
  Result<void> commit(bcache::BlockRef* blocks, size_t n);
  // The last checkpoint made stable and the journal marked empty (flushed):
  // unmount, and before anything is written in place unjournaled.
  Result<void> drain();
  // Log blocks a transaction may use.
  uint32_t capacity() const { return maxlen_ - first_; }

 private:
  Result<uint64_t> phys(uint64_t jblock);
  Result<void> write_super(uint32_t start, uint32_t sequence);
  size_t tag_bytes() const;

  Ext4Fs* fs_ = nullptr;
  Inode jin_;
  uint32_t block_size_ = 0, first_ = 0, maxlen_ = 0, sequence_ = 0, start_ = 0;
  // The last committed transaction's log blocks [live_start_, live_end_)
  // (live_start_ 0: the journal is empty).
  uint32_t live_start_ = 0, live_end_ = 0;
  uint32_t incompat_ = 0;
  bool csum_ = false;  // checksum v3
  uint32_t seed_ = 0;  // crc32c(~0, uuid)
  uint8_t uuid_[16] = {};
};

}  // namespace capsule::ext4
