// Data transfer on descriptors: read, write, their positional and vectored
// forms, lseek and ioctl (docs/vfs.md). Every descriptor goes through its
// OpenFile, which hands a stream's transfers to the vnode's stream hooks.
#include <new>

#include "arch/uaccess.h"
#include "linux/file_common.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr uint64_t FIONBIO = 0x5421, FIOCLEX = 0x5451, FIONCLEX = 0x5450;

// pwritev2's RWF_APPEND / RWF_NOAPPEND: -1 keeps O_APPEND's say.
constexpr uint64_t RWF_HIPRI = 1, RWF_DSYNC = 2, RWF_SYNC = 4, RWF_NOWAIT = 8, RWF_APPEND = 0x10,
                   RWF_NOAPPEND = 0x20;

// read/write/readv/writev; offset < 0: the file's offset.
int64_t do_io(uint64_t fd, const Iov* iov, size_t n, bool write, int64_t offset, int append = -1) {
  auto fr = get_file(fd);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  if (write ? !f.writable() : !f.readable()) return -kEBADF;
  UserRanges ranges(iov, n);
  UserBuffer buf(ranges);
  bool positional = offset >= 0;
  if (positional && f.vnode().is_stream()) return -kESPIPE;
  if (positional)
    return io_result(write ? f.pwrite(buf, uint64_t(offset), append) : f.pread(buf, uint64_t(offset)), false);
  return io_result(write ? f.write(buf, append > 0) : f.read(buf), write && f.vnode().sigpipe());
}

int64_t simple_io(const SyscallArgs& args, bool write, int64_t offset) {
  if (int64_t(args.a[2]) < 0) return -kEINVAL;
  Iov one{args.a[1], args.a[2] < MAX_RW ? args.a[2] : MAX_RW};
  return do_io(args.a[0], &one, 1, write, offset);
}

int64_t vector_io(uint64_t fd, uint64_t uiov, uint64_t count, bool write, int64_t offset, int append = -1) {
  if (count > MAX_IOV) return -kEINVAL;
  if (!get_file(fd).ok()) return -kEBADF;
  Iov* v = new (std::nothrow) Iov[count ? count : 1];
  if (!v) return -kENOMEM;
  int64_t r;
  if (count && !copy_from_user(v, reinterpret_cast<const void*>(uiov), count * sizeof(Iov)).ok()) {
    r = -kEFAULT;
  } else {
    uint64_t total = 0;
    r = 0;
    for (size_t i = 0; i < count; ++i) {
      if (int64_t(v[i].len) < 0 || (total += v[i].len) > uint64_t(INT64_MAX)) {
        r = -kEINVAL;
        break;
      }
      if (total > MAX_RW) v[i].len -= total - MAX_RW, total = MAX_RW;
    }
    if (r == 0) r = do_io(fd, v, count, write, offset, append);
  }
  delete[] v;
  return r;
}

// preadv/pwritev: the offset is pos_l (pos_h is its high half on 32-bit
// ABIs only); negative is EINVAL.
int64_t positional_vector_io(const SyscallArgs& args, bool write) {
  if (int64_t(args.a[3]) < 0) return get_file(args.a[0]).ok() ? -kEINVAL : -kEBADF;
  return vector_io(args.a[0], args.a[1], args.a[2], write, int64_t(args.a[3]));
}

// preadv2/pwritev2 (readv(2)): offset -1 is the file's offset (which then
// moves); RWF_* flags, EOPNOTSUPP for unknown ones. Everything here is
// synchronous and in memory, so HIPRI, DSYNC and SYNC need nothing and
// NOWAIT never has to refuse.
int64_t vector_io2(const SyscallArgs& args, bool write) {
  uint64_t flags = args.a[5];
  if (flags & ~(RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND)) return -kEOPNOTSUPP;
  int64_t off = int64_t(args.a[3]);
  if (off < -1) return get_file(args.a[0]).ok() ? -kEINVAL : -kEBADF;
  int append = !write ? -1 : (flags & RWF_APPEND) ? 1 : (flags & RWF_NOAPPEND) ? 0 : -1;
  return vector_io(args.a[0], args.a[1], args.a[2], write, off, append);
}

constexpr uint64_t FIONREAD = 0x541B, FIGETBSZ = 2;

}  // namespace

LINUX_SYSCALL(0, read, "fpu") { return simple_io(args, false, -1); }
LINUX_SYSCALL(1, write, "fbu") { return simple_io(args, true, -1); }
LINUX_SYSCALL(17, pread64, "fpud") {
  if (int64_t(args.a[3]) < 0) return get_file(args.a[0]).ok() ? -kEINVAL : -kEBADF;
  return simple_io(args, false, int64_t(args.a[3]));
}
LINUX_SYSCALL(18, pwrite64, "fbud") {
  if (int64_t(args.a[3]) < 0) return get_file(args.a[0]).ok() ? -kEINVAL : -kEBADF;
  return simple_io(args, true, int64_t(args.a[3]));
}
LINUX_SYSCALL(19, readv, "fpd") { return vector_io(args.a[0], args.a[1], args.a[2], false, -1); }
LINUX_SYSCALL(20, writev, "fpd") { return vector_io(args.a[0], args.a[1], args.a[2], true, -1); }

LINUX_SYSCALL(295, preadv, "fpddd") { return positional_vector_io(args, false); }
LINUX_SYSCALL(296, pwritev, "fpddd") { return positional_vector_io(args, true); }
LINUX_SYSCALL(327, preadv2, "fpdddx") { return vector_io2(args, false); }
LINUX_SYSCALL(328, pwritev2, "fpdddx") { return vector_io2(args, true); }

LINUX_SYSCALL(16, ioctl, "fxp") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  int fd = int(args.a[0]);
  switch (args.a[1]) {
    case FIOCLEX: return ret(fds().set_cloexec(fd, true));
    case FIONCLEX: return ret(fds().set_cloexec(fd, false));
    case FIONBIO: {
      auto v = get_user(reinterpret_cast<const int*>(args.a[2]));
      if (!v.ok()) return -kEFAULT;
      uint32_t fl = f.flags();
      f.set_flags(v.value() ? (fl | OpenFile::NONBLOCK) : (fl & ~OpenFile::NONBLOCK));
      return 0;
    }
    case FIGETBSZ: {
      // The file system's block size, for any file (ioctl_fs(2)).
      if (f.flags() & OpenFile::PATH) return -kEBADF;
      auto a = f.vnode().getattr();
      if (!a.ok()) return to_errno(a.error());
      return put_user(reinterpret_cast<int*>(args.a[2]), int(a.value().blksize)).ok() ? 0 : -kEFAULT;
    }
    default: {
      auto r = f.vnode().ioctl(f, args.a[1], args.a[2]);
      if (r.ok()) return r.value();
      if (r.error() != Error::NotSupported) return to_errno(r.error());
      if (args.a[1] == FIONREAD && f.vnode().is_regular()) {
        // Bytes from the offset to the end (negative past it, as Linux).
        auto a = f.vnode().getattr();
        if (!a.ok()) return to_errno(a.error());
        int n = int(int64_t(a.value().size) - int64_t(f.offset()));
        return put_user(reinterpret_cast<int*>(args.a[2]), n).ok() ? 0 : -kEFAULT;
      }
      return -kENOTTY;
    }
  }
}

LINUX_SYSCALL(8, lseek, "fdd") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  if (f.vnode().is_stream()) return f.vnode().stream_seeks() ? 0 : -kESPIPE;
  vfs::Whence w;
  switch (args.a[2]) {
    case 0: w = vfs::Whence::Set; break;
    case 1: w = vfs::Whence::Current; break;
    case 2: w = vfs::Whence::End; break;
    case 3:    // SEEK_DATA
    case 4: {  // SEEK_HOLE
      // lseek(2): the whole file counts as data (allowed, and what Linux's
      // generic implementation does); the only hole is the end. ENXIO at
      // or past the end.
      if (!f.vnode().is_regular()) return -kEINVAL;
      auto a = f.vnode().getattr();
      if (!a.ok()) return to_errno(a.error());
      int64_t off = int64_t(args.a[1]), size = int64_t(a.value().size);
      if (off < 0 || off >= size) return -kENXIO;
      return ret(f.seek(args.a[2] == 3 ? off : size, vfs::Whence::Set));
    }
    default: return -kEINVAL;
  }
  return ret(f.seek(int64_t(args.a[1]), w));
}

}  // namespace capsule::linux_abi
