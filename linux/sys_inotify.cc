// inotify(7): inotify_init, inotify_init1, inotify_add_watch,
// inotify_rm_watch (docs/inotify.md). An instance is a descriptor over an
// InotifyVnode whose Inotify is both the VFS's NotifyGroup (it holds the
// watches; fs/vfs/notify.cc calls queue() with each event) and a Pollable
// (readable while events are queued). read() hands out whole
// `struct inotify_event` records; the /proc/sys/fs/inotify limits live here.
#include <new>

#include "arch/uaccess.h"
#include "core/event/sync.h"
#include "core/event/wait.h"
#include "core/poll.h"
#include "core/thread.h"
#include "fs/vfs/notify.h"
#include "linux/file_common.h"
#include "linux/procfs.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using event::Hold;
using vfs::OpenFile;
using vfs::VnodeRef;

// inotify_init1(2) flags and inotify_add_watch(2) mask bits (the events
// are vfs::NOTE_*, which have these values).
constexpr uint32_t IN_CLOEXEC = O_CLOEXEC, IN_NONBLOCK = O_NONBLOCK;
constexpr uint32_t IN_ALL_EVENTS = vfs::NOTE_EVENTS, IN_UNMOUNT = vfs::NOTE_UNMOUNT,
                   IN_Q_OVERFLOW = vfs::NOTE_OVERFLOW, IN_IGNORED = vfs::NOTE_IGNORED, IN_ISDIR = vfs::NOTE_ISDIR;
constexpr uint32_t IN_ONLYDIR = 0x01000000, IN_DONT_FOLLOW = 0x02000000, IN_EXCL_UNLINK = vfs::NOTE_EXCL_UNLINK,
                   IN_MASK_CREATE = 0x10000000, IN_MASK_ADD = 0x20000000, IN_ONESHOT = vfs::NOTE_ONESHOT;
// Linux's ALL_INOTIFY_BITS: anything else in a mask is EINVAL.
constexpr uint32_t ALL_INOTIFY_BITS = IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED | IN_ONLYDIR |
                                      IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_ADD | IN_MASK_CREATE | IN_ISDIR |
                                      IN_ONESHOT;
constexpr uint64_t FIONREAD = 0x541b;

struct InotifyEvent {  // struct inotify_event, then `len` bytes of name
  int32_t wd;
  uint32_t mask, cookie, len;
};
static_assert(sizeof(InotifyEvent) == 16);

// /proc/sys/fs/inotify (Linux's defaults; max_user_watches depends on
// memory there, 65536 here). Instances count against max_user_instances
// (one user: everything runs as root).
std::atomic<uint32_t> g_max_queued{16384};
std::atomic<uint32_t> g_max_instances{128};
std::atomic<uint32_t> g_instances{0};

// The name padded with NULs to a multiple of the record size (Linux's
// round_event_name_len); 0 for no name.
uint32_t padded(size_t name_len) { return name_len ? uint32_t((name_len + 1 + 15) & ~size_t(15)) : 0; }

struct QueuedEvent {
  QueuedEvent* next = nullptr;
  int32_t wd;
  uint32_t mask, cookie;
  uint16_t name_len;
  char name[vfs::MAX_NAME + 1];  // allocated to fit (see alloc)
  size_t record_size() const { return sizeof(InotifyEvent) + padded(name_len); }
  bool same(int32_t w, uint32_t m, uint32_t c, StringView n) const {
    if (wd != w || mask != m || cookie != c || name_len != n.size()) return false;
    for (size_t i = 0; i < name_len; ++i)
      if (name[i] != n[i]) return false;
    return true;
  }
  static QueuedEvent* alloc(size_t name_len) {
    size_t bytes = sizeof(QueuedEvent) - sizeof(name) + name_len + 1;
    void* p = ::operator new(bytes, std::nothrow);
    return p ? new (p) QueuedEvent : nullptr;
  }
  static void free(QueuedEvent* e) {
    e->~QueuedEvent();
    ::operator delete(e);
  }
};

class Inotify final : public Pollable, public vfs::NotifyGroup {
 public:
  explicit Inotify(uint32_t max_events) : max_events_(max_events) { overflow_.name_len = 0; }
  ~Inotify() {
    drop_watches();
    detach_watchers();
    while (QueuedEvent* e = head_) {
      head_ = e->next;
      if (e != &overflow_) QueuedEvent::free(e);
    }
  }

  uint32_t poll_events() override {
    Hold<Mutex> g(mu_);
    return head_ ? (POLL_IN | POLL_RDNORM) : 0;
  }

  uint32_t bytes_queued() {
    Hold<Mutex> g(mu_);
    return bytes_;
  }

  // read(2): whole records, as many as fit; Invalid when the first does
  // not; Fault for a bad buffer (the record is lost, as on Linux).
  Result<size_t> read(vfs::IoBuffer& buf, bool nonblock) {
    Hold<Mutex> g(mu_);
    while (!head_) {
      if (nonblock) return Error::Again;
      WaitTag tag("inotify read", this);
      TRY(readers_.wait(mu_, 0));
    }
    size_t pos = 0;
    while (QueuedEvent* e = head_) {
      size_t size = e->record_size();
      if (size > buf.size() - pos) {
        if (pos == 0) return Error::Invalid;
        break;
      }
      head_ = e->next;
      if (!head_) tail_ = nullptr;
      --count_;
      bytes_ -= uint32_t(size);
      char rec[sizeof(InotifyEvent) + vfs::MAX_NAME + 1 + 16] = {};
      InotifyEvent h{e->wd, e->mask, e->cookie, padded(e->name_len)};
      __builtin_memcpy(rec, &h, sizeof h);
      __builtin_memcpy(rec + sizeof h, e->name, e->name_len);
      if (e == &overflow_) overflow_queued_ = false;
      else QueuedEvent::free(e);
      TRY(buf.copy_out(pos, rec, size));
      pos += size;
    }
    return pos;
  }

 protected:
  // Called by fs/vfs/notify.cc with its lock held.
  void queue(int wd, uint32_t mask, uint32_t cookie, StringView name) override {
    Hold<Mutex> g(mu_);
    QueuedEvent* e = nullptr;
    if (count_ < max_events_) {
      // inotify merges an event identical to the last one queued.
      if (tail_ && tail_->same(wd, mask, cookie, name)) return;
      e = QueuedEvent::alloc(name.size());
    }
    if (!e) {
      // A full queue (or no memory): one IN_Q_OVERFLOW (wd -1), unless
      // one is still queued; it counts as an event (Linux's q_len).
      if (overflow_queued_) return;
      overflow_queued_ = true;
      e = &overflow_;
      wd = -1;
      mask = IN_Q_OVERFLOW;
      cookie = 0;
      name = {};
    }
    e->next = nullptr;
    e->wd = wd;
    e->mask = mask;
    e->cookie = cookie;
    e->name_len = uint16_t(name.size());
    for (size_t i = 0; i < name.size(); ++i) e->name[i] = name[i];
    e->name[name.size()] = 0;
    if (tail_) tail_->next = e;
    else head_ = e;
    tail_ = e;
    ++count_;
    bytes_ += uint32_t(e->record_size());
    readers_.wake_all();
    notify(POLL_IN | POLL_RDNORM);
  }

 private:
  Mutex mu_;
  QueuedEvent* head_ = nullptr;  // under mu_
  QueuedEvent* tail_ = nullptr;  // under mu_
  uint32_t count_ = 0;           // under mu_: events queued
  uint32_t bytes_ = 0;           // under mu_: what read would return (FIONREAD)
  const uint32_t max_events_;
  QueuedEvent overflow_;  // preallocated, as Linux's overflow event
  bool overflow_queued_ = false;  // under mu_
  event::WaitList readers_;
};

constexpr char INOTIFY_KIND = 0;  // InotifyVnode::kind()

class InotifyVnode final : public StreamVnode {
 public:
  explicit InotifyVnode(Inotify* in) : StreamVnode(0600), in_(in) {}
  Inotify& inotify() { return *in_; }
  const char* anon_name() const override { return "inotify"; }  // anon_inode:inotify
  const void* kind() const override { return &INOTIFY_KIND; }
  bool stream_seeks() const override { return true; }  // noop_llseek
  Pollable* pollable() override { return in_; }
  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    return in_->read(buf, f.flags() & OpenFile::NONBLOCK);
  }
  Result<int64_t> ioctl(OpenFile&, uint64_t cmd, uint64_t arg) override {
    if (cmd != FIONREAD) return Error::NotSupported;
    int n = int(in_->bytes_queued());
    TRY(UserPtr<int>(arg).write(n));
    return int64_t(0);
  }

 protected:
  ~InotifyVnode() override {
    delete in_;
    g_instances.fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  Inotify* in_;
};

Result<Fd> create(uint32_t flags) {
  if (flags & ~(IN_CLOEXEC | IN_NONBLOCK)) return Error::Invalid;
  // EMFILE past max_user_instances (inotify_init(2)).
  if (g_instances.fetch_add(1, std::memory_order_relaxed) >= g_max_instances.load(std::memory_order_relaxed)) {
    g_instances.fetch_sub(1, std::memory_order_relaxed);
    return Error::TooManyFiles;
  }
  auto* in = new (std::nothrow) Inotify(g_max_queued.load(std::memory_order_relaxed));
  auto* v = in ? new (std::nothrow) InotifyVnode(in) : nullptr;
  if (!v) {
    delete in;
    g_instances.fetch_sub(1, std::memory_order_relaxed);
    return Error::NoMemory;
  }
  uint32_t ff = OpenFile::READ | ((flags & IN_NONBLOCK) ? OpenFile::NONBLOCK : 0);
  return install_stream_fd(VnodeRef::adopt(v), ff, flags & IN_CLOEXEC);
}

// The instance behind fd: BadFd, or Invalid for another kind of file.
Result<vfs::FileRef> instance(Fd fd) {
  vfs::FileRef f = TRY(get_file(fd));
  if (f->vnode().kind() != &INOTIFY_KIND) return Error::Invalid;
  return f;
}

}  // namespace

DEFINE_SYSCALL(253, inotify_init, Result<Fd>) { return create(0); }
DEFINE_SYSCALL(294, inotify_init1, Result<Fd>, Flags<int> flags) { return create(uint32_t(flags.value)); }

// Checks in Linux's order: the mask's bits, the descriptor, IN_MASK_ADD
// with IN_MASK_CREATE, the kind of file, then the path.
DEFINE_SYSCALL(254, inotify_add_watch, Result<int>, Fd fd, UserString path, Flags<uint32_t> mask_arg) {
  uint32_t mask = mask_arg.value;
  if (mask & ~ALL_INOTIFY_BITS) return Error::Invalid;
  if (!(mask & ALL_INOTIFY_BITS)) return Error::Invalid;
  vfs::FileRef f = TRY(get_file(fd));
  if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE)) return Error::Invalid;
  if (f->vnode().kind() != &INOTIFY_KIND) return Error::Invalid;
  UserPath p;
  TRY(copy_path(path, p));
  Ctx ctx = cur_ctx();
  unsigned walk = ((mask & IN_DONT_FOLLOW) ? 0 : vfs::WALK_FOLLOW) | ((mask & IN_ONLYDIR) ? vfs::WALK_DIRECTORY : 0);
  VnodeRef v = TRY(vfs::kernel_vfs()->resolve(ctx.pc(), p.view(), walk));
  auto& in = static_cast<InotifyVnode&>(f->vnode()).inotify();
  Result<int> wd = in.add_watch(*v, mask, mask & IN_MASK_ADD, mask & IN_MASK_CREATE);
  // inotify_add_watch(2): ENOSPC past max_user_watches.
  return wd;
}

DEFINE_SYSCALL(255, inotify_rm_watch, Result<void>, Fd fd, int wd) {
  vfs::FileRef f = TRY(instance(fd));
  return static_cast<InotifyVnode&>(f->vnode()).inotify().remove_watch(wd);
}

// --- /proc/sys/fs/inotify ---------------------------------------------------------

namespace proc {
namespace {

Result<void> store_limit(std::atomic<uint32_t>& limit, StringView data) {
  // Linux's proc_dointvec_minmax with a minimum of 0 and INT_MAX.
  const uint32_t v = TRY(procfs::parse_write_sysctl_uint(data, 0x7fffffff));
  limit.store(v, std::memory_order_relaxed);
  return {};
}

}  // namespace

Result<void> show_inotify_max_queued(uint64_t, Text& out) {
  out.f("{}\n", g_max_queued.load(std::memory_order_relaxed));
  return {};
}
Result<void> store_inotify_max_queued(uint64_t, StringView data) { return store_limit(g_max_queued, data); }
Result<void> show_inotify_max_watches(uint64_t, Text& out) {
  out.f("{}\n", vfs::NotifyGroup::max_watches.load(std::memory_order_relaxed));
  return {};
}
Result<void> store_inotify_max_watches(uint64_t, StringView data) {
  return store_limit(vfs::NotifyGroup::max_watches, data);
}
Result<void> show_inotify_max_instances(uint64_t, Text& out) {
  out.f("{}\n", g_max_instances.load(std::memory_order_relaxed));
  return {};
}
Result<void> store_inotify_max_instances(uint64_t, StringView data) { return store_limit(g_max_instances, data); }

}  // namespace proc

}  // namespace capsule::linux_abi
