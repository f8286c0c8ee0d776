// Block device nodes (linux/block_file.h): /dev/vda, /dev/nvme0n1... for
// every block::Device the probes found, as Linux's devtmpfs shows them, so
// that programs reach the raw disk: read/write/pread/pwrite at any byte
// offset (whole sectors go straight to the device through a bounce buffer,
// a partial sector is read, patched and written back), fsync (the device's
// flush), fallocate's PUNCH_HOLE and the block ioctls util-linux uses (blkdiscard, blockdev,
// fallocate): BLKGETSIZE64, BLKGETSIZE, BLKSSZGET, BLKPBSZGET, BLKBSZGET,
// BLKIOMIN, BLKIOOPT, BLKROGET, BLKFLSBUF, BLKDISCARDZEROES, BLKDISCARD,
// BLKZEROOUT (docs/block.md "Device nodes").
//
// Linux's answers, kept here (block/ioctl.c, block/fops.c): a write or a
// discard/zero-out on a read-only disk is EPERM; BLKDISCARD/BLKZEROOUT on
// a descriptor not open for writing is EBADF; a range not in whole logical
// blocks, or past the end, is EINVAL (BLKZEROOUT of 0 bytes too); a
// device without discard is EOPNOTSUPP; BLKZEROOUT on a device without
// write-zeroes writes zeros. A write starting at or past the end is ENOSPC;
// a read there returns 0.
#include "linux/block_file.h"

#include <new>

#include "arch/uaccess.h"
#include "core/mm.h"
#include "drivers/block.h"
#include "fs/block_device_table.h"
#include "fs/file.h"
#include "fs/vfs/platform.h"
#include "lib/log.h"

namespace capsule::linux_abi {
namespace {

using vfs::IoBuffer;
using vfs::VnodeRef;

// <linux/fs.h>: _IO(0x12, n) and _IOR(0x12, n, size_t).
constexpr uint64_t BLKROGET = 0x125e, BLKGETSIZE = 0x1260, BLKFLSBUF = 0x1261, BLKSSZGET = 0x1268,
                   BLKDISCARD = 0x1277, BLKIOMIN = 0x1278, BLKIOOPT = 0x1279, BLKPBSZGET = 0x127b,
                   BLKDISCARDZEROES = 0x127c, BLKSECDISCARD = 0x127d, BLKZEROOUT = 0x127f,
                   BLKBSZGET = 0x80081270, BLKGETSIZE64 = 0x80081272;

// Linux's block majors: virtio-blk's (dynamic on Linux, 254 or 253 in
// practice) and blkext (259, NVMe namespaces).
constexpr uint64_t VIRTIO_MAJOR = 254, NVME_MAJOR = 259;
constexpr size_t MAX_NODES = 16;
constexpr size_t BOUNCE = 64 * 1024;  // bytes per device request from a read or write
constexpr uint64_t SECTOR = block::SECTOR_SIZE;

class BlockFs final : public vfs::FileSystem {
 public:
  const char* name() const override { return "bdev"; }
  VnodeRef root() override { return {}; }
};

class BlockFile final : public vfs::Vnode {
 public:
  BlockFile(BlockFs* fs, uint64_t ino, block::Device* d, uint64_t rdev)
      : Vnode(fs, ino, vfs::MODE_BLOCK | 0660), d_(d), rdev_(rdev), time_ns_(vfs::fs_now_ns()) {}

  Result<size_t> read(uint64_t offset, IoBuffer& buf) override {
    const uint64_t bytes = d_->sectors() * SECTOR;
    if (offset >= bytes || !buf.size()) return size_t(0);
    size_t want = buf.size() < bytes - offset ? buf.size() : size_t(bytes - offset);
    auto* bounce = static_cast<uint8_t*>(kmalloc(BOUNCE));
    if (!bounce) return Error::NoMemory;
    size_t done = 0;
    Result<void> err;
    while (done < want) {
      const uint64_t pos = offset + done;
      const uint64_t first = pos / SECTOR, skip = pos % SECTOR;
      size_t n = want - done;
      if (n > BOUNCE - skip) n = BOUNCE - skip;
      const uint64_t sectors = (skip + n + SECTOR - 1) / SECTOR;
      err = d_->read(first, bounce, sectors);
      if (!err.ok()) break;
      auto moved = buf.copy_out_partial(done, bounce + skip, n);
      if (!moved.ok()) {
        err = moved.error();
        break;
      }
      done += moved.value();
      if (moved.value() < n) break;
    }
    kfree(bounce);
    if (!err.ok() && !done) return err.error();
    return done;
  }

  Result<size_t> write(uint64_t* offset, IoBuffer& buf, bool) override {
    if (d_->read_only()) return Error::Permission;  // blkdev_write_iter
    const uint64_t bytes = d_->sectors() * SECTOR;
    if (!buf.size()) return size_t(0);
    if (*offset >= bytes) return Error::NoSpace;
    size_t want = buf.size() < bytes - *offset ? buf.size() : size_t(bytes - *offset);
    auto* bounce = static_cast<uint8_t*>(kmalloc(BOUNCE));
    if (!bounce) return Error::NoMemory;
    size_t done = 0;
    Result<void> err;
    while (done < want) {
      const uint64_t pos = *offset + done;
      const uint64_t first = pos / SECTOR, skip = pos % SECTOR;
      size_t n = want - done;
      if (n > BOUNCE - skip) n = BOUNCE - skip;
      const uint64_t sectors = (skip + n + SECTOR - 1) / SECTOR;
      const bool partial = skip || (skip + n) % SECTOR;
      // A partial sector is read, patched and written back: one at a time,
      // so that two writers into the same sector do not undo each other.
      vfs::FsGuard g(rmw_);
      if (partial) {
        err = d_->read(first, bounce, sectors);
        if (!err.ok()) break;
      }
      // A fault part way writes nothing of this piece: the count so far.
      err = buf.copy_in(done, bounce + skip, n);
      if (!err.ok()) break;
      err = d_->write(first, bounce, sectors);
      if (!err.ok()) break;
      done += n;
    }
    kfree(bounce);
    *offset += done;
    if (!err.ok() && !done) return err.error();
    return done;
  }

  Result<void> fsync() override { return d_->flush(); }
  // fallocate(PUNCH_HOLE|KEEP_SIZE), as Linux's blkdev_fallocate: whole
  // logical blocks (EINVAL), starting inside the disk (EINVAL), cut at its
  // end; the device's write-zeroes with unmap allowed, EOPNOTSUPP without
  // one (no fallback to writing zeros). Mode 0 and KEEP_SIZE: EOPNOTSUPP.
  Result<void> punch_hole(uint64_t offset, uint64_t len) override {
    const uint64_t bytes = d_->sectors() * SECTOR;
    if ((offset | len) & (d_->block_size() - 1)) return Error::Invalid;
    if (offset >= bytes) return Error::Invalid;
    if (len > bytes - offset) len = bytes - offset;
    if (d_->read_only()) return Error::Permission;
    if (!d_->can_write_zeroes()) return Error::OpNotSupported;
    return d_->write_zeroes(offset / SECTOR, len / SECTOR, true);
  }
  Result<void> allocate(uint64_t, uint64_t, bool) override { return Error::OpNotSupported; }
  Result<void> truncate(uint64_t) override { return {}; }  // O_TRUNC on a device: nothing (Linux)

  Result<vfs::Attr> getattr() override {
    vfs::Attr a;
    a.dev = fs()->dev();
    a.ino = ino();
    a.mode = vfs::MODE_BLOCK | 0660;
    a.nlink = 1;
    a.rdev = rdev_;
    a.size = 0;  // as Linux's stat of a device node; BLKGETSIZE64 tells the size
    a.atime_ns = a.mtime_ns = a.ctime_ns = time_ns_;
    return a;
  }
  Result<void> setattr(const vfs::SetAttr&) override { return {}; }

  Result<int64_t> ioctl(vfs::OpenFile& f, uint64_t cmd, uint64_t arg) override {
    const uint64_t bytes = d_->sectors() * SECTOR;
    switch (cmd) {
      case BLKGETSIZE64: TRY(UserPtr<uint64_t>(arg).write(bytes)); return 0;
      case BLKGETSIZE: TRY(UserPtr<uint64_t>(arg).write(d_->sectors())); return 0;
      case BLKSSZGET: TRY(UserPtr<int>(arg).write(int(d_->block_size()))); return 0;
      case BLKPBSZGET:
      case BLKIOMIN: TRY(UserPtr<uint32_t>(arg).write(d_->block_size())); return 0;
      case BLKIOOPT: TRY(UserPtr<uint32_t>(arg).write(0)); return 0;
      case BLKBSZGET: TRY(UserPtr<int>(arg).write(4096)); return 0;
      case BLKROGET: TRY(UserPtr<int>(arg).write(d_->read_only() ? 1 : 0)); return 0;
      case BLKDISCARDZEROES: TRY(UserPtr<uint32_t>(arg).write(0)); return 0;
      case BLKFLSBUF: TRY(d_->flush()); return 0;
      case BLKSECDISCARD: return Error::OpNotSupported;
      case BLKDISCARD:
      case BLKZEROOUT: {
        if (!f.writable()) return Error::BadFd;
        if (cmd == BLKDISCARD && !d_->can_discard()) return Error::OpNotSupported;
        struct Range {
          uint64_t start, len;
        };
        const Range r = TRY(UserPtr<const Range>(arg).read());
        // In whole logical blocks (512 bytes, or 4 KiB on such a disk:
        // Linux's blkdev_issue_discard/zeroout check the same).
        if ((r.start | r.len) & (d_->block_size() - 1)) return Error::Invalid;
        if (r.start + r.len < r.start || r.start + r.len > bytes) return Error::Invalid;
        if (cmd == BLKZEROOUT && !r.len) return Error::Invalid;
        if (d_->read_only()) return Error::Permission;
        if (cmd == BLKDISCARD) {
          TRY(d_->discard(r.start / SECTOR, r.len / SECTOR));
          return 0;
        }
        TRY(zero_out(r.start / SECTOR, r.len / SECTOR));
        return 0;
      }
      default: return Error::NotSupported;
    }
  }

 private:
  // BLKZEROOUT: the device's write-zeroes (no unmap: BLKDEV_ZERO_NOUNMAP),
  // or zeros written when it has none.
  Result<void> zero_out(uint64_t sector, uint64_t count) {
    if (d_->can_write_zeroes()) {
      auto r = d_->write_zeroes(sector, count, false);
      if (r.ok() || r.error() != Error::Io) return r;
      // A device that offers it but fails it: fall back, as Linux does.
    }
    auto* zeros = static_cast<uint8_t*>(kmalloc(BOUNCE));
    if (!zeros) return Error::NoMemory;
    __builtin_memset(zeros, 0, BOUNCE);
    Result<void> r;
    while (count && r.ok()) {
      uint64_t n = count < BOUNCE / SECTOR ? count : BOUNCE / SECTOR;
      r = d_->write(sector, zeros, n);
      sector += n;
      count -= n;
    }
    kfree(zeros);
    return r;
  }

  block::Device* d_;
  uint64_t rdev_;
  int64_t time_ns_;
  vfs::FsMutex rmw_;
};

BlockFile* g_nodes[MAX_NODES];
uint64_t g_rdevs[MAX_NODES];
size_t g_node_count;  // set at boot, before any open

Result<VnodeRef> open_block(uint64_t rdev, uint32_t) {
  for (size_t i = 0; i < g_node_count; ++i)
    if (g_rdevs[i] == rdev) return VnodeRef(g_nodes[i]);
  return Error::NoDeviceOrAddress;
}

}  // namespace

Result<void> block_files_init(vfs::Vfs& v, const vfs::PathContext& pc) {
  auto* fs = new (std::nothrow) BlockFs;
  if (!fs) return Error::NoMemory;
  size_t virtio = 0, nvme = 0;
  for (size_t i = 0; i < block::device_count() && g_node_count < MAX_NODES; ++i) {
    block::Device* d = block::device(i);
    const bool is_vd = d->name()[0] == 'v' && d->name()[1] == 'd';
    // Linux: vda is minor 0, vdb 16 (15 partitions each); nvme0n1 minor 0.
    const uint64_t rdev = is_vd ? (VIRTIO_MAJOR << 32 | virtio++ * 16) : (NVME_MAJOR << 32 | nvme++);
    auto* node = new (std::nothrow) BlockFile(fs, 100 + i, d, rdev);
    if (!node) return Error::NoMemory;
    g_nodes[g_node_count] = node;
    g_rdevs[g_node_count++] = rdev;
    TRY(vfs::register_block_device(rdev, open_block));
    char path[32] = "/dev/";
    size_t k = 5;
    for (const char* p = d->name(); *p && k + 1 < sizeof path; ++p) path[k++] = *p;
    path[k] = 0;
    vfs::CreateArgs a;
    a.mode = vfs::MODE_BLOCK | 0660;
    a.rdev = rdev;
    if (auto r = v.mknod(pc, path, a); !r.ok() && r.error() != Error::Exists)
      log_warn("{}: no device node ({})", path, error_name(r.error()));
  }
  return {};
}

}  // namespace capsule::linux_abi
