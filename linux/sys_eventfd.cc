// eventfd(2), eventfd2(2): a StreamVnode over core/event's EventFd
// (docs/events.md). Reads and writes move one 8-byte counter value; a
// shorter buffer is EINVAL.
#include <new>

#include "core/eventfd.h"
#include "fs/file.h"
#include "linux/file_common.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr uint64_t EFD_SEMAPHORE = 1, EFD_CLOEXEC = O_CLOEXEC, EFD_NONBLOCK = O_NONBLOCK;

class EventFdVnode final : public StreamVnode {
 public:
  const char* anon_name() const override { return "eventfd"; }  // /proc/<pid>/fd: anon_inode:[eventfd]
  explicit EventFdVnode(EventFd* e) : StreamVnode(0600), e_(e) {}
  bool stream_seeks() const override { return true; }  // noop_llseek, as Linux
  Pollable* pollable() override { return e_; }

  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    if (buf.size() < 8) return Error::Invalid;
    uint64_t v = TRY(e_->read(f.flags() & OpenFile::NONBLOCK));
    TRY(buf.copy_out(0, &v, 8));
    return size_t(8);
  }
  Result<size_t> write_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    if (buf.size() < 8) return Error::Invalid;
    uint64_t v;
    TRY(buf.copy_in(0, &v, 8));
    TRY(e_->write(v, f.flags() & OpenFile::NONBLOCK));
    return size_t(8);
  }

 protected:
  ~EventFdVnode() override { delete e_; }

 private:
  EventFd* e_;
};

// initval is an unsigned int, flags an int (Linux: eventfd2(unsigned int
// count, int flags)).
Result<Fd> create(unsigned initval, uint32_t flags) {
  if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) return Error::Invalid;
  EventFd* e = TRY(EventFd::create(initval, flags & EFD_SEMAPHORE));
  auto* v = new (std::nothrow) EventFdVnode(e);
  if (!v) {
    delete e;
    return Error::NoMemory;
  }
  uint32_t ff = OpenFile::READ | OpenFile::WRITE | ((flags & EFD_NONBLOCK) ? OpenFile::NONBLOCK : 0);
  return install_stream_fd(vfs::VnodeRef::adopt(v), ff, flags & EFD_CLOEXEC);
}

}  // namespace

DEFINE_SYSCALL(284, eventfd, Result<Fd>, unsigned initval) { return create(initval, 0); }
DEFINE_SYSCALL(290, eventfd2, Result<Fd>, unsigned initval, Flags<int> flags) { return create(initval, uint32_t(flags.value)); }

}  // namespace capsule::linux_abi
