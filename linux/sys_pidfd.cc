// pidfds (docs/process.md "pidfds"): pidfd_open and pidfd_getfd, and the
// descriptor object the other calls (clone's CLONE_PIDFD, waitid(P_PIDFD),
// pidfd_send_signal) share. A pidfd holds a reference on its Process, so a
// reaped process's pidfd still answers (ESRCH for a signal, readable).
// poll/epoll watch the process's exit_poll: readable once it has ended.
#include <new>
#include <utility>

#include "core/poll.h"
#include "linux/file_common.h"
#include "linux/pidfd.h"
#include "linux/process_state.h"
#include "linux/syscall.h"
#include "linux/thread_table.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

const char PIDFD_KIND = 0;

class PidfdVnode final : public StreamVnode {
 public:
  explicit PidfdVnode(Process* p) : StreamVnode(0600), p_(p) {}
  const char* anon_name() const override { return "pidfd"; }
  const void* kind() const override { return &PIDFD_KIND; }
  Pollable* pollable() override { return p_->exit_poll; }
  Process* process() const { return p_; }

 protected:
  ~PidfdVnode() override { process_put(p_); }

 private:
  Process* p_;  // one reference
};

constexpr unsigned L_PIDFD_NONBLOCK = O_NONBLOCK;

}  // namespace

Result<Fd> pidfd_install(Process& p, bool nonblock) {
  p.refs.fetch_add(1);
  auto* v = new (std::nothrow) PidfdVnode(&p);
  if (!v) {
    process_put(&p);
    return Error::NoMemory;
  }
  uint32_t ff = OpenFile::READ | OpenFile::WRITE | (nonblock ? OpenFile::NONBLOCK : 0);
  return install_stream_fd(vfs::VnodeRef::adopt(v), ff, true);
}

Process* pidfd_process(vfs::Vnode& v) {
  if (v.kind() != &PIDFD_KIND) return nullptr;
  return static_cast<PidfdVnode&>(v).process();
}

Result<PidfdTarget> pidfd_get(int fd) {
  vfs::FileRef f = TRY(get_file(Fd{fd}));
  Process* p = pidfd_process(f->vnode());
  if (!p) return Error::BadFd;
  p->refs.fetch_add(1);
  return PidfdTarget{p, (f->flags() & OpenFile::NONBLOCK) != 0};
}

// pidfd_open(pid, flags): flags 0 or PIDFD_NONBLOCK (else EINVAL); pid > 0
// (else EINVAL) naming a process, a zombie included; a thread's tid that
// is no process's pid is ENOENT (Linux 6.9+ without PIDFD_THREAD, which is
// not supported; 6.1 said EINVAL); nothing with that number: ESRCH.
DEFINE_SYSCALL(434, pidfd_open, Result<Fd>, int pid, Hex<unsigned> flags) {
  if (flags & ~L_PIDFD_NONBLOCK) return Error::Invalid;
  if (pid <= 0) return Error::Invalid;
  Process* p = process_get(pid);
  if (!p) {
    Process* owner = process_get_by_tid(pid);
    process_put(owner);
    return owner ? Error::NotFound : Error::NoProcess;
  }
  auto r = pidfd_install(*p, flags & L_PIDFD_NONBLOCK);
  process_put(p);
  return r;
}

// pidfd_getfd(pidfd, targetfd, flags): a duplicate of the target's
// descriptor in the caller (close-on-exec set). flags must be 0 (EINVAL);
// a bad pidfd or a target descriptor that is not open: EBADF; a process
// that has ended: ESRCH.
DEFINE_SYSCALL(438, pidfd_getfd, Result<Fd>, int pidfd, int targetfd, Hex<unsigned> flags) {
  if (flags) return Error::Invalid;
  PidfdTarget t = TRY(pidfd_get(pidfd));
  const bool ended = t.p->ended.load();
  Result<vfs::FileRef> f = ended || targetfd < 0 ? Result<vfs::FileRef>(ended ? Error::NoProcess : Error::BadFd)
                                                 : t.p->files->fds->get(targetfd);
  process_put(t.p);
  vfs::FileRef file = TRY(std::move(f));
  return install_fd(file, true);
}

}  // namespace capsule::linux_abi
