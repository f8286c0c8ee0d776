// pipe(2), pipe2(2): each end is a StreamVnode over a PipeEnd (docs/events.md).
// linux/fifo.cc makes the same objects for the opens of a FIFO.
#include <new>

#include "arch/uaccess.h"
#include "fs/procfs/write_value.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/pipe_file.h"
#include "linux/procfs.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;
using vfs::VnodeRef;

constexpr uint64_t FIONREAD = 0x541b;
constexpr char PIPE_KIND = 0;  // PipeVnode::kind()

class PipeVnode final : public StreamVnode {
 public:
  explicit PipeVnode(PipeEnd* end, VnodeRef node = {}, PipeEndOwner* owner = nullptr)
      : StreamVnode(vfs::MODE_FIFO | 0600), end_(end), node_(static_cast<VnodeRef&&>(node)), owner_(owner) {}
  PipeEnd* end() const { return end_; }
  // A FIFO's end reports the FIFO node (fstat(2) on a FIFO shows its inode).
  Result<vfs::Attr> getattr() override { return node_ ? node_->getattr() : StreamVnode::getattr(); }

  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    return end_->read(buf, f.flags() & OpenFile::NONBLOCK);
  }
  Result<size_t> write_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    // The reader leaving part way: the count, and SIGPIPE as Linux sends
    // it (once per call; with nothing written the adapter's EPIPE does).
    bool reader_left = false;
    auto r = end_->write(buf, f.flags() & OpenFile::NONBLOCK, &reader_left);
    if (reader_left) raise_sigpipe();
    return r;
  }
  Pollable* pollable() override { return end_; }
  bool sigpipe() const override { return true; }
  const void* kind() const override { return &PIPE_KIND; }
  // An open through /proc/self/fd/N: a new end of the same pipe, reading
  // and/or writing as asked (Linux opens the pipe as a FIFO).
  Result<VnodeRef> open_as(uint32_t how) override {
    PipeEnd* e = TRY(PipeEnd::open(end_->pipe(), how & vfs::OpenHow::READ, how & vfs::OpenHow::WRITE));
    auto* v = new (std::nothrow) PipeVnode(e);
    if (!v) {
      delete e;
      return Error::NoMemory;
    }
    return VnodeRef::adopt(v);
  }
  Result<int64_t> ioctl(OpenFile&, uint64_t cmd, uint64_t arg) override {
    if (cmd != FIONREAD) return Error::NotSupported;
    int n = int(end_->bytes_available());
    TRY(UserPtr<int>(arg).write(n));
    return int64_t(0);
  }

 protected:
  ~PipeVnode() override {
    bool r = end_->reader(), w = end_->writer();
    delete end_;
    if (owner_) owner_->end_closed(r, w);
  }

 private:
  PipeEnd* end_;
  VnodeRef node_;
  PipeEndOwner* owner_;
};

Result<void> do_pipe(UserPtr<int> pipefd, int flags) {
  if (flags & ~(O_NONBLOCK | O_CLOEXEC | O_DIRECT)) return Error::Invalid;
  PipeEnd *r, *w;
  TRY(pipe_create(&r, &w, pipe_caller()));
  auto* rv = new (std::nothrow) PipeVnode(r);
  if (!rv) {
    delete r;
    delete w;
    return Error::NoMemory;
  }
  VnodeRef rref = VnodeRef::adopt(rv);
  auto* wv = new (std::nothrow) PipeVnode(w);
  if (!wv) {
    delete w;
    return Error::NoMemory;
  }
  VnodeRef wref = VnodeRef::adopt(wv);
  uint32_t nb = (flags & O_NONBLOCK) ? OpenFile::NONBLOCK : 0;
  bool cloexec = flags & O_CLOEXEC;
  const Fd fd0 = TRY(install_stream_fd(rref, OpenFile::READ | nb, cloexec));
  auto fd1 = install_stream_fd(wref, OpenFile::WRITE | nb, cloexec);
  if (!fd1.ok()) {
    (void)fds().close(fd0);
    return fd1.error();
  }
  const int out[2] = {fd0, fd1.value()};
  if (!pipefd.copy_out(out, 2).ok()) {
    (void)fds().close(out[0]);
    (void)fds().close(out[1]);
    return Error::Fault;
  }
  return {};
}

}  // namespace

Result<VnodeRef> pipe_vnode(PipeEnd* end, VnodeRef node, PipeEndOwner* owner) {
  auto* v = new (std::nothrow) PipeVnode(end, static_cast<VnodeRef&&>(node), owner);
  if (!v) {
    delete end;
    return Error::NoMemory;
  }
  return VnodeRef::adopt(v);
}

PipeCaller pipe_caller() {
  const bool resource = current_capable(L_CAP_SYS_RESOURCE);
  return {.above_max_size = resource, .unlimited = resource || current_capable(L_CAP_SYS_ADMIN)};
}

PipeEnd* pipe_end_of(vfs::Vnode& v) {
  if (v.kind() != &PIPE_KIND) return nullptr;
  return static_cast<PipeVnode&>(v).end();
}

// /proc/sys/fs/pipe-max-size and pipe-user-pages-soft/-hard (pipe(7)).
// Linux takes an unsigned int for the first (rounded as F_SETPIPE_SZ
// rounds, EINVAL above 2 GiB) and an unsigned long for the others; we take
// up to 2^32 - 1 pages (16 TiB of pipes), EINVAL above.
namespace proc {
Result<void> show_pipe_max_size(uint64_t, Text& out) {
  out.f("{}\n", pipe_max_size());
  return {};
}
Result<void> store_pipe_max_size(uint64_t, StringView data) {
  return pipe_set_max_size(TRY(procfs::parse_write_sysctl_uint(data, 0xffffffffu)));
}
Result<void> show_pipe_user_pages_soft(uint64_t, Text& out) {
  out.f("{}\n", pipe_user_pages_soft());
  return {};
}
Result<void> store_pipe_user_pages_soft(uint64_t, StringView data) {
  pipe_set_user_pages_soft(TRY(procfs::parse_write_sysctl_uint(data, 0xffffffffu)));
  return {};
}
Result<void> show_pipe_user_pages_hard(uint64_t, Text& out) {
  out.f("{}\n", pipe_user_pages_hard());
  return {};
}
Result<void> store_pipe_user_pages_hard(uint64_t, StringView data) {
  pipe_set_user_pages_hard(TRY(procfs::parse_write_sysctl_uint(data, 0xffffffffu)));
  return {};
}
}  // namespace proc

DEFINE_SYSCALL(22, pipe, Result<void>, UserPtr<int> pipefd) { return do_pipe(pipefd, 0); }
DEFINE_SYSCALL(293, pipe2, Result<void>, UserPtr<int> pipefd, Flags<int> flags) { return do_pipe(pipefd, flags); }

}  // namespace capsule::linux_abi
