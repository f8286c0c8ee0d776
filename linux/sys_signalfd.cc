// signalfd(2), signalfd4: a descriptor that reads pending signals of a mask
// as struct signalfd_siginfo (docs/events.md). Readiness is a PollSource
// over the signal code's pending sets; linux/signal.cc calls our observer
// whenever a signal becomes pending, and we tell the signalfds whose mask
// has it.
#include <cstring>
#include <new>

#include "fs/file.h"
#include "arch/uaccess.h"
#include "arch/spinlock.h"
#include "lib/intrusive_list.h"
#include "linux/file_common.h"
#include "linux/signal.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;

constexpr uint64_t SFD_CLOEXEC = O_CLOEXEC, SFD_NONBLOCK = O_NONBLOCK;
constexpr uint64_t UNBLOCKABLE = sigbit(SIGKILL) | sigbit(SIGSTOP);

// struct signalfd_siginfo (ABI fact: 128 bytes).
struct SignalfdSiginfo {
  uint32_t signo;
  int32_t err;
  int32_t code;
  uint32_t pid;
  uint32_t uid;
  int32_t fd;
  uint32_t tid;
  uint32_t band;
  uint32_t overrun;
  uint32_t trapno;
  int32_t status;
  int32_t int_;
  uint64_t ptr;
  uint64_t utime;
  uint64_t stime;
  uint64_t addr;
  uint16_t addr_lsb;
  uint16_t pad2;
  int32_t syscall;
  uint64_t call_addr;
  uint32_t arch;
  uint8_t pad[28];
};
static_assert(sizeof(SignalfdSiginfo) == 128);

SignalfdSiginfo to_ssi(const KSigInfo& i) {
  SignalfdSiginfo s;
  memset(&s, 0, sizeof(s));
  s.signo = uint32_t(i.signo);
  s.err = i.err;
  s.code = i.code;
  if (i.code == SI_TIMER) {  // POSIX timers
    s.tid = uint32_t(i.u.timer.tid);
    s.overrun = uint32_t(i.u.timer.overrun);
    s.ptr = i.u.timer.value;
    s.int_ = int32_t(i.u.timer.value);
  } else if (i.code <= 0) {  // kill, tkill, sigqueue: sender and value
    s.pid = uint32_t(i.u.kill.pid);
    s.uid = i.u.kill.uid;
    s.ptr = i.u.kill.value;
    s.int_ = int32_t(i.u.kill.value);
  } else if (i.signo == SIGSEGV || i.signo == SIGBUS || i.signo == SIGILL || i.signo == SIGFPE ||
             i.signo == SIGTRAP) {
    s.addr = i.u.addr;
  }
  return s;
}

const char SIGNALFD_KIND = 0;

class SignalfdVnode;
SpinLock g_list_lock;  // the list of signalfds; notifications run under it

class SignalfdVnode final : public StreamVnode {
 public:
  const char* anon_name() const override { return "signalfd"; }  // /proc/<pid>/fd: anon_inode:[signalfd]
  explicit SignalfdVnode(uint64_t mask) : StreamVnode(0600), mask_(mask), source_(query, this, false /* no fasync on Linux */) {}
  const void* kind() const override { return &SIGNALFD_KIND; }
  bool stream_seeks() const override { return true; }  // noop_llseek, as Linux
  Pollable* pollable() override { return &source_; }

  uint64_t mask() const { return __atomic_load_n(&mask_, __ATOMIC_ACQUIRE); }
  void set_mask(uint64_t m) {
    __atomic_store_n(&mask_, m, __ATOMIC_RELEASE);
    source_.changed(POLL_IN | POLL_RDNORM);
  }
  void signal_pending(int sig) {
    if (mask() & sigbit(sig)) source_.changed(POLL_IN | POLL_RDNORM);
  }

  // As many pending signals of the mask as fit; blocks for the first.
  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    size_t max = buf.size() / sizeof(SignalfdSiginfo);
    if (!max) return Error::Invalid;
    size_t n = 0;
    while (n < max) {
      KSigInfo info;
      if (!signal_take(mask(), &info)) {
        if (n) break;
        if (f.flags() & OpenFile::NONBLOCK) return Error::Again;
        if (signal_pending_current()) return Error::Interrupted;
        signal_wait_any(mask());
        continue;
      }
      SignalfdSiginfo s = to_ssi(info);
      // A fault after the signal left the pending set loses it, as on Linux.
      if (!buf.copy_out(n * sizeof(s), &s, sizeof(s)).ok()) return n ? Result<size_t>(n * sizeof(s)) : Error::Fault;
      ++n;
    }
    return n * sizeof(SignalfdSiginfo);
  }

  ListNode node;  // in g_list, under g_list_lock

 protected:
  ~SignalfdVnode() override;

 private:
  static uint32_t query(void* self) {
    auto* v = static_cast<SignalfdVnode*>(self);
    return (signal_pending_any() & v->mask()) ? (POLL_IN | POLL_RDNORM) : 0;
  }

  uint64_t mask_;
  PollSource source_;
};

IntrusiveList<SignalfdVnode, &SignalfdVnode::node> g_list;

SignalfdVnode::~SignalfdVnode() {
  SpinGuard g(g_list_lock);
  g_list.remove(*this);
}

void on_pending(int sig) {
  SpinGuard g(g_list_lock);
  for (SignalfdVnode& v : g_list) v.signal_pending(sig);
}

Result<Fd> do_signalfd(Fd fd, UserPtr<const uint64_t> umask, size_t size, uint64_t flags) {
  if (flags & ~(SFD_CLOEXEC | SFD_NONBLOCK)) return Error::Invalid;
  if (size != 8) return Error::Invalid;
  uint64_t mask = TRY(umask.read()) & ~UNBLOCKABLE;  // signalfd(2): silently ignored
  if (fd != -1) {
    auto f = get_file(fd);
    if (!f.ok()) return Error::BadFd;
    vfs::Vnode& v = f.value()->vnode();
    if (v.kind() != &SIGNALFD_KIND) return Error::Invalid;
    static_cast<SignalfdVnode&>(v).set_mask(mask);
    return fd;
  }
  signal_set_pending_observer(on_pending);
  auto* v = new (std::nothrow) SignalfdVnode(mask);
  if (!v) return Error::NoMemory;
  {
    SpinGuard g(g_list_lock);
    g_list.push_back(*v);
  }
  uint32_t ff = OpenFile::READ | OpenFile::WRITE | ((flags & SFD_NONBLOCK) ? OpenFile::NONBLOCK : 0);
  return install_stream_fd(vfs::VnodeRef::adopt(v), ff, flags & SFD_CLOEXEC);
}

}  // namespace

DEFINE_SYSCALL(282, signalfd, Result<Fd>, Fd fd, UserPtr<const uint64_t> mask, size_t size) {
  return do_signalfd(fd, mask, size, 0);
}
// flags: the whole register is checked (unknown bits anywhere are EINVAL).
DEFINE_SYSCALL(289, signalfd4, Result<Fd>, Fd fd, UserPtr<const uint64_t> mask, size_t size, Flags<uint64_t> flags) {
  return do_signalfd(fd, mask, size, flags);
}

}  // namespace capsule::linux_abi
