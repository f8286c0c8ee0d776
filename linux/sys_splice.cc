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
#include "fs/vfs/notify.h"
#include "linux/event_args.h"
#include "linux/file_common.h"
#include "linux/pipe_file.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::FileRef;
using vfs::KernelBuffer;
using vfs::OpenFile;

constexpr size_t SPLICE_CHUNK = 64 * 1024;
constexpr uint32_t SPLICE_F_MOVE = 1, SPLICE_F_NONBLOCK = 2, SPLICE_F_MORE = 4, SPLICE_F_GIFT = 8;
constexpr uint32_t SPLICE_F_ALL = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT;

// One side of a transfer.
struct End {
  OpenFile* file;
  PipeEnd* pipe;        // the file is a pipe end
  vfs::Vnode* stream;   // any stream (pipe, console...), else nullptr
  bool explicit_off;    // an offset pointer was given
  uint64_t off;         // the position in a regular file
  bool cut = false;     // a write stopped at RLIMIT_FSIZE
};

// Reads the next chunk of `src` into buf (up to n bytes). Streams:
// nonblocking once something moved (`more`), so a transfer never waits
// for more data after it has some, as Linux's splice does. A pipe's bytes
// are only looked at: transfer() drops what the destination took, so what
// it refused stays in the pipe.
Result<size_t> read_chunk(End& src, void* buf, size_t n, bool nonblock, bool more) {
  KernelBuffer kb(buf, n);
  if (src.pipe) return src.pipe->peek(kb, nonblock || more || (src.file->flags() & OpenFile::NONBLOCK));
  if (src.stream) return src.stream->read_stream(kb, *src.file);
  auto r = src.file->vnode().read(src.off, kb);
  if (!r.ok() && r.error() == Error::IsDir) return Error::Invalid;
  if (r.ok() && r.value() && vfs::notify_active())
    vfs::notify_event(src.file->vnode(), src.file->note_path(), vfs::NOTE_ACCESS, true);
  return r;
}

// Writes buf[0, n) to `dst`; returns what went in. A pipe takes what
// fits (blocking only while it is full), as Linux's splice into a pipe.
Result<size_t> write_chunk(End& dst, const void* buf, size_t n, bool nonblock) {
  KernelBuffer kb(buf, n);
  if (dst.pipe) return dst.pipe->write_some(kb, nonblock || (dst.file->flags() & OpenFile::NONBLOCK));
  if (dst.stream) return dst.stream->write_stream(kb, *dst.file);
  // RLIMIT_FSIZE: up to the limit; at it, SIGXFSZ and EFBIG.
  size_t allowed = TRY(fsize_allow(dst.off, n));
  KernelBuffer cut(buf, allowed);
  uint64_t off = dst.off;
  size_t w = TRY(dst.file->vnode().write(&off, cut, false));
  dst.off = off;
  if (allowed < n && w == allowed) dst.cut = true;
  if (w && vfs::notify_active()) vfs::notify_event(dst.file->vnode(), dst.file->note_path(), vfs::NOTE_MODIFY, true);
  return w;
}

// Between two files: a hole of the source at src.off that lands on a hole
// of the destination (or past its end) moves no bytes; the destination
// grows to cover it instead, so a sparse file copies sparse and nothing
// is allocated for zeros (docs/vfs.md "Sparse files"). The length skipped
// (at most want), 0 when there is data to copy or the file systems keep
// no holes.
size_t skip_hole(End& src, End& dst, size_t want) {
  if (src.stream || src.pipe || dst.stream || dst.pipe) return 0;
  vfs::Vnode& sv = src.file->vnode();
  vfs::Vnode& dv = dst.file->vnode();
  auto sa = sv.getattr();
  if (!sa.ok() || src.off >= sa.value().size) return 0;
  uint64_t h;
  auto d = sv.seek_data(src.off, false);
  if (d.ok()) {
    h = d.value() - src.off;
  } else if (d.error() == Error::NoDeviceOrAddress) {
    h = sa.value().size - src.off;  // no data up to the end
  } else {
    return 0;
  }
  if (h == 0) return 0;
  if (h > want) h = want;
  auto dd = dv.seek_data(dst.off, false);
  if (dd.ok()) {
    if (dd.value() < dst.off + h) h = dd.value() - dst.off;  // data there: up to it only
  } else if (dd.error() != Error::NoDeviceOrAddress) {
    return 0;
  }
  if (h == 0) return 0;
  // RLIMIT_FSIZE's cut and signal are the ordinary write's business.
  auto allowed = fsize_allow(dst.off, size_t(h));
  if (!allowed.ok() || allowed.value() < h) return 0;
  auto da = dv.getattr();
  if (!da.ok()) return 0;
  if (dst.off + h > da.value().size && !dv.truncate(dst.off + h).ok()) return 0;  // seals: the write says why
  return size_t(h);
}

// Moves up to len bytes from src to dst. Returns the count, or the error
// if nothing moved. src.off/dst.off advance by what was written.
Result<size_t> transfer(End& src, End& dst, size_t len, bool nonblock) {
  if (len == 0) return size_t(0);
  size_t cap = len < SPLICE_CHUNK ? len : SPLICE_CHUNK;
  auto* buf = new (std::nothrow) uint8_t[cap];
  if (!buf) return Error::NoMemory;
  size_t done = 0;
  Error err = Error::None;
  while (done < len) {
    // Into a pipe: one fill per call (Linux fills the free slots and
    // returns), so a transfer never waits for room after it moved some.
    if (dst.pipe && done > 0) break;
    size_t want = len - done < cap ? len - done : cap;
    if (size_t h = skip_hole(src, dst, len - done)) {
      src.off += h;
      dst.off += h;
      done += h;
      if (vfs::notify_active()) vfs::notify_event(dst.file->vnode(), dst.file->note_path(), vfs::NOTE_MODIFY, true);
      continue;
    }
    // File to file: read up to the next hole only, which the next round
    // skips.
    if (!src.stream && !src.pipe && !dst.stream && !dst.pipe) {
      auto hole = src.file->vnode().seek_data(src.off, true);
      if (hole.ok() && hole.value() > src.off && hole.value() - src.off < want) want = size_t(hole.value() - src.off);
    }
    auto r = read_chunk(src, buf, want, nonblock, done > 0);
    if (!r.ok()) {
      err = r.error();
      break;
    }
    size_t got = r.value();
    if (got == 0) break;  // end of file / pipe
    auto w = write_chunk(dst, buf, got, nonblock);
    if (!w.ok()) {
      // Bytes a stream other than a pipe gave that the destination
      // refused are lost; a pipe keeps them (peeked), files are re-read
      // from the offset.
      err = w.error();
      break;
    }
    if (src.pipe) (void)src.pipe->drop(w.value());
    if (!src.stream && !src.pipe) src.off += w.value();
    done += w.value();
    if (w.value() < got) break;
    if ((src.stream || src.pipe) && got < want) break;  // drained what was there
  }
  delete[] buf;
  // Linux's splice and sendfile try the next write, at the limit, and
  // raise SIGXFSZ once more before returning the count.
  if (dst.cut && err == Error::None) raise_sigxfsz();
  if (done == 0 && err != Error::None) return err;
  return done;
}

bool is_stream(OpenFile& f) { return f.vnode().is_stream(); }

// Linux's rw_verify_area for a file side: position + count past
// INT64_MAX is EINVAL.
Result<void> verify_area(const End& e, uint64_t count) {
  if (e.stream || e.pipe) return {};
  if (e.off > uint64_t(INT64_MAX) || count > uint64_t(INT64_MAX) - e.off) return Error::Invalid;
  return {};
}

End make_end(OpenFile& f) {
  End e{&f, pipe_end_of(f.vnode()), f.vnode().is_stream() ? &f.vnode() : nullptr, false, 0};
  return e;
}

// An offset pointer argument, if not null: read into e (Error::Fault;
// Error::Invalid when negative).
Result<void> read_off(UserPtr<int64_t> uoff, End& e) {
  if (!uoff) return {};
  const int64_t off = TRY(uoff.read());
  if (off < 0) return Error::Invalid;
  e.explicit_off = true;
  e.off = uint64_t(off);
  return {};
}

// After a transfer: the offset goes back to the user's pointer, or the
// file's offset moves to it.
Result<void> finish_off(UserPtr<int64_t> uoff, End& e, uint64_t start) {
  if (e.stream || e.pipe) return {};
  if (e.explicit_off) return uoff.write(int64_t(e.off));
  if (e.off != start) (void)e.file->seek(int64_t(e.off), vfs::Whence::Set);
  return {};
}

Result<size_t> result(Result<size_t>&& r, End& dst) {
  return io_done(static_cast<Result<size_t>&&>(r), dst.stream && dst.stream->sigpipe());
}

// Both descriptors of a two-sided call, held in `in` and `out`: Error::BadFd
// if either is not open or, unless the caller checks later (copy_file_range
// makes other checks first, as Linux does), if `in` is not readable or
// `out` not writable.
enum class Modes { Check, Later };
Result<void> get_files(Fd in_fd, Fd out_fd, FileRef& in, FileRef& out, Modes modes = Modes::Check) {
  auto i = get_file(in_fd);
  auto o = get_file(out_fd);
  if (!i.ok() || !o.ok()) return Error::BadFd;
  in = i.release_value();
  out = o.release_value();
  if (modes == Modes::Check && (!in->readable() || !out->writable())) return Error::BadFd;
  return {};
}

}  // namespace

// sendfile(2): from in_fd (a file at *offset or its own offset, or a
// pipe) to any writable descriptor.
DEFINE_SYSCALL(40, sendfile, Result<size_t>, Fd out_fd, Fd in_fd, UserPtr<int64_t> offset, size_t count) {
  FileRef in, out;
  TRY(get_files(in_fd, out_fd, in, out));
  OpenFile& fi = *in;
  OpenFile& fo = *out;
  End src = make_end(fi), dst = make_end(fo);
  if (offset && (src.stream || src.pipe)) return Error::IllegalSeek;
  TRY(read_off(offset, src));
  // sendfile(2): EINVAL for an O_APPEND file as destination.
  if (!dst.stream && (fo.flags() & OpenFile::APPEND)) return Error::Invalid;
  if (!src.explicit_off && !src.stream) src.off = fi.offset();
  if (!dst.stream) dst.off = fo.offset();
  TRY(verify_area(src, count));
  TRY(verify_area(dst, count));
  uint64_t src_start = src.off, dst_start = dst.off;
  size_t len = count < MAX_RW ? count : MAX_RW;
  auto r = transfer(src, dst, len, false);
  TRY(finish_off(offset, src, src_start));
  if (!dst.stream && dst.off != dst_start) (void)fo.seek(int64_t(dst.off), vfs::Whence::Set);
  return result(static_cast<Result<size_t>&&>(r), dst);
}

// copy_file_range(2): between two regular files; the checks in the
// order Linux makes them.
DEFINE_SYSCALL(326, copy_file_range, Result<size_t>, Fd fd_in, UserPtr<int64_t> off_in, Fd fd_out,
               UserPtr<int64_t> off_out, size_t size, Flags<uint32_t> flags) {
  if (flags != 0) return Error::Invalid;
  FileRef in, out;
  TRY(get_files(fd_in, fd_out, in, out, Modes::Later));
  OpenFile& fi = *in;
  OpenFile& fo = *out;
  End src = make_end(fi), dst = make_end(fo);
  TRY(read_off(off_in, src));
  TRY(read_off(off_out, dst));
  if (fi.vnode().is_dir() || fo.vnode().is_dir()) return Error::IsDir;
  if (!fi.vnode().is_regular() || !fo.vnode().is_regular() || is_stream(fi) || is_stream(fo)) return Error::Invalid;
  if (!fi.readable() || !fo.writable() || (fo.flags() & OpenFile::APPEND)) return Error::BadFd;
  if (!src.explicit_off) src.off = fi.offset();
  if (!dst.explicit_off) dst.off = fo.offset();
  size_t len = size < MAX_RW ? size : MAX_RW;
  // Overlapping ranges of one file: EINVAL.
  if (&fi.vnode() == &fo.vnode() && src.off < dst.off + len && dst.off < src.off + len) return Error::Invalid;
  // RLIMIT_FSIZE cuts the count first (Linux's generic_copy_file_checks):
  // no second SIGXFSZ for a partial copy.
  if (len) len = TRY(fsize_allow(dst.off, len));
  uint64_t src_start = src.off, dst_start = dst.off;
  auto r = transfer(src, dst, len, false);
  TRY(finish_off(off_in, src, src_start));
  TRY(finish_off(off_out, dst, dst_start));
  return result(static_cast<Result<size_t>&&>(r), dst);
}

// splice(2): one side must be a pipe; a pipe's offset pointer must be
// null (ESPIPE).
DEFINE_SYSCALL(275, splice, Result<size_t>, Fd fd_in, UserPtr<int64_t> off_in, Fd fd_out, UserPtr<int64_t> off_out,
               size_t size, Flags<uint32_t> flags) {
  if (flags & ~SPLICE_F_ALL) return Error::Invalid;
  FileRef in, out;
  TRY(get_files(fd_in, fd_out, in, out));
  OpenFile& fi = *in;
  OpenFile& fo = *out;
  End src = make_end(fi), dst = make_end(fo);
  if (!src.pipe && !dst.pipe) return Error::Invalid;
  if ((src.pipe && off_in) || (dst.pipe && off_out)) return Error::IllegalSeek;
  if (src.pipe && dst.pipe && src.pipe->pipe() == dst.pipe->pipe()) return Error::Invalid;
  TRY(read_off(off_in, src));
  TRY(read_off(off_out, dst));
  // The file side must be a regular file (or another descriptor object
  // that reads/writes, such as the console).
  if ((!src.stream && !fi.vnode().is_regular()) || (!dst.stream && !fo.vnode().is_regular())) return Error::Invalid;
  if (!dst.stream && (fo.flags() & OpenFile::APPEND)) return Error::Invalid;
  if (!src.explicit_off && !src.stream) src.off = fi.offset();
  if (!dst.explicit_off && !dst.stream) dst.off = fo.offset();
  TRY(verify_area(src, size));
  TRY(verify_area(dst, size));
  uint64_t src_start = src.off, dst_start = dst.off;
  size_t len = size < MAX_RW ? size : MAX_RW;
  auto r = transfer(src, dst, len, flags & SPLICE_F_NONBLOCK);
  TRY(finish_off(off_in, src, src_start));
  TRY(finish_off(off_out, dst, dst_start));
  return result(static_cast<Result<size_t>&&>(r), dst);
}

// tee(2): copies from one pipe to another without consuming.
DEFINE_SYSCALL(276, tee, Result<size_t>, Fd fd_in, Fd fd_out, size_t size, Flags<uint32_t> flags) {
  if (flags & ~SPLICE_F_ALL) return Error::Invalid;
  FileRef in, out;
  TRY(get_files(fd_in, fd_out, in, out));
  OpenFile& fi = *in;
  OpenFile& fo = *out;
  PipeEnd* pi = pipe_end_of(fi.vnode());
  PipeEnd* po = pipe_end_of(fo.vnode());
  if (!pi || !po || pi->pipe() == po->pipe()) return Error::Invalid;
  size_t len = size < SPLICE_CHUNK ? size : SPLICE_CHUNK;
  if (len == 0) return size_t(0);
  CallArray<uint8_t> buf(len);
  if (buf.failed()) return Error::NoMemory;
  bool nb = flags & SPLICE_F_NONBLOCK;
  KernelBuffer rio(buf.get(), len);
  auto r = pi->peek(rio, nb || (fi.flags() & OpenFile::NONBLOCK));
  if (!r.ok() || r.value() == 0) return io_done(static_cast<Result<size_t>&&>(r), false);
  KernelBuffer wio(buf.get(), r.value());
  return io_done(po->write_some(wio, nb || (fo.flags() & OpenFile::NONBLOCK)), true);
}

// vmsplice(2): user memory into a pipe (its write end) or out of it (its
// read end): the same bytes as writev/readv on the pipe.
DEFINE_SYSCALL(278, vmsplice, Result<size_t>, Fd fd, UserPtr<const Iov> iov, uint64_t nr_segs, Flags<uint32_t> flags) {
  if (flags & ~SPLICE_F_ALL) return Error::Invalid;
  vfs::FileRef fr = TRY(get_file(fd));
  OpenFile& f = *fr;
  PipeEnd* p = pipe_end_of(f.vnode());
  if (!p) return Error::BadFd;
  if (nr_segs > MAX_IOV) return Error::Invalid;
  if (nr_segs == 0) return size_t(0);
  CallArray<Iov> v(nr_segs);
  if (v.failed()) return Error::NoMemory;
  TRY(iov.copy_in(v.get(), nr_segs));
  uint64_t total = 0;
  for (uint64_t i = 0; i < nr_segs; ++i) {
    if (v[i].len > uint64_t(INT64_MAX)) return Error::Invalid;  // a negative length (readv(2)'s rule)
    total += v[i].len;
    if (total > MAX_RW) v[i].len -= total - MAX_RW, total = MAX_RW;
  }
  UserRanges ranges(v.get(), nr_segs);
  UserBuffer ub(ranges);
  bool nb = (flags & SPLICE_F_NONBLOCK) || (f.flags() & OpenFile::NONBLOCK);
  if (f.writable() && p->writer()) return io_done(p->write_some(ub, nb), true);
  if (f.readable() && p->reader()) return io_done(p->read(ub, nb), false);
  return Error::BadFd;
}

}  // namespace capsule::linux_abi
