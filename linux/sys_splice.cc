// Moving data between descriptors inside the kernel (docs/vfs.md,
// "sendfile and splice"): sendfile, copy_file_range, splice, tee and
// vmsplice. Bytes go through a kernel bounce buffer, one chunk at a time:
// files have no page cache to splice pages from, and pipes copy anyway.
// Offsets follow Linux: a null offset pointer means the descriptor's own
// offset (which moves by what was transferred); a given one is read,
// used and written back, the descriptor's offset untouched.
#include <new>

#include "core/pipe.h"
#include "arch/uaccess.h"
#include "linux/file_common.h"
#include "linux/pipe_file.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::FileRef;
using vfs::KernelBuffer;
using vfs::OpenFile;

constexpr size_t kChunk = 64 * 1024;
constexpr uint64_t SPLICE_F_MOVE = 1, SPLICE_F_NONBLOCK = 2, SPLICE_F_MORE = 4, SPLICE_F_GIFT = 8;
constexpr uint64_t kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;

// One side of a transfer.
struct End {
  OpenFile* file;
  PipeEnd* pipe;        // the file is a pipe end
  vfs::Vnode* stream;   // any stream (pipe, console...), else nullptr
  bool explicit_off;    // an offset pointer was given
  uint64_t off;         // the position in a regular file
};

// Reads the next chunk of `src` into buf (up to n bytes). Streams:
// nonblocking once something moved (`more`), so a transfer never waits
// for more data after it has some, as Linux's splice does.
Result<size_t> read_chunk(End& src, void* buf, size_t n, bool nonblock, bool more) {
  KernelBuffer kb(buf, n);
  if (src.pipe) {
    KernelIo io(buf, n);
    return src.pipe->read(io, nonblock || more || (src.file->flags() & OpenFile::NONBLOCK));
  }
  if (src.stream) return src.stream->read_stream(kb, *src.file);
  auto r = src.file->vnode().read(src.off, kb);
  if (!r.ok() && r.error() == Error::IsDir) return Error::Invalid;
  return r;
}

// Writes buf[0, n) to `dst`; returns what went in.
Result<size_t> write_chunk(End& dst, const void* buf, size_t n, bool nonblock) {
  KernelBuffer kb(buf, n);
  if (dst.pipe) {
    KernelIo io(buf, n);
    return dst.pipe->write(io, nonblock || (dst.file->flags() & OpenFile::NONBLOCK));
  }
  if (dst.stream) return dst.stream->write_stream(kb, *dst.file);
  uint64_t off = dst.off;
  size_t w = TRY(dst.file->vnode().write(&off, kb, false));
  dst.off = off;
  return w;
}

// Moves up to len bytes from src to dst. Returns the count, or the error
// if nothing moved. src.off/dst.off advance by what was written.
Result<size_t> transfer(End& src, End& dst, size_t len, bool nonblock) {
  if (len == 0) return size_t(0);
  size_t cap = len < kChunk ? len : kChunk;
  auto* buf = new (std::nothrow) uint8_t[cap];
  if (!buf) return Error::NoMemory;
  size_t done = 0;
  Error err = Error::None;
  while (done < len) {
    size_t want = len - done < cap ? len - done : cap;
    auto r = read_chunk(src, buf, want, nonblock, done > 0);
    if (!r.ok()) {
      err = r.error();
      break;
    }
    size_t got = r.value();
    if (got == 0) break;  // end of file / pipe
    auto w = write_chunk(dst, buf, got, nonblock);
    if (!w.ok()) {
      // Bytes taken from a pipe that the destination refused are lost
      // (Linux keeps them in the pipe); files are re-read from the offset.
      err = w.error();
      break;
    }
    if (!src.stream && !src.pipe) src.off += w.value();
    done += w.value();
    if (w.value() < got) break;
    if ((src.stream || src.pipe) && got < want) break;  // drained what was there
  }
  delete[] buf;
  if (done == 0 && err != Error::None) return err;
  return done;
}

bool is_stream(OpenFile& f) { return f.vnode().is_stream(); }

End make_end(OpenFile& f) {
  End e{&f, pipe_end_of(f.vnode()), f.vnode().is_stream() ? &f.vnode() : nullptr, false, 0};
  return e;
}

// An offset pointer argument: 0 if null or read, -EFAULT, -EINVAL when
// negative.
int64_t read_off(uint64_t uoff, End& e) {
  if (!uoff) return 0;
  auto v = get_user(reinterpret_cast<const int64_t*>(uoff));
  if (!v.ok()) return -kEFAULT;
  if (v.value() < 0) return -kEINVAL;
  e.explicit_off = true;
  e.off = uint64_t(v.value());
  return 0;
}

// After a transfer: the offset goes back to the user's pointer, or the
// file's offset moves to it.
int64_t finish_off(uint64_t uoff, End& e, uint64_t start) {
  if (e.stream || e.pipe) return 0;
  if (e.explicit_off) {
    return put_user(reinterpret_cast<int64_t*>(uoff), int64_t(e.off)).ok() ? 0 : -kEFAULT;
  }
  if (e.off != start) (void)e.file->seek(int64_t(e.off), vfs::Whence::Set);
  return 0;
}

int64_t result(Result<size_t>&& r, End& dst) {
  return io_result(static_cast<Result<size_t>&&>(r), dst.stream && dst.stream->sigpipe());
}

}  // namespace

// sendfile(2): from in_fd (a file at *offset or its own offset, or a
// pipe) to any writable descriptor.
LINUX_SYSCALL(40, sendfile, "ffpu") {
  auto in = get_file(args.a[1]);
  auto out = get_file(args.a[0]);
  if (!in.ok() || !out.ok()) return -kEBADF;
  OpenFile& fi = *in.value();
  OpenFile& fo = *out.value();
  if (!fi.readable() || !fo.writable()) return -kEBADF;
  End src = make_end(fi), dst = make_end(fo);
  if (args.a[2] && (src.stream || src.pipe)) return -kESPIPE;
  if (int64_t e = read_off(args.a[2], src)) return e;
  // sendfile(2): EINVAL for an O_APPEND file as destination.
  if (!dst.stream && (fo.flags() & OpenFile::APPEND)) return -kEINVAL;
  if (!src.explicit_off && !src.stream) src.off = fi.offset();
  if (!dst.stream) dst.off = fo.offset();
  uint64_t src_start = src.off, dst_start = dst.off;
  size_t len = args.a[3] < MAX_RW ? size_t(args.a[3]) : MAX_RW;
  auto r = transfer(src, dst, len, false);
  if (int64_t e = finish_off(args.a[2], src, src_start)) return e;
  if (!dst.stream && dst.off != dst_start) (void)fo.seek(int64_t(dst.off), vfs::Whence::Set);
  return result(static_cast<Result<size_t>&&>(r), dst);
}

// copy_file_range(2): between two regular files; the checks in the
// order Linux makes them.
LINUX_SYSCALL(326, copy_file_range, "fpfpux") {
  if (args.a[5] != 0) return -kEINVAL;
  auto in = get_file(args.a[0]);
  auto out = get_file(args.a[2]);
  if (!in.ok() || !out.ok()) return -kEBADF;
  OpenFile& fi = *in.value();
  OpenFile& fo = *out.value();
  End src = make_end(fi), dst = make_end(fo);
  if (int64_t e = read_off(args.a[1], src)) return e;
  if (int64_t e = read_off(args.a[3], dst)) return e;
  if (fi.vnode().is_dir() || fo.vnode().is_dir()) return -kEISDIR;
  if (!fi.vnode().is_regular() || !fo.vnode().is_regular() || is_stream(fi) || is_stream(fo)) return -kEINVAL;
  if (!fi.readable() || !fo.writable() || (fo.flags() & OpenFile::APPEND)) return -kEBADF;
  if (!src.explicit_off) src.off = fi.offset();
  if (!dst.explicit_off) dst.off = fo.offset();
  size_t len = args.a[4] < MAX_RW ? size_t(args.a[4]) : MAX_RW;
  // Overlapping ranges of one file: EINVAL.
  if (&fi.vnode() == &fo.vnode() && src.off < dst.off + len && dst.off < src.off + len) return -kEINVAL;
  uint64_t src_start = src.off, dst_start = dst.off;
  auto r = transfer(src, dst, len, false);
  if (int64_t e = finish_off(args.a[1], src, src_start)) return e;
  if (int64_t e = finish_off(args.a[3], dst, dst_start)) return e;
  return result(static_cast<Result<size_t>&&>(r), dst);
}

// splice(2): one side must be a pipe; a pipe's offset pointer must be
// null (ESPIPE).
LINUX_SYSCALL(275, splice, "fpfpux") {
  uint64_t flags = args.a[5];
  if (flags & ~kSpliceFlags) return -kEINVAL;
  auto in = get_file(args.a[0]);
  auto out = get_file(args.a[2]);
  if (!in.ok() || !out.ok()) return -kEBADF;
  OpenFile& fi = *in.value();
  OpenFile& fo = *out.value();
  if (!fi.readable() || !fo.writable()) return -kEBADF;
  End src = make_end(fi), dst = make_end(fo);
  if (!src.pipe && !dst.pipe) return -kEINVAL;
  if ((src.pipe && args.a[1]) || (dst.pipe && args.a[3])) return -kESPIPE;
  if (src.pipe && dst.pipe && src.pipe->pipe() == dst.pipe->pipe()) return -kEINVAL;
  if (int64_t e = read_off(args.a[1], src)) return e;
  if (int64_t e = read_off(args.a[3], dst)) return e;
  // The file side must be a regular file (or another descriptor object
  // that reads/writes, such as the console).
  if ((!src.stream && !fi.vnode().is_regular()) || (!dst.stream && !fo.vnode().is_regular())) return -kEINVAL;
  if (!dst.stream && (fo.flags() & OpenFile::APPEND)) return -kEINVAL;
  if (!src.explicit_off && !src.stream) src.off = fi.offset();
  if (!dst.explicit_off && !dst.stream) dst.off = fo.offset();
  uint64_t src_start = src.off, dst_start = dst.off;
  size_t len = args.a[4] < MAX_RW ? size_t(args.a[4]) : MAX_RW;
  auto r = transfer(src, dst, len, flags & SPLICE_F_NONBLOCK);
  if (int64_t e = finish_off(args.a[1], src, src_start)) return e;
  if (int64_t e = finish_off(args.a[3], dst, dst_start)) return e;
  return result(static_cast<Result<size_t>&&>(r), dst);
}

// tee(2): copies from one pipe to another without consuming.
LINUX_SYSCALL(276, tee, "ffux") {
  uint64_t flags = args.a[3];
  if (flags & ~kSpliceFlags) return -kEINVAL;
  auto in = get_file(args.a[0]);
  auto out = get_file(args.a[1]);
  if (!in.ok() || !out.ok()) return -kEBADF;
  OpenFile& fi = *in.value();
  OpenFile& fo = *out.value();
  if (!fi.readable() || !fo.writable()) return -kEBADF;
  PipeEnd* pi = pipe_end_of(fi.vnode());
  PipeEnd* po = pipe_end_of(fo.vnode());
  if (!pi || !po || pi->pipe() == po->pipe()) return -kEINVAL;
  size_t len = args.a[2] < kChunk ? size_t(args.a[2]) : kChunk;
  if (len == 0) return 0;
  auto* buf = new (std::nothrow) uint8_t[len];
  if (!buf) return -kENOMEM;
  bool nb = flags & SPLICE_F_NONBLOCK;
  KernelIo rio(buf, len);
  auto r = pi->peek(rio, nb || (fi.flags() & OpenFile::NONBLOCK));
  int64_t out_r;
  if (!r.ok() || r.value() == 0) {
    out_r = io_result(static_cast<Result<size_t>&&>(r), false);
  } else {
    KernelIo wio(buf, r.value());
    out_r = io_result(po->write(wio, nb || (fo.flags() & OpenFile::NONBLOCK)), true);
  }
  delete[] buf;
  return out_r;
}

// vmsplice(2): user memory into a pipe (its write end) or out of it (its
// read end): the same bytes as writev/readv on the pipe.
LINUX_SYSCALL(278, vmsplice, "fpux") {
  uint64_t flags = args.a[3];
  if (flags & ~kSpliceFlags) return -kEINVAL;
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  PipeEnd* p = pipe_end_of(f.vnode());
  if (!p) return -kEBADF;
  uint64_t count = args.a[2];
  if (count > MAX_IOV) return -kEINVAL;
  if (count == 0) return 0;
  Iov* v = new (std::nothrow) Iov[count];
  if (!v) return -kENOMEM;
  int64_t r;
  uint64_t total = 0;
  bool bad = false;
  if (!copy_from_user(v, reinterpret_cast<const void*>(args.a[1]), count * sizeof(Iov)).ok()) {
    r = -kEFAULT;
  } else if ((bad = [&] {
               for (uint64_t i = 0; i < count; ++i) {
                 if (int64_t(v[i].len) < 0) return true;
                 total += v[i].len;
                 if (total > MAX_RW) v[i].len -= total - MAX_RW, total = MAX_RW;
               }
               return false;
             }())) {
    r = -kEINVAL;  // a negative length (readv(2)'s rule)
  } else {
    UserRanges ranges(v, count);
    UserBuffer ub(ranges);
    BufferEventIo io(ub);
    bool nb = (flags & SPLICE_F_NONBLOCK) || (f.flags() & OpenFile::NONBLOCK);
    if (f.writable() && p->writer()) r = io_result(p->write(io, nb), true);
    else if (f.readable() && p->reader()) r = io_result(p->read(io, nb), false);
    else r = -kEBADF;
  }
  delete[] v;
  return r;
}

}  // namespace capsule::linux_abi
