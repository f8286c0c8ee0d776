// timerfd_create(2), timerfd_settime, timerfd_gettime: a StreamVnode over
// core/event's TimerFd (docs/events.md). read(2) returns the expirations
// since the last read as 8 bytes; a shorter buffer is EINVAL.
#include <new>

#include "fs/file.h"
#include "core/timerfd.h"
#include "arch/uaccess.h"
#include "linux/event_args.h"
#include "linux/file_common.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr uint64_t TFD_CLOEXEC = O_CLOEXEC, TFD_NONBLOCK = O_NONBLOCK;
constexpr uint64_t TFD_TIMER_ABSTIME = 1, TFD_TIMER_CANCEL_ON_SET = 2;
constexpr int L_CLOCK_REALTIME = 0, L_CLOCK_MONOTONIC = 1, L_CLOCK_BOOTTIME = 7, L_CLOCK_REALTIME_ALARM = 8,
              L_CLOCK_BOOTTIME_ALARM = 9;

struct KItimerspec {  // struct itimerspec: the interval comes first
  KTimespec interval;
  KTimespec value;
};

const char kTimerFdKind = 0;

class TimerFdVnode final : public StreamVnode {
 public:
  const char* anon_name() const override { return "timerfd"; }  // /proc/<pid>/fd: anon_inode:[timerfd]
  const void* kind() const override { return &kTimerFdKind; }
  explicit TimerFdVnode(TimerFd* t) : StreamVnode(0600), t_(t) {}
  TimerFd& timer() { return *t_; }
  bool stream_seeks() const override { return true; }  // noop_llseek, as Linux
  Pollable* pollable() override { return t_; }

  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    if (buf.size() < 8) return Error::Invalid;
    uint64_t n = TRY(t_->read(f.flags() & OpenFile::NONBLOCK));
    TRY(buf.copy_out(0, &n, 8));
    return size_t(8);
  }

 protected:
  ~TimerFdVnode() override { delete t_; }

 private:
  TimerFd* t_;
};

KItimerspec to_user(const TimerSpec& s) { return {ns_timespec(s.interval_ns), ns_timespec(s.value_ns)}; }

// The TimerFd behind fd: 0, -EBADF, or -EINVAL for another kind of file.
int64_t get_timer(uint64_t fd, vfs::FileRef& ref, TimerFd*& t) {
  auto f = get_file(fd);
  if (!f.ok()) return -kEBADF;
  ref = static_cast<vfs::FileRef&&>(f.value());
  vfs::Vnode& v = ref->vnode();
  if (v.kind() != &kTimerFdKind) return -kEINVAL;
  t = &static_cast<TimerFdVnode&>(v).timer();
  return 0;
}

}  // namespace

LINUX_SYSCALL(283, timerfd_create, "dx") {
  int clock = int32_t(args.a[0]);
  uint64_t flags = args.a[1];
  if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) return -kEINVAL;
  TimerClock c;
  switch (clock) {
    case L_CLOCK_REALTIME: case L_CLOCK_REALTIME_ALARM: c = TimerClock::Realtime; break;
    case L_CLOCK_MONOTONIC: case L_CLOCK_BOOTTIME: case L_CLOCK_BOOTTIME_ALARM: c = TimerClock::Monotonic; break;
    default: return -kEINVAL;
  }
  auto t = TimerFd::create(c);
  if (!t.ok()) return to_errno(t.error());
  auto* v = new (std::nothrow) TimerFdVnode(t.value());
  if (!v) {
    delete t.value();
    return -kENOMEM;
  }
  uint32_t ff = OpenFile::READ | OpenFile::WRITE | ((flags & TFD_NONBLOCK) ? OpenFile::NONBLOCK : 0);
  return install_stream(vfs::VnodeRef::adopt(v), ff, flags & TFD_CLOEXEC);
}

LINUX_SYSCALL(286, timerfd_settime, "fxpp") {
  uint64_t flags = args.a[1];
  auto n = get_user(reinterpret_cast<const KItimerspec*>(args.a[2]));
  if (!n.ok()) return -kEFAULT;
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) return -kEINVAL;
  TimerSpec spec;
  // 2^62 ns (146 years) is beyond any date a program can mean and keeps
  // the timer's deadline arithmetic clear of overflow.
  constexpr uint64_t kCap = 1ull << 62;
  if (!timespec_ns(n.value().value, spec.value_ns, kCap) || !timespec_ns(n.value().interval, spec.interval_ns, kCap))
    return -kEINVAL;
  vfs::FileRef ref;
  TimerFd* t;
  if (int64_t e = get_timer(args.a[0], ref, t)) return e;
  // TFD_TIMER_CANCEL_ON_SET is accepted; clock changes are not followed
  // (docs/events.md), so the read never fails with ECANCELED.
  auto old = t->settime(spec, flags & TFD_TIMER_ABSTIME);
  if (!old.ok()) return to_errno(old.error());
  if (args.a[3] && !put_user(reinterpret_cast<KItimerspec*>(args.a[3]), to_user(old.value())).ok()) return -kEFAULT;
  return 0;
}

LINUX_SYSCALL(287, timerfd_gettime, "fp") {
  vfs::FileRef ref;
  TimerFd* t;
  if (int64_t e = get_timer(args.a[0], ref, t)) return e;
  return put_user(reinterpret_cast<KItimerspec*>(args.a[1]), to_user(t->gettime())).ok() ? 0 : -kEFAULT;
}

}  // namespace capsule::linux_abi
