// Space and sync calls on files (docs/vfs.md): fallocate, sync, syncfs,
// sync_file_range, and name_to_handle_at's refusal (fadvise64 and
// readahead are in sys_fadvise.cc). Files in memory need no syncing;
// ext4 writes metadata and allocating writes through to its disk and keeps
// overwrites in the page cache (docs/ext4.md "Write-back"): sync and
// syncfs write those back and flush the device's cache.
#include "fs/ext4.h"
#include "fs/vfs/notify.h"
#include "linux/file_common.h"
#include "linux/pipe_file.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2, FALLOC_FL_NO_HIDE_STALE = 4,
              FALLOC_FL_COLLAPSE_RANGE = 8, FALLOC_FL_ZERO_RANGE = 0x10, FALLOC_FL_INSERT_RANGE = 0x20,
              FALLOC_FL_UNSHARE_RANGE = 0x40;
constexpr int FALLOC_KNOWN = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_NO_HIDE_STALE |
                             FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE |
                             FALLOC_FL_UNSHARE_RANGE;

// EBADF for a closed or O_PATH descriptor.
Result<vfs::FileRef> io_file(Fd fd) {
  auto f = get_file(fd);
  if (!f.ok() || (f.value()->flags() & OpenFile::PATH)) return Error::BadFd;
  return f;
}

}  // namespace

// fallocate(2), in the order Linux's vfs_fallocate checks. ramfs (tmpfs)
// supports mode 0, KEEP_SIZE and PUNCH_HOLE|KEEP_SIZE; the rest is
// EOPNOTSUPP, as on tmpfs. A block device PUNCH_HOLE|KEEP_SIZE only
// (Linux's blkdev_fallocate also takes ZERO_RANGE: not here).
DEFINE_SYSCALL(285, fallocate, Result<void>, Fd fd, Flags<int> mode, int64_t offset, int64_t len) {
  vfs::FileRef fr = TRY(io_file(fd));
  OpenFile& f = *fr;
  if (offset < 0 || len <= 0) return Error::Invalid;
  if (mode & ~FALLOC_KNOWN) return Error::OpNotSupported;
  if (mode.has(FALLOC_FL_PUNCH_HOLE) && !mode.has(FALLOC_FL_KEEP_SIZE)) return Error::OpNotSupported;
  if (mode.has(FALLOC_FL_PUNCH_HOLE) && mode.has(FALLOC_FL_ZERO_RANGE)) return Error::OpNotSupported;
  if (!f.writable()) return Error::BadFd;
  vfs::Vnode& v = f.vnode();
  if (v.type() == vfs::VType::Fifo || pipe_end_of(v)) return Error::IllegalSeek;
  if (v.is_dir()) return Error::IsDir;
  // Regular files and block devices (linux/block_file.cc: a punched hole
  // is the disk's write-zeroes), as vfs_fallocate.
  if ((!v.is_regular() && v.type() != vfs::VType::Block) || v.is_stream()) return Error::NoDevice;
  int64_t end;
  if (__builtin_add_overflow(offset, len, &end)) return Error::FileTooBig;
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return Error::OpNotSupported;
  if (!mode.has(FALLOC_FL_KEEP_SIZE)) TRY(fsize_grow(TRY(v.getattr()).size, uint64_t(end)));  // RLIMIT_FSIZE
  Result<void> r = mode.has(FALLOC_FL_PUNCH_HOLE) ? v.punch_hole(uint64_t(offset), uint64_t(len))
                                                  : v.allocate(uint64_t(offset), uint64_t(len), mode.has(FALLOC_FL_KEEP_SIZE));
  if (!r.ok() && r.error() == Error::NotSupported) return Error::OpNotSupported;
  // vfs_fallocate(): a successful call is a modification.
  if (r.ok() && vfs::notify_active()) vfs::notify_event(v, f.note_path(), vfs::NOTE_MODIFY, true);
  return r;
}

DEFINE_SYSCALL(162, sync, Result<void>) {
  ext4::sync_all();
  return {};
}

// syncfs(2): the file's file system to stable storage. For ext4 every
// read-write volume is synced (a superset: the others' dirty pages too).
DEFINE_SYSCALL(306, syncfs, Result<void>, Fd fd) {
  vfs::FileRef f = TRY(get_file(fd));
  if (!f->vnode().is_regular() && !f->vnode().is_dir()) return {};
  ext4::sync_all();
  (void)f->vnode().fsync();  // other file systems' (9p: the host file's)
  return {};
}

// sync_file_range(2): flags within WAIT_BEFORE|WRITE|WAIT_AFTER, a
// non-negative range; ESPIPE on pipes.
DEFINE_SYSCALL(277, sync_file_range, Result<void>, Fd fd, int64_t offset, int64_t nbytes, Flags<uint32_t> flags) {
  vfs::FileRef f = TRY(io_file(fd));
  if (flags & ~uint32_t(7)) return Error::Invalid;
  int64_t end;
  if (offset < 0 || nbytes < 0 || __builtin_add_overflow(offset, nbytes, &end)) return Error::Invalid;
  vfs::Vnode& v = f->vnode();
  if (v.type() == vfs::VType::Fifo || pipe_end_of(v)) return Error::IllegalSeek;
  // SYNC_FILE_RANGE_WRITE: the file's dirty pages to the disk (all of them,
  // and the device's flush: more than asked, never less).
  if ((flags & 2) && v.is_regular()) return v.fdatasync();
  return {};
}

// File handles need a file system that can find a file by a stable id;
// ramfs cannot (and has no export support): EOPNOTSUPP, as Linux says
// for such file systems.
DEFINE_SYSCALL(303, name_to_handle_at, Result<void>, AtFd dirfd, UserString path, UserPtr<uint8_t> handle,
               UserPtr<int> mount_id, Flags<int> flags) {
  return Error::OpNotSupported;
}

}  // namespace capsule::linux_abi
