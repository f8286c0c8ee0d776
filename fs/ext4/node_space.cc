// fallocate on ext4 files (fs/ext4/node.h, docs/ext4.md "fallocate"):
// mode 0 and KEEP_SIZE back the range's holes with unwritten extents
// (fs/ext4/extent_range.cc), which read as zeros until written; PUNCH_HOLE
// zeros the partial blocks at the range's ends (in the pages and on the
// disk) and gives the whole blocks between back. The syscall layer
// (linux/sys_file_space.cc) answers the other modes EOPNOTSUPP.
#include "fs/ext4/node.h"

namespace capsule::ext4 {
namespace {

constexpr size_t PAGE = 4096;
constexpr uint64_t BATCH_BLOCKS = 1024;  // blocks per transaction

}  // namespace

Result<void> Node::allocate(uint64_t offset, uint64_t len, bool keep_size) {
  if (is_dir()) return Error::IsDir;
  if (!is_regular()) return Error::Invalid;
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  const uint32_t bs = fs.block_size();
  if (len == 0) return Error::Invalid;
  if (offset > 0xFFFFFFFFull * bs || len > 0xFFFFFFFFull * bs - offset) return Error::FileTooBig;
  const uint64_t end = offset + len;
  vfs::FsGuard g(lock_);
  // A transaction per batch of blocks: a large range does not outgrow the
  // journal. NoSpace part way keeps what was allocated (Linux too).
  for (uint64_t b = offset / bs, last = (end + bs - 1) / bs; b < last;) {
    uint64_t stop = last - b > BATCH_BLOCKS ? b + BATCH_BLOCKS : last;
    Ext4Fs::Txn t(fs);
    Result<void> r = fs.prealloc(in_, b, stop);
    // The size and times only when the whole range is backed.
    if (r.ok() && stop == last && !keep_size && end > in_.size) {
      in_.size = end;
      in_.mtime_ns = vfs::fs_now_ns();
    }
    in_.ctime_ns = vfs::fs_now_ns();
    TRY(fs.write_inode(in_));  // the tree and block count, even after a failure
    TRY(r);
    b = stop;
  }
  return {};
}

Result<void> Node::punch_hole(uint64_t offset, uint64_t len) {
  if (is_dir()) return Error::IsDir;
  if (!is_regular()) return Error::Invalid;
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  const uint32_t bs = fs.block_size();
  vfs::FsGuard g(lock_);
  // As Linux's ext4: nothing past the size is punched but the rest of the
  // page that holds the end of the file.
  if (offset >= in_.size || len == 0) return {};
  const uint64_t limit = in_.size + PAGE - in_.size % PAGE;
  uint64_t end = len > limit - offset ? limit : offset + len;
  // 1. The cached pages read zeros over the range (mappings see them).
  for (uint64_t pos = offset; pos < end;) {
    uint64_t k = PAGE - pos % PAGE;
    if (k > end - pos) k = end - pos;
    if (uint8_t* p = pages_.get(pos / PAGE)) __builtin_memset(p + pos % PAGE, 0, k);
    pos += k;
  }
  // 2. A block the range covers in part: its zeros on the disk.
  const uint64_t whole_lo = (offset + bs - 1) / bs, whole_hi = end / bs;
  for (uint64_t edge : {offset, end}) {
    if (edge % bs == 0 || edge >= in_.size) continue;
    if (edge == end && end / bs < whole_lo) continue;  // the same block as the start's
    uint8_t* p = TRY(page_locked(edge / PAGE));  // read now if it was not cached in step 1
    uint64_t page_lo = edge / PAGE * PAGE;
    uint64_t lo = offset > page_lo ? offset : page_lo, hi = end < page_lo + PAGE ? end : page_lo + PAGE;
    __builtin_memset(p + (lo - page_lo), 0, hi - lo);
    uint64_t lblk = edge / bs, run, pblk;
    {
      Ext4Fs::Txn t(fs);
      pblk = TRY(fs.map(in_, lblk, &run));
    }
    if (pblk) TRY(fs.cache().write_blocks(pblk, 1, p + (lblk * bs) % PAGE));
  }
  // 3. The whole blocks go back.
  Ext4Fs::Txn t(fs);
  if (whole_lo < whole_hi) TRY(fs.punch_blocks(in_, whole_lo, whole_hi));
  in_.mtime_ns = in_.ctime_ns = vfs::fs_now_ns();
  return fs.write_inode(in_);
}

}  // namespace capsule::ext4
