// Space and sync calls on files (docs/vfs.md): fallocate, sync, syncfs,
// sync_file_range, and name_to_handle_at's refusal (fadvise64 and
// readahead are in sys_fadvise.cc). Files live in memory, so syncing is
// accepted and does nothing, after the checks Linux makes.
#include "linux/file_common.h"
#include "linux/pipe_file.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr uint64_t FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2, FALLOC_FL_NO_HIDE_STALE = 4,
                   FALLOC_FL_COLLAPSE_RANGE = 8, FALLOC_FL_ZERO_RANGE = 0x10, FALLOC_FL_INSERT_RANGE = 0x20,
                   FALLOC_FL_UNSHARE_RANGE = 0x40;
constexpr uint64_t kFallocKnown = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_NO_HIDE_STALE |
                                  FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE |
                                  FALLOC_FL_UNSHARE_RANGE;

// EBADF for a closed or O_PATH descriptor.
Result<vfs::FileRef> io_file(uint64_t fd) {
  auto f = get_file(fd);
  if (!f.ok() || (f.value()->flags() & OpenFile::PATH)) return Error::BadFd;
  return f;
}

}  // namespace

// fallocate(2), in the order Linux's vfs_fallocate checks. ramfs (tmpfs)
// supports mode 0, KEEP_SIZE and PUNCH_HOLE|KEEP_SIZE; the rest is
// EOPNOTSUPP, as on tmpfs.
LINUX_SYSCALL(285, fallocate, "fxdd") {
  uint64_t mode = args.a[1];
  int64_t offset = int64_t(args.a[2]), len = int64_t(args.a[3]);
  auto fr = io_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  if (offset < 0 || len <= 0) return -kEINVAL;
  if (mode & ~kFallocKnown) return -kEOPNOTSUPP;
  if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE)) return -kEOPNOTSUPP;
  if ((mode & FALLOC_FL_PUNCH_HOLE) && (mode & FALLOC_FL_ZERO_RANGE)) return -kEOPNOTSUPP;
  if (!f.writable()) return -kEBADF;
  vfs::Vnode& v = f.vnode();
  if (v.type() == vfs::VType::Fifo || pipe_end_of(v)) return -kESPIPE;
  if (v.is_dir()) return -kEISDIR;
  if (!v.is_regular() || v.is_stream()) return -kENODEV;
  int64_t end;
  if (__builtin_add_overflow(offset, len, &end)) return -kEFBIG;
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return -kEOPNOTSUPP;
  Result<void> r = (mode & FALLOC_FL_PUNCH_HOLE) ? v.punch_hole(uint64_t(offset), uint64_t(len))
                                                 : v.allocate(uint64_t(offset), uint64_t(len), mode & FALLOC_FL_KEEP_SIZE);
  if (!r.ok() && r.error() == Error::NotSupported) return -kEOPNOTSUPP;
  return ret(static_cast<Result<void>&&>(r));
}

LINUX_SYSCALL(162, sync, "") { return 0; }

LINUX_SYSCALL(306, syncfs, "f") { return get_file(args.a[0]).ok() ? 0 : -kEBADF; }

// sync_file_range(2): flags within WAIT_BEFORE|WRITE|WAIT_AFTER, a
// non-negative range; ESPIPE on pipes.
LINUX_SYSCALL(277, sync_file_range, "fddx") {
  auto fr = io_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  if (args.a[3] & ~uint64_t(7)) return -kEINVAL;
  int64_t end;
  if (int64_t(args.a[1]) < 0 || int64_t(args.a[2]) < 0 ||
      __builtin_add_overflow(int64_t(args.a[1]), int64_t(args.a[2]), &end))
    return -kEINVAL;
  vfs::Vnode& v = fr.value()->vnode();
  if (v.type() == vfs::VType::Fifo || pipe_end_of(v)) return -kESPIPE;
  return 0;
}

// File handles need a file system that can find a file by a stable id;
// ramfs cannot (and has no export support): EOPNOTSUPP, as Linux says
// for such file systems.
LINUX_SYSCALL(303, name_to_handle_at, "fsppx") { return -kEOPNOTSUPP; }

}  // namespace capsule::linux_abi
