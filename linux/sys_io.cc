// Data transfer on descriptors: read, write, their positional and vectored
// forms, lseek and ioctl (docs/vfs.md). Every descriptor goes through its
// OpenFile, which hands a stream's transfers to the vnode's stream hooks.
#include <new>

#include "arch/uaccess.h"
#include "core/poll.h"
#include "linux/event_args.h"
#include "linux/file_async.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/socket_file.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr uint32_t FIONBIO = 0x5421, FIOCLEX = 0x5451, FIONCLEX = 0x5450, FIOASYNC = 0x5452;
// A socket's owner for SIGIO/SIGURG (sock_ioctl): FIOSETOWN = SIOCSPGRP,
// FIOGETOWN = SIOCGPGRP.
constexpr uint32_t FIOSETOWN = 0x8901, SIOCSPGRP = 0x8902, FIOGETOWN = 0x8903, SIOCGPGRP = 0x8904;

// pwritev2's RWF_APPEND / RWF_NOAPPEND: -1 keeps O_APPEND's say; RWF_DSYNC
// and RWF_SYNC as O_DSYNC and O_SYNC for the one call.
constexpr int RWF_HIPRI = 1, RWF_DSYNC = 2, RWF_SYNC = 4, RWF_NOWAIT = 8, RWF_APPEND = 0x10, RWF_NOAPPEND = 0x20;

// A write that must reach stable storage before it returns: O_DSYNC (data
// and what reading it back needs: fdatasync), O_SYNC (fsync), or
// pwritev2's RWF_DSYNC / RWF_SYNC for one call.
enum class SyncWrite { None, Data, All };

// read/write/readv/writev; offset < 0: the file's offset. asked: the
// count the program passed (before the MAX_RW cut), for the offset check.
Result<size_t> do_io(Fd fd, const Iov* iov, size_t n, bool write, int64_t offset, int append = -1,
                     uint64_t asked = 0, SyncWrite sync = SyncWrite::None) {
  vfs::FileRef fr = TRY(get_file(fd));
  OpenFile& f = *fr;
  bool positional = offset >= 0;
  // Linux: ESPIPE for a positional call on a stream before the access mode.
  if (positional && f.vnode().is_stream()) return Error::IllegalSeek;
  if (write ? !f.writable() : !f.readable()) return Error::BadFd;
  UserRanges ranges(iov, n);
  if (!f.vnode().is_stream() && f.vnode().is_regular()) {
    // Linux's rw_verify_area: a position + count past INT64_MAX is EINVAL
    // (never a wrap-around).
    uint64_t pos = positional ? uint64_t(offset) : f.offset();
    uint64_t count = asked > ranges.total() ? asked : ranges.total();
    if (pos > uint64_t(INT64_MAX) || count > uint64_t(INT64_MAX) - pos) return Error::Invalid;
    // RLIMIT_FSIZE: a write stops at the limit; at it, SIGXFSZ and EFBIG.
    // An append's position is the size now (another writer may move it
    // before the write: the check is not atomic with it).
    if (write && ranges.total()) {
      bool app = append > 0 || (append < 0 && (f.flags() & OpenFile::APPEND));
      if (app) pos = TRY(f.vnode().getattr()).size;
      ranges.limit(TRY(fsize_allow(pos, ranges.total())));
    }
  }
  UserBuffer buf(ranges);
  // A write clears set-user/group-ID unless the writer has CAP_FSETID
  // (fs/vfs/permission.h).
  if (write && ranges.total() && f.vnode().is_regular()) {
    vfs::Cred c;
    if (current_cred(c) && !c.fsetid) TRY(vfs::remove_privs(&c, f.vnode()));
  }
  if (!write) return io_done(positional ? f.pread(buf, uint64_t(offset)) : f.read(buf), false);
  Result<size_t> r = positional ? f.pwrite(buf, uint64_t(offset), append) : f.write(buf, append > 0);
  if (r.ok() && r.value() && f.vnode().is_regular()) {
    // As Linux's generic_write_sync: what was written is on stable
    // storage when the call returns, or the call fails (EIO).
    const uint32_t af = f.abi_flags.load();
    if ((af & O_SYNC) == O_SYNC) sync = SyncWrite::All;
    else if ((af & O_DSYNC) && sync == SyncWrite::None) sync = SyncWrite::Data;
    if (sync != SyncWrite::None) {
      Result<void> d = sync == SyncWrite::All ? f.vnode().fsync() : f.vnode().fdatasync();
      if (!d.ok()) return io_done(Result<size_t>(d.error()), false);
    }
  }
  return io_done(static_cast<Result<size_t>&&>(r), f.vnode().sigpipe());
}

// read/write/pread64/pwrite64: one range of at most MAX_RW bytes.
Result<size_t> simple_io(Fd fd, uint64_t buf, size_t count, bool write, int64_t offset) {
  if (count > size_t(INT64_MAX)) return Error::Invalid;
  Iov one{buf, count < MAX_RW ? count : MAX_RW};
  return do_io(fd, &one, 1, write, offset, -1, count);
}

Result<size_t> vector_io(Fd fd, UserPtr<const Iov> uiov, uint64_t count, bool write, int64_t offset,
                         int append = -1, SyncWrite sync = SyncWrite::None) {
  if (count > MAX_IOV) return Error::Invalid;
  TRY(get_file(fd));
  CallArray<Iov, 8> v(count ? count : 1);  // up to 8 vectors on the stack (Linux's UIO_FASTIOV)
  if (v.failed()) return Error::NoMemory;
  if (count) TRY(uiov.copy_in(v.get(), count));
  uint64_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    if (v[i].len > uint64_t(INT64_MAX) || (total += v[i].len) > uint64_t(INT64_MAX)) return Error::Invalid;
    if (total > MAX_RW) v[i].len -= total - MAX_RW, total = MAX_RW;
  }
  return do_io(fd, v.get(), count, write, offset, append, 0, sync);
}

// A negative offset: EINVAL, once the descriptor is known to be open.
Result<size_t> bad_offset(Fd fd) {
  TRY(get_file(fd));
  return Error::Invalid;
}

// preadv2/pwritev2 (readv(2)): offset -1 is the file's offset (which then
// moves); RWF_* flags, EOPNOTSUPP for unknown ones. DSYNC and SYNC make a
// write durable before it returns; the I/O is synchronous, so HIPRI needs
// nothing and NOWAIT never has to refuse.
Result<size_t> vector_io2(Fd fd, UserPtr<const Iov> iov, uint64_t count, int64_t offset, int flags, bool write) {
  if (flags & ~(RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND)) return Error::OpNotSupported;
  if (offset < -1) return bad_offset(fd);
  int append = !write ? -1 : (flags & RWF_APPEND) ? 1 : (flags & RWF_NOAPPEND) ? 0 : -1;
  SyncWrite sync = (flags & RWF_SYNC) ? SyncWrite::All : (flags & RWF_DSYNC) ? SyncWrite::Data : SyncWrite::None;
  return vector_io(fd, iov, count, write, offset, append, write ? sync : SyncWrite::None);
}

constexpr uint32_t FIONREAD = 0x541B, FIGETBSZ = 2;
constexpr unsigned L_SEEK_SET = 0, L_SEEK_CUR = 1, L_SEEK_END = 2, L_SEEK_DATA = 3, L_SEEK_HOLE = 4;

}  // namespace

DEFINE_SYSCALL(0, read, Result<size_t>, Fd fd, UserPtr<uint8_t> buf, size_t count) {
  return simple_io(fd, buf.addr(), count, false, -1);
}
DEFINE_SYSCALL(1, write, Result<size_t>, Fd fd, UserBytes buf, size_t count) {
  return simple_io(fd, buf.ptr.addr(), count, true, -1);
}
DEFINE_SYSCALL(17, pread64, Result<size_t>, Fd fd, UserPtr<uint8_t> buf, size_t count, int64_t offset) {
  if (offset < 0) return bad_offset(fd);
  return simple_io(fd, buf.addr(), count, false, offset);
}
DEFINE_SYSCALL(18, pwrite64, Result<size_t>, Fd fd, UserBytes buf, size_t count, int64_t offset) {
  if (offset < 0) return bad_offset(fd);
  return simple_io(fd, buf.ptr.addr(), count, true, offset);
}
DEFINE_SYSCALL(19, readv, Result<size_t>, Fd fd, UserPtr<const Iov> iov, uint64_t iovcnt) {
  return vector_io(fd, iov, iovcnt, false, -1);
}
DEFINE_SYSCALL(20, writev, Result<size_t>, Fd fd, UserPtr<const Iov> iov, uint64_t iovcnt) {
  return vector_io(fd, iov, iovcnt, true, -1);
}

// preadv/pwritev: the offset is pos_l (pos_h is its high half on 32-bit
// ABIs only); negative is EINVAL.
DEFINE_SYSCALL(295, preadv, Result<size_t>, Fd fd, UserPtr<const Iov> iov, uint64_t iovcnt, int64_t pos_l,
               uint64_t pos_h) {
  if (pos_l < 0) return bad_offset(fd);
  return vector_io(fd, iov, iovcnt, false, pos_l);
}
DEFINE_SYSCALL(296, pwritev, Result<size_t>, Fd fd, UserPtr<const Iov> iov, uint64_t iovcnt, int64_t pos_l,
               uint64_t pos_h) {
  if (pos_l < 0) return bad_offset(fd);
  return vector_io(fd, iov, iovcnt, true, pos_l);
}
DEFINE_SYSCALL(327, preadv2, Result<size_t>, Fd fd, UserPtr<const Iov> iov, uint64_t iovcnt, int64_t pos_l,
               uint64_t pos_h, Flags<int> flags) {
  return vector_io2(fd, iov, iovcnt, pos_l, flags, false);
}
DEFINE_SYSCALL(328, pwritev2, Result<size_t>, Fd fd, UserPtr<const Iov> iov, uint64_t iovcnt, int64_t pos_l,
               uint64_t pos_h, Flags<int> flags) {
  return vector_io2(fd, iov, iovcnt, pos_l, flags, true);
}

DEFINE_SYSCALL(16, ioctl, Result<int64_t>, Fd fd, Hex<uint32_t> cmd, UserPtr<uint8_t> arg) {
  vfs::FileRef fr = TRY(get_file(fd));
  OpenFile& f = *fr;
  if (f.flags() & OpenFile::PATH) return Error::BadFd;  // every request, FIOCLEX too (Linux's fdget)
  switch (cmd) {
    case FIOCLEX: TRY(fds().set_cloexec(fd, true)); return 0;
    case FIONCLEX: TRY(fds().set_cloexec(fd, false)); return 0;
    case FIONBIO: {
      const int on = TRY(arg.cast<const int>().read());
      uint32_t fl = f.flags();
      f.set_flags(on ? (fl | OpenFile::NONBLOCK) : (fl & ~OpenFile::NONBLOCK));
      return 0;
    }
    case FIOASYNC: {
      // As F_SETFL's O_ASYNC, but a file that cannot signal is ENOTTY.
      const bool on = TRY(arg.cast<const int>().read()) != 0;
      const bool was = f.abi_flags.load() & O_ASYNC;
      if (on != was) {
        if (!async_capable(f)) return Error::NotTty;
        TRY(async_enable(f, fd.value, on));
        if (on) f.abi_flags.fetch_or(O_ASYNC);
        else f.abi_flags.fetch_and(~uint32_t(O_ASYNC));
      }
      return 0;
    }
    case FIOSETOWN:
    case SIOCSPGRP:
    case FIOGETOWN:
    case SIOCGPGRP: {
      if (!is_socket(f.vnode())) return Error::NotTty;
      if (cmd == FIOGETOWN || cmd == SIOCGPGRP) {
        TRY(arg.cast<int>().write(async_owner(f)));
        return 0;
      }
      TRY(async_set_owner(f, TRY(arg.cast<const int>().read())));
      return 0;
    }
    case FIGETBSZ: {
      // The file system's block size, for any file (ioctl_fs(2)).
      if (f.flags() & OpenFile::PATH) return Error::BadFd;
      const vfs::Attr a = TRY(f.vnode().getattr());
      TRY(arg.cast<int>().write(int(a.blksize)));
      return 0;
    }
    default: {
      auto r = f.vnode().ioctl(f, cmd, arg.addr());
      if (r.ok() || r.error() != Error::NotSupported) return r;
      if (cmd == FIONREAD && f.vnode().is_regular()) {
        // Bytes from the offset to the end (negative past it, as Linux).
        const vfs::Attr a = TRY(f.vnode().getattr());
        const int n = int(int64_t(a.size) - int64_t(f.offset()));
        TRY(arg.cast<int>().write(n));
        return 0;
      }
      return Error::NotTty;
    }
  }
}

DEFINE_SYSCALL(8, lseek, Result<int64_t>, Fd fd, int64_t offset, unsigned whence) {
  vfs::FileRef fr = TRY(get_file(fd));
  OpenFile& f = *fr;
  if (f.vnode().is_stream()) {
    if (!f.vnode().stream_seeks()) return Error::IllegalSeek;
    return 0;
  }
  vfs::Whence w;
  switch (whence) {
    case L_SEEK_SET: w = vfs::Whence::Set; break;
    case L_SEEK_CUR: w = vfs::Whence::Current; break;
    case L_SEEK_END: w = vfs::Whence::End; break;
    case L_SEEK_DATA:
    case L_SEEK_HOLE: {
      // lseek(2): the file system says where its holes are (ramfs: page
      // granularity, as tmpfs); one that cannot tells the whole file is
      // data (allowed, and what Linux's generic implementation does), the
      // only hole being the end. ENXIO at or past the end.
      if (!f.vnode().is_regular()) return Error::Invalid;
      if (offset < 0) return Error::NoDeviceOrAddress;
      auto pos = f.vnode().seek_data(uint64_t(offset), whence == L_SEEK_HOLE);
      if (pos.ok()) return int64_t(TRY(f.seek(int64_t(pos.value()), vfs::Whence::Set)));
      if (pos.error() != Error::NotSupported) return pos.error();
      const vfs::Attr a = TRY(f.vnode().getattr());
      const int64_t size = int64_t(a.size);
      if (offset < 0 || offset >= size) return Error::NoDeviceOrAddress;
      return int64_t(TRY(f.seek(whence == L_SEEK_DATA ? offset : size, vfs::Whence::Set)));
    }
    default: return Error::Invalid;
  }
  return int64_t(TRY(f.seek(offset, w)));
}

}  // namespace capsule::linux_abi
