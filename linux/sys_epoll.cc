// epoll_create(2), epoll_create1, epoll_ctl(2), epoll_wait(2), epoll_pwait,
// epoll_pwait2 over core/event's Epoll (docs/events.md).
//
// An epoll descriptor is a StreamVnode whose Pollable is the Epoll, so an
// epoll can sit in another epoll or in poll/select. Interests are keyed by
// (object, fd), as Linux keys them by (file, fd); the object is the file's
// Pollable, which lives as long as the open file description, so closing
// the last descriptor of a file drops its interests everywhere.
#include <new>

#include "core/epoll.h"
#include "fs/file.h"
#include "arch/uaccess.h"
#include "core/mm.h"
#include "core/mm/vma.h"
#include "fs/procfs/write_value.h"
#include "linux/event_args.h"
#include "linux/file_common.h"
#include "linux/procfs.h"
#include "linux/signal.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
constexpr uint64_t EPOLL_CLOEXEC = O_CLOEXEC;
constexpr size_t EVENT_CHUNK = 256;  // events harvested per kernel buffer
constexpr size_t EVENT_INLINE = 32;  // ...of which on the kernel stack (896 bytes for both arrays)

struct [[gnu::packed]] KEpollEvent {  // struct epoll_event: packed on x86-64
  uint32_t events;
  uint64_t data;
};
static_assert(sizeof(KEpollEvent) == 12);
constexpr int64_t EP_MAX_EVENTS = 0x7fffffff / sizeof(KEpollEvent);

class EpollVnode final : public StreamVnode {
 public:
  const char* anon_name() const override { return "eventpoll"; }  // /proc/<pid>/fd: anon_inode:[eventpoll]
  explicit EpollVnode(Epoll* ep) : StreamVnode(0600), ep_(ep) {}
  Epoll& epoll() { return *ep_; }
  bool stream_seeks() const override { return true; }  // noop_llseek, as Linux
  Pollable* pollable() override { return ep_; }

 protected:
  ~EpollVnode() override { delete ep_; }

 private:
  Epoll* ep_;
};

// Descriptor objects without a Pollable of their own (the console) are
// always readable and writable; they share this one.
class AlwaysReady final : public Pollable {
 public:
  uint32_t poll_events() override { return POLL_IN | POLL_OUT | POLL_RDNORM | POLL_WRNORM; }
};
AlwaysReady g_always_ready;

bool is_epoll_vnode(vfs::Vnode& v) { return v.pollable() && v.pollable()->is_epoll(); }

// /proc/sys/fs/epoll/max_user_watches's default, from the RAM size: set
// before the first epoll can take an interest.
void default_limit() { Epoll::default_max_watches(memory_stats().total_bytes); }

Result<Fd> create(int flags) {
  if (flags & ~int(EPOLL_CLOEXEC)) return Error::Invalid;
  default_limit();
  Epoll* e = TRY(Epoll::create());
  auto* v = new (std::nothrow) EpollVnode(e);
  if (!v) {
    delete e;
    return Error::NoMemory;
  }
  return install_stream_fd(vfs::VnodeRef::adopt(v), OpenFile::READ | OpenFile::WRITE, flags & int(EPOLL_CLOEXEC));
}

Result<void> ctl(Fd epfd, int op, Fd fd, UserPtr<const KEpollEvent> uevent) {
  KEpollEvent ev{};
  bool has_event = op != EPOLL_CTL_DEL;
  if (has_event) ev = TRY(uevent.read());
  vfs::FileRef ef = TRY(get_file(epfd));
  vfs::FileRef tf = TRY(get_file(fd));
  if ((ef->flags() | tf->flags()) & vfs::OpenFile::PATH) return Error::BadFd;
  // Files of a file system cannot be waited on: EPERM (epoll_ctl(2)).
  vfs::Vnode& tv = tf->vnode();
  if (!tv.is_stream()) return Error::Permission;
  Pollable* obj = tv.pollable() ? tv.pollable() : &g_always_ready;
  if (!is_epoll_vnode(ef->vnode()) || ef.get() == tf.get()) return Error::Invalid;
  Epoll* ep = static_cast<Epoll*>(ef->vnode().pollable());
  if (obj == ep) return Error::Invalid;
  if (has_event && (ev.events & EPOLL_EXCLUSIVE)) {
    if (op == EPOLL_CTL_MOD) return Error::Invalid;
    if (op == EPOLL_CTL_ADD && obj->is_epoll()) return Error::Invalid;
  }
  const int key = fd;
  switch (op) {
    case EPOLL_CTL_ADD: return ep->add(obj, key, ev.events, ev.data);
    case EPOLL_CTL_MOD: return ep->modify(obj, key, ev.events, ev.data);
    case EPOLL_CTL_DEL: return ep->remove(obj, key);
    default: return Error::Invalid;
  }
}

// The wait shared by epoll_wait, epoll_pwait and epoll_pwait2.
Result<int> wait(Fd epfd, UserPtr<KEpollEvent> uevents, int maxevents, uint64_t deadline) {
  if (maxevents <= 0 || maxevents > EP_MAX_EVENTS) return Error::Invalid;
  // access_ok: the buffer must lie in the lower half (a bad page there is
  // found when events are copied out).
  if (uevents.addr() + uint64_t(maxevents) * sizeof(KEpollEvent) > mm::USER_END) return Error::Fault;
  vfs::FileRef ref = TRY(get_file(epfd));
  if (!is_epoll_vnode(ref->vnode())) return Error::Invalid;
  Epoll* ep = static_cast<Epoll*>(ref->vnode().pollable());
  size_t n = size_t(maxevents) < EVENT_CHUNK ? size_t(maxevents) : EVENT_CHUNK;
  // A server's usual maxevents (tens) needs no allocation.
  CallArray<EpollEvent, EVENT_INLINE> k(n);
  CallArray<KEpollEvent, EVENT_INLINE> out(n);
  if (k.failed() || out.failed()) return Error::NoMemory;
  // Interrupted: EINTR, never restarted (epoll_wait(2)).
  const size_t got = TRY(ep->wait(k.get(), n, deadline));
  for (size_t i = 0; i < got; ++i) out[i] = {k[i].events, k[i].data};
  if (got) TRY(uevents.copy_out(out.get(), got));
  return int(got);
}

// epoll_pwait, epoll_pwait2: the wait under a temporary signal mask.
Result<int> pwait(Fd epfd, UserPtr<KEpollEvent> events, int maxevents, uint64_t deadline,
                  UserPtr<const uint64_t> sigmask, size_t sigsetsize) {
  uint64_t mask = 0;
  if (sigmask) {
    mask = TRY(read_sigset(sigmask, sigsetsize));
    if (!signal_begin_temp_mask(mask)) return Error::NoMemory;
  }
  Result<int> r = wait(epfd, events, maxevents, deadline);
  if (sigmask) signal_end_temp_mask(r.error() == Error::Interrupted);
  return r;
}

}  // namespace

DEFINE_SYSCALL(213, epoll_create, Result<Fd>, int size) {
  if (size <= 0) return Error::Invalid;
  return create(0);
}
DEFINE_SYSCALL(291, epoll_create1, Result<Fd>, Flags<int> flags) { return create(flags); }
DEFINE_SYSCALL(233, epoll_ctl, Result<void>, Fd epfd, int op, Fd fd, UserPtr<const KEpollEvent> event) {
  return ctl(epfd, op, fd, event);
}
DEFINE_SYSCALL(232, epoll_wait, Result<int>, Fd epfd, UserPtr<KEpollEvent> events, int maxevents, int timeout) {
  return wait(epfd, events, maxevents, deadline_ms(timeout));
}
DEFINE_SYSCALL(281, epoll_pwait, Result<int>, Fd epfd, UserPtr<KEpollEvent> events, int maxevents, int timeout,
               UserPtr<const uint64_t> sigmask, size_t sigsetsize) {
  return pwait(epfd, events, maxevents, deadline_ms(timeout), sigmask, sigsetsize);
}
DEFINE_SYSCALL(441, epoll_pwait2, Result<int>, Fd epfd, UserPtr<KEpollEvent> events, int maxevents,
               UserPtr<const KTimespec> timeout, UserPtr<const uint64_t> sigmask, size_t sigsetsize) {
  uint64_t deadline = WAIT_FOREVER;
  if (timeout) {
    const KTimespec t = TRY(timeout.read());
    uint64_t ns;
    if (!timespec_ns(t, ns)) return Error::Invalid;
    deadline = deadline_after(ns);
  }
  return pwait(epfd, events, maxevents, deadline, sigmask, sigsetsize);
}

// /proc/sys/fs/epoll/max_user_watches: the bound on interests (one user:
// all epolls of the VM together). Linux's default is 4% of low memory over
// the cost of an interest; writing changes it for later epoll_ctl ADDs.
namespace proc {
Result<void> show_epoll_max_watches(uint64_t, Text& out) {
  default_limit();
  out.f("{}\n", Epoll::max_watches());
  return {};
}
Result<void> store_epoll_max_watches(uint64_t, StringView data) {
  const uint32_t v = TRY(procfs::parse_write_sysctl_uint(data, 0xffffffffu));
  default_limit();  // so that a later first epoll does not replace v
  Epoll::set_max_watches(v);
  return {};
}
}  // namespace proc

}  // namespace capsule::linux_abi
