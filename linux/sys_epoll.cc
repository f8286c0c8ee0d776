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
#include "core/mm/vma.h"
#include "linux/event_args.h"
#include "linux/file_common.h"
#include "linux/signal.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
constexpr uint64_t EPOLL_CLOEXEC = O_CLOEXEC;
constexpr size_t kChunk = 256;  // events harvested per kernel buffer

struct [[gnu::packed]] KEpollEvent {  // struct epoll_event: packed on x86-64
  uint32_t events;
  uint64_t data;
};
static_assert(sizeof(KEpollEvent) == 12);
constexpr int64_t kMaxEvents = 0x7fffffff / sizeof(KEpollEvent);  // EP_MAX_EVENTS

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
  uint32_t poll_events() override { return kPollIn | kPollOut | kPollRdNorm | kPollWrNorm; }
};
AlwaysReady g_always_ready;

bool is_epoll_vnode(vfs::Vnode& v) { return v.pollable() && v.pollable()->is_epoll(); }

int64_t create(uint64_t flags) {
  if (flags & ~EPOLL_CLOEXEC) return -kEINVAL;
  auto e = Epoll::create();
  if (!e.ok()) return to_errno(e.error());
  auto* v = new (std::nothrow) EpollVnode(e.value());
  if (!v) {
    delete e.value();
    return -kENOMEM;
  }
  return install_stream(vfs::VnodeRef::adopt(v), OpenFile::READ | OpenFile::WRITE, flags & EPOLL_CLOEXEC);
}

// The Epoll behind epfd, with the file held in `ref`: 0, -EBADF or -EINVAL.
int64_t get_epoll(uint64_t epfd, vfs::FileRef& ref, Epoll*& ep) {
  auto f = get_file(epfd);
  if (!f.ok()) return -kEBADF;
  ref = static_cast<vfs::FileRef&&>(f.value());
  if (!is_epoll_vnode(ref->vnode())) return -kEINVAL;
  ep = static_cast<Epoll*>(ref->vnode().pollable());
  return 0;
}

int64_t ctl(uint64_t epfd, int op, uint64_t fd, uint64_t uevent) {
  KEpollEvent ev{};
  bool has_event = op != EPOLL_CTL_DEL;
  if (has_event && !copy_from_user(&ev, reinterpret_cast<const void*>(uevent), sizeof(ev)).ok()) return -kEFAULT;
  vfs::FileRef ef;
  Epoll* ep;
  auto f = get_file(epfd);
  if (!f.ok()) return -kEBADF;
  ef = static_cast<vfs::FileRef&&>(f.value());
  auto t = get_file(fd);
  if (!t.ok()) return -kEBADF;
  vfs::FileRef tf = static_cast<vfs::FileRef&&>(t.value());
  // Files of a file system cannot be waited on: EPERM (epoll_ctl(2)).
  vfs::Vnode& tv = tf->vnode();
  if (!tv.is_stream()) return -kEPERM;
  Pollable* obj = tv.pollable() ? tv.pollable() : &g_always_ready;
  if (!is_epoll_vnode(ef->vnode()) || ef.get() == tf.get()) return -kEINVAL;
  ep = static_cast<Epoll*>(ef->vnode().pollable());
  if (obj == ep) return -kEINVAL;
  if (has_event && (ev.events & kEpollExclusive)) {
    if (op == EPOLL_CTL_MOD) return -kEINVAL;
    if (op == EPOLL_CTL_ADD && obj->is_epoll()) return -kEINVAL;
  }
  int key = int(fd);
  switch (op) {
    case EPOLL_CTL_ADD: return ret(ep->add(obj, key, ev.events, ev.data));
    case EPOLL_CTL_MOD: return ret(ep->modify(obj, key, ev.events, ev.data));
    case EPOLL_CTL_DEL: return ret(ep->remove(obj, key));
    default: return -kEINVAL;
  }
}

// The wait shared by epoll_wait, epoll_pwait and epoll_pwait2.
int64_t wait(uint64_t epfd, uint64_t uevents, int64_t maxevents, uint64_t deadline) {
  if (maxevents <= 0 || maxevents > kMaxEvents) return -kEINVAL;
  // access_ok: the buffer must lie in the lower half (a bad page there is
  // found when events are copied out).
  if (uevents + uint64_t(maxevents) * sizeof(KEpollEvent) > mm::USER_END) return -kEFAULT;
  vfs::FileRef ref;
  Epoll* ep;
  if (int64_t e = get_epoll(epfd, ref, ep)) return e;
  size_t n = size_t(maxevents) < kChunk ? size_t(maxevents) : kChunk;
  CallArray<EpollEvent> k(n);
  CallArray<KEpollEvent> out(n);
  if (k.failed() || out.failed()) return -kENOMEM;
  auto r = ep->wait(k.get(), n, deadline);
  if (!r.ok()) return to_errno(r.error());  // Interrupted: EINTR, never restarted (epoll_wait(2))
  for (size_t i = 0; i < r.value(); ++i) out[i] = {k[i].events, k[i].data};
  if (r.value() && !copy_to_user(reinterpret_cast<void*>(uevents), out.get(), r.value() * sizeof(KEpollEvent)).ok())
    return -kEFAULT;
  return int64_t(r.value());
}

int64_t pwait(const SyscallArgs& args, uint64_t deadline) {
  uint64_t uset = args.a[4];
  uint64_t mask = 0;
  if (uset)
    if (int64_t e = get_sigset(uset, args.a[5], mask)) return e;
  if (uset && !signal_begin_temp_mask(mask)) return -kENOMEM;
  int64_t r = wait(args.a[0], args.a[1], int32_t(args.a[2]), deadline);
  if (uset) signal_end_temp_mask(r == -kEINTR);
  return r;
}

}  // namespace

LINUX_SYSCALL(213, epoll_create, "d") { return int32_t(args.a[0]) <= 0 ? -kEINVAL : create(0); }
LINUX_SYSCALL(291, epoll_create1, "x") { return create(args.a[0]); }
LINUX_SYSCALL(233, epoll_ctl, "fdfp") { return ctl(args.a[0], int32_t(args.a[1]), args.a[2], args.a[3]); }
LINUX_SYSCALL(232, epoll_wait, "fpdd") {
  return wait(args.a[0], args.a[1], int32_t(args.a[2]), deadline_ms(int32_t(args.a[3])));
}
LINUX_SYSCALL(281, epoll_pwait, "fpddpu") { return pwait(args, deadline_ms(int32_t(args.a[3]))); }
LINUX_SYSCALL(441, epoll_pwait2, "fpdppu") {
  uint64_t deadline = kWaitForever;
  if (args.a[3]) {
    auto t = get_user(reinterpret_cast<const KTimespec*>(args.a[3]));
    if (!t.ok()) return -kEFAULT;
    uint64_t ns;
    if (!timespec_ns(t.value(), ns)) return -kEINVAL;
    deadline = deadline_after(ns);
  }
  return pwait(args, deadline);
}

}  // namespace capsule::linux_abi
