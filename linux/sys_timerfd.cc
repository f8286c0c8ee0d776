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

const char TIMERFD_KIND = 0;

class TimerFdVnode final : public StreamVnode {
 public:
  const char* anon_name() const override { return "timerfd"; }  // /proc/<pid>/fd: anon_inode:[timerfd]
  const void* kind() const override { return &TIMERFD_KIND; }
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

// The TimerFd behind fd (held in `ref`): Error::BadFd, or Error::Invalid for
// another kind of file.
Result<TimerFd*> get_timer(Fd fd, vfs::FileRef& ref) {
  ref = TRY(get_file(fd));
  vfs::Vnode& v = ref->vnode();
  if (v.kind() != &TIMERFD_KIND) return Error::Invalid;
  return &static_cast<TimerFdVnode&>(v).timer();
}

}  // namespace

DEFINE_SYSCALL(283, timerfd_create, Result<Fd>, int clockid, Flags<int> flags) {
  if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) return Error::Invalid;
  TimerClock c;
  switch (clockid) {
    case L_CLOCK_REALTIME: case L_CLOCK_REALTIME_ALARM: c = TimerClock::Realtime; break;
    case L_CLOCK_MONOTONIC: case L_CLOCK_BOOTTIME: case L_CLOCK_BOOTTIME_ALARM: c = TimerClock::Monotonic; break;
    default: return Error::Invalid;
  }
  TimerFd* t = TRY(TimerFd::create(c));
  auto* v = new (std::nothrow) TimerFdVnode(t);
  if (!v) {
    delete t;
    return Error::NoMemory;
  }
  uint32_t ff = OpenFile::READ | OpenFile::WRITE | ((flags & TFD_NONBLOCK) ? OpenFile::NONBLOCK : 0);
  return install_stream_fd(vfs::VnodeRef::adopt(v), ff, flags & TFD_CLOEXEC);
}

DEFINE_SYSCALL(286, timerfd_settime, Result<void>, Fd fd, Flags<int> flags, UserPtr<const KItimerspec> new_value,
               UserPtr<KItimerspec> old_value) {
  const KItimerspec n = TRY(new_value.read());
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) return Error::Invalid;
  TimerSpec spec;
  // 2^62 ns (146 years) is beyond any date a program can mean and keeps
  // the timer's deadline arithmetic clear of overflow.
  constexpr uint64_t MAX_TIMER_NS = 1ull << 62;
  if (!timespec_ns(n.value, spec.value_ns, MAX_TIMER_NS) ||
      !timespec_ns(n.interval, spec.interval_ns, MAX_TIMER_NS))
    return Error::Invalid;
  vfs::FileRef ref;
  TimerFd* t = TRY(get_timer(fd, ref));
  // TFD_TIMER_CANCEL_ON_SET is accepted; clock changes are not followed
  // (docs/events.md), so the read never fails with ECANCELED.
  const TimerSpec old = TRY(t->settime(spec, flags & TFD_TIMER_ABSTIME));
  if (old_value) TRY(old_value.write(to_user(old)));
  return {};
}

DEFINE_SYSCALL(287, timerfd_gettime, Result<void>, Fd fd, UserPtr<KItimerspec> curr_value) {
  vfs::FileRef ref;
  TimerFd* t = TRY(get_timer(fd, ref));
  return curr_value.write(to_user(t->gettime()));
}

}  // namespace capsule::linux_abi
