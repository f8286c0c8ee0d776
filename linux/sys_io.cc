// Data transfer on descriptors: read, write, their positional and vectored
// forms, lseek and ioctl (docs/vfs.md). Files of a file system go through
// the OpenFile (shared offset); descriptor objects through their
// StreamVnode.
#include <new>

#include "capsule/uaccess.h"
#include "linux/file_common.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr uint64_t FIONBIO = 0x5421, FIOCLEX = 0x5451, FIONCLEX = 0x5450;

// read/write/readv/writev; offset < 0: the file's offset.
int64_t do_io(uint64_t fd, const Iov* iov, size_t n, bool write, int64_t offset) {
  auto fr = get_file(fd);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  if (write ? !f.writable() : !f.readable()) return -kEBADF;
  UserRanges ranges(iov, n);
  UserBuffer buf(ranges);
  bool positional = offset >= 0;
  if (StreamVnode* s = as_stream(f.vnode())) {
    if (positional) return -kESPIPE;
    return io_result(write ? s->write_stream(buf, f) : s->read_stream(buf, f), write && s->sigpipe());
  }
  if (positional) return io_result(write ? f.pwrite(buf, uint64_t(offset)) : f.pread(buf, uint64_t(offset)), false);
  return io_result(write ? f.write(buf) : f.read(buf), false);
}

int64_t simple_io(const SyscallArgs& args, bool write, int64_t offset) {
  if (int64_t(args.a[2]) < 0) return -kEINVAL;
  Iov one{args.a[1], args.a[2] < MAX_RW ? args.a[2] : MAX_RW};
  return do_io(args.a[0], &one, 1, write, offset);
}

int64_t vector_io(uint64_t fd, uint64_t uiov, uint64_t count, bool write, int64_t offset) {
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
    if (r == 0) r = do_io(fd, v, count, write, offset);
  }
  delete[] v;
  return r;
}

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
    default:
      if (StreamVnode* s = as_stream(f.vnode())) return s->ioctl(f, args.a[1], args.a[2]);
      return -kENOTTY;
  }
}

LINUX_SYSCALL(8, lseek, "fdd") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  if (StreamVnode* s = as_stream(f.vnode())) return s->seek();
  vfs::Whence w;
  switch (args.a[2]) {
    case 0: w = vfs::Whence::Set; break;
    case 1: w = vfs::Whence::Current; break;
    case 2: w = vfs::Whence::End; break;
    default: return -kEINVAL;
  }
  return ret(f.seek(int64_t(args.a[1]), w));
}

}  // namespace capsule::linux_abi
