// Pseudo-terminals (linux/pty_file.h, docs/pty.md): the Linux face of the
// pairs in drivers/tty/pty.cc. Opening /dev/ptmx makes a pair: a number
// from devpts, a node /dev/pts/N (PtsNode, on devpts) and the master
// (MasterEnd). Each open of the node is a SlaveEnd; the pair lives as long
// as the node. The master's last close hangs the slave up and removes the
// name. Job control state (the session whose controlling terminal the
// slave is, its foreground group) lives here, under one spin lock.
#include "linux/pty_file.h"

#include <atomic>
#include <new>

#include "arch/spinlock.h"
#include "arch/uaccess.h"
#include "core/time.h"
#include "drivers/pty.h"
#include "drivers/tty/termios.h"
#include "fs/devpts.h"
#include "linux/console_file.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/process.h"
#include "linux/process_state.h"
#include "linux/procfs.h"
#include "linux/signal.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;
using vfs::VnodeRef;

// TTY ioctl requests (asm-generic/ioctls.h).
enum : uint64_t {
  TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404, TCSBRK = 0x5409, TCXONC = 0x540a,
  TCFLSH = 0x540b, TIOCSCTTY = 0x540e, TIOCGPGRP = 0x540f, TIOCSPGRP = 0x5410, TIOCOUTQ = 0x5411,
  TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, FIONREAD = 0x541b, TIOCPKT = 0x5420, TIOCNOTTY = 0x5422,
  TIOCGSID = 0x5429, TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431, TIOCGPKT = 0x80045438,
  TIOCGPTLCK = 0x80045439, TIOCGPTPEER = 0x5441,
};
constexpr uint32_t TTY_GID = 5;  // the "tty" group: devpts mounted gid=5,mode=620 as udev systems do

Result<int64_t> zero_or_fault(Result<void> copied) {
  if (!copied.ok()) return Error::Fault;
  return int64_t(0);
}

struct Ids {
  int pgid = 0, sid = 0;
};
Ids ids_of(Process& p) {
  SpinGuard g(p.creds->lock);
  return Ids{p.creds->pgid, p.creds->sid};
}

SpinLock g_ctty_lock;  // every pair's session and foreground group, and g_pairs

class PtsNode;

// One pair: the terminal (drivers/tty/pty.cc) and what Linux adds to it.
struct Pair final : tty::PtyOwner {
  explicit Pair(uint32_t i) : index(i), pty(*this) {}
  const uint32_t index;
  tty::Pty pty;
  PtsNode* node = nullptr;          // owns the pair
  std::atomic<bool> locked{true};   // TIOCSPTLCK: the slave cannot be opened
  int32_t session = 0;              // g_ctty_lock: the session it controls (0: none)
  int32_t pgrp = 0;                 // g_ctty_lock: its foreground group

  // The line discipline's signals and SIGWINCH: the foreground group.
  void pty_signal(int sig) override {
    int32_t g;
    {
      SpinGuard s(g_ctty_lock);
      g = pgrp;
    }
    if (g > 0) signal_process_group(g, sig);
  }
};

// The pairs with a master, by number (g_ctty_lock): whose session is whose.
Pair* g_pairs[devpts::MAX_PTYS];

Pair* pair_of_session_locked(int sid) {
  if (!sid) return nullptr;
  for (Pair* p : g_pairs)
    if (p && p->session == sid) return p;
  return nullptr;
}

// The session already has a controlling terminal (the console or a pair).
bool session_has_ctty(int sid) {
  if (console_controls_session(sid)) return true;
  SpinGuard g(g_ctty_lock);
  return pair_of_session_locked(sid) != nullptr;
}

void send_kernel_signal(Process& p, int sig) {
  KSigInfo info;
  info.signo = sig;
  info.code = SI_KERNEL;
  (void)signal_send_process(p, info);
}

constexpr char SLAVE_KIND = 'S', MASTER_KIND = 'M';

// devfs's /dev/ptmx and /dev/tty (pty_init): a master's fstat answers the
// former's inode and a slave opened as /dev/tty the latter's, as on Linux
// where the descriptor is on the node it was opened through (so
// ttyname() finds "/dev/ptmx" and "/dev/tty").
struct NodeIds {
  uint64_t dev = 0, ino = 0;
};
NodeIds g_ptmx_ids, g_tty_ids;

// /dev/pts/N: the node on devpts. Opening it makes a SlaveEnd.
class PtsNode final : public vfs::Vnode {
 public:
  PtsNode(vfs::FileSystem* fs, Pair* pair)
      : Vnode(fs, devpts::slave_ino(pair->index), vfs::MODE_CHAR | 0620),
        pair_(pair),
        uid_(current_fsuid()),
        time_ns_(realtime_ns()) {
    pair->node = this;
  }
  Pair& pair() { return *pair_; }

  Result<vfs::Attr> getattr() override {
    vfs::Attr a;
    a.dev = fs()->dev();
    a.ino = ino();
    {
      SpinGuard g(lock_);
      a.mode = vfs::MODE_CHAR | mode_;
      a.uid = uid_;
      a.gid = gid_;
    }
    a.nlink = 1;
    a.rdev = devpts::slave_rdev(pair_->index);
    a.blksize = 1024;
    a.atime_ns = a.mtime_ns = a.ctime_ns = time_ns_;
    return a;
  }
  // chmod/chown (an old grantpt's): kept.
  Result<void> setattr(const vfs::SetAttr& s) override {
    SpinGuard g(lock_);
    if (s.mask & vfs::SetAttr::MODE) mode_ = s.mode & 07777;
    if (s.mask & vfs::SetAttr::UID) uid_ = s.uid;
    if (s.mask & vfs::SetAttr::GID) gid_ = s.gid;
    return {};
  }
  Result<VnodeRef> open_as(uint32_t how) override;

 protected:
  ~PtsNode() override {
    {
      SpinGuard g(g_ctty_lock);
      if (g_pairs[pair_->index] == pair_) g_pairs[pair_->index] = nullptr;
    }
    delete pair_;
  }

 private:
  Pair* pair_;
  SpinLock lock_;
  uint32_t mode_ = 0620, uid_, gid_ = TTY_GID;
  int64_t time_ns_;
};

Result<int64_t> tty_ioctl(Pair& pair, bool master, OpenFile& f, uint64_t cmd, uint64_t arg);

// Job control on the slave (the console's rules, terminal_job_check): a
// background group of the controlling session that reads gets SIGTTIN,
// one that writes with TOSTOP or changes the terminal SIGTTOU.
Result<void> job_check(Pair& pair, int sig, bool ignored_goes_on) {
  int32_t sid, fg;
  {
    SpinGuard g(g_ctty_lock);
    sid = pair.session;
    fg = pair.pgrp;
  }
  return terminal_job_check(sid, fg, sig, ignored_goes_on);
}
constexpr uint32_t L_TOSTOP = 0400;  // termios c_lflag (asm-generic/termbits.h)

// One open of the slave.
class SlaveEnd final : public StreamVnode {
 public:
  // via_tty: opened as /dev/tty.
  SlaveEnd(VnodeRef node, bool via_tty)
      : StreamVnode(vfs::MODE_CHAR | 0620, devpts::slave_rdev(static_cast<PtsNode&>(*node).pair().index)),
        node_(static_cast<VnodeRef&&>(node)),
        via_tty_(via_tty) {
    pair().pty.slave_opened();
  }
  Pair& pair() { return static_cast<PtsNode&>(*node_).pair(); }
  bool via_tty() const { return via_tty_; }

  // stat and fstat agree (ttyname compares them).
  Result<vfs::Attr> getattr() override {
    vfs::Attr a = TRY(node_->getattr());
    if (via_tty_) {
      a.dev = g_tty_ids.dev, a.ino = g_tty_ids.ino;
      a.mode = vfs::MODE_CHAR | 0666;
      a.uid = a.gid = 0;
      a.rdev = (5ull << 32) | 0;
    }
    return a;
  }
  Result<void> setattr(const vfs::SetAttr& s) override { return node_->setattr(s); }
  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    if (!pair().pty.hung_up()) TRY(job_check(pair(), SIGTTIN, false));
    return pair().pty.slave_read(buf, f.flags() & OpenFile::NONBLOCK);
  }
  Result<size_t> write_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    tty::Termios t;
    pair().pty.get_termios(t);
    if ((t.lflag & L_TOSTOP) && !pair().pty.hung_up()) TRY(job_check(pair(), SIGTTOU, true));
    return pair().pty.slave_write(buf, f.flags() & OpenFile::NONBLOCK);
  }
  Pollable* pollable() override { return &pair().pty.slave_pollable(); }
  Result<int64_t> ioctl(OpenFile& f, uint64_t cmd, uint64_t arg) override {
    return tty_ioctl(pair(), false, f, cmd, arg);
  }
  const void* kind() const override { return &SLAVE_KIND; }

 protected:
  ~SlaveEnd() override { pair().pty.slave_closed(); }

 private:
  VnodeRef node_;
  const bool via_tty_;
};

Result<VnodeRef> PtsNode::open_as(uint32_t) {
  // Locked (no unlockpt yet) or hung up: EIO, as Linux's pty_open.
  if (pair_->locked.load(std::memory_order_acquire) || pair_->pty.hung_up()) return Error::Io;
  auto* s = new (std::nothrow) SlaveEnd(VnodeRef(this), false);
  if (!s) return Error::NoMemory;
  return VnodeRef::adopt(s);
}

// The master: one per pair, its last close hangs up.
class MasterEnd final : public StreamVnode {
 public:
  explicit MasterEnd(VnodeRef node) : StreamVnode(vfs::MODE_CHAR | 0666, devpts::PTMX_RDEV), node_(node) {}
  Pair& pair() { return static_cast<PtsNode&>(*node_).pair(); }

  Result<vfs::Attr> getattr() override {
    vfs::Attr a = TRY(StreamVnode::getattr());
    if (g_ptmx_ids.ino) a.dev = g_ptmx_ids.dev, a.ino = g_ptmx_ids.ino;
    return a;
  }

  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    return pair().pty.master_read(buf, f.flags() & OpenFile::NONBLOCK);
  }
  Result<size_t> write_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    return pair().pty.master_write(buf, f.flags() & OpenFile::NONBLOCK);
  }
  Pollable* pollable() override { return &pair().pty.master_pollable(); }
  Result<int64_t> ioctl(OpenFile& f, uint64_t cmd, uint64_t arg) override {
    return tty_ioctl(pair(), true, f, cmd, arg);
  }
  const void* kind() const override { return &MASTER_KIND; }

 protected:
  // The last master descriptor is gone: the slave is hung up (reads 0,
  // writes EIO), the session loses it and its leader gets SIGHUP and
  // SIGCONT (Linux's tty_vhangup of the slave), and /dev/pts/N goes away.
  ~MasterEnd() override {
    Pair& p = pair();
    int32_t sid;
    {
      SpinGuard g(g_ctty_lock);
      sid = p.session;
      p.session = p.pgrp = 0;
      if (g_pairs[p.index] == &p) g_pairs[p.index] = nullptr;
    }
    p.pty.hang_up();
    devpts::remove(p.index);
    if (sid)
      if (Process* leader = process_find(sid)) {
        send_kernel_signal(*leader, SIGHUP);
        send_kernel_signal(*leader, SIGCONT);
      }
  }

 private:
  VnodeRef node_;
};

// /dev/ptmx (the device registry): a new pair, its master.
Result<VnodeRef> open_ptmx(uint64_t, uint32_t) {
  vfs::FsRef fs = TRY(devpts::instance());
  const uint32_t index = TRY(devpts::reserve());
  auto* pair = new (std::nothrow) Pair(index);
  if (!pair || !pair->pty.ok()) {
    delete pair;
    devpts::remove(index);
    return Error::NoMemory;
  }
  auto* n = new (std::nothrow) PtsNode(fs.get(), pair);
  if (!n) {
    delete pair;
    devpts::remove(index);
    return Error::NoMemory;
  }
  VnodeRef node = VnodeRef::adopt(n);
  auto* m = new (std::nothrow) MasterEnd(node);
  if (!m) {
    devpts::remove(index);
    return Error::NoMemory;
  }
  {
    SpinGuard g(g_ctty_lock);
    g_pairs[index] = pair;
  }
  devpts::publish(index, node);
  return VnodeRef::adopt(m);
}

// Whether a live process group pgid exists, and its session.
struct GroupLook {
  int pgid, sid = 0;
  bool found = false;
};

Result<int64_t> set_foreground(Pair& pair, uint64_t arg) {
  Process* p = current_process();
  if (!p) return Error::NotSupported;
  const Ids me = ids_of(*p);
  {
    SpinGuard g(g_ctty_lock);
    if (!pair.session || pair.session != me.sid) return Error::NotSupported;
  }
  TRY(job_check(pair, SIGTTOU, true));
  int32_t pg;
  if (!copy_from_user(&pg, reinterpret_cast<void*>(arg), sizeof pg).ok()) return Error::Fault;
  if (pg < 0) return Error::Invalid;
  int sid = 0;
  if (!process_group_session(pg, &sid)) return Error::NoProcess;
  SpinGuard g(g_ctty_lock);
  if (sid != pair.session) return Error::Permission;
  pair.pgrp = pg;
  return int64_t(0);
}

Result<int64_t> set_controlling(Pair& pair, uint64_t arg) {
  Process* p = current_process();
  if (!p) return Error::Permission;
  const Ids me = ids_of(*p);
  {
    SpinGuard g(g_ctty_lock);
    if (pair.session == me.sid && me.sid == p->pid) return int64_t(0);
  }
  if (me.sid != p->pid || session_has_ctty(me.sid)) return Error::Permission;
  const bool steal = arg == 1 && current_capable(L_CAP_SYS_ADMIN);
  SpinGuard g(g_ctty_lock);
  if (pair.session && !steal) return Error::Permission;
  pair.session = me.sid;
  pair.pgrp = me.pgid;
  return int64_t(0);
}

// TIOCNOTTY: the leader gives it up (SIGHUP and SIGCONT to the foreground
// group); another member's own loss of it is not kept per process: 0.
Result<int64_t> give_up(Pair& pair) {
  Process* p = current_process();
  if (!p) return Error::NotSupported;
  const Ids me = ids_of(*p);
  int32_t fg = 0;
  {
    SpinGuard g(g_ctty_lock);
    if (!pair.session || pair.session != me.sid) return Error::NotSupported;
    if (me.sid != p->pid) return int64_t(0);
    fg = pair.pgrp;
    pair.session = pair.pgrp = 0;
  }
  if (fg > 0) {
    signal_process_group(fg, SIGHUP);
    signal_process_group(fg, SIGCONT);
  }
  return int64_t(0);
}

Result<int64_t> open_peer(Pair& pair, uint64_t flags) {
  if (pair.locked.load(std::memory_order_acquire)) return Error::Io;
  VnodeRef v = TRY(pair.node->open_as(0));
  uint32_t f = (flags & O_ACCMODE) == O_WRONLY ? OpenFile::WRITE
               : (flags & O_ACCMODE) == O_RDWR ? OpenFile::READ | OpenFile::WRITE
                                               : OpenFile::READ;
  if (flags & O_NONBLOCK) f |= OpenFile::NONBLOCK;
  vfs::FileRef file = TRY(OpenFile::create(static_cast<VnodeRef&&>(v), f));
  file->abi_flags.store(uint32_t(O_LARGEFILE));
  if (!(flags & O_NOCTTY)) pty_open_ctty(*file);
  Fd fd = TRY(install_fd(static_cast<vfs::FileRef&&>(file), flags & O_CLOEXEC));
  return int64_t(fd.value);
}

Result<int64_t> tty_ioctl(Pair& pair, bool master, OpenFile&, uint64_t cmd, uint64_t arg) {
  void* up = reinterpret_cast<void*>(arg);
  tty::Pty& pty = pair.pty;
  // A hung-up slave (its master closed): EIO, TIOCSPGRP ENOTTY (Linux's
  // hung_up_tty_ioctl).
  if (!master && pty.hung_up()) return cmd == TIOCSPGRP ? Result<int64_t>(Error::NotSupported) : Error::Io;
  // Changing the terminal from a background group: SIGTTOU (Linux's
  // tty_check_change; TIOCSPGRP checks after its own ENOTTY).
  if (!master && (cmd == TCSETS || cmd == TCSETSW || cmd == TCSETSF || cmd == TCFLSH || cmd == TCXONC))
    TRY(job_check(pair, SIGTTOU, true));
  switch (cmd) {
    case TCGETS: {
      tty::Termios t;
      pty.get_termios(t);
      return zero_or_fault(copy_to_user(up, &t, sizeof t));
    }
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
      tty::Termios t;
      if (!copy_from_user(&t, up, sizeof t).ok()) return Error::Fault;
      pty.set_termios(t, int(cmd - TCSETS));
      return int64_t(0);
    }
    case TIOCGWINSZ: {
      tty::WinSize w = pty.winsize();
      return zero_or_fault(copy_to_user(up, &w, sizeof w));
    }
    case TIOCSWINSZ: {
      tty::WinSize w;
      if (!copy_from_user(&w, up, sizeof w).ok()) return Error::Fault;
      pty.set_winsize(w);
      return int64_t(0);
    }
    case FIONREAD: {
      int32_t n = int32_t(master ? pty.master_available() : pty.slave_available());
      return zero_or_fault(copy_to_user(up, &n, sizeof n));
    }
    case TIOCOUTQ: {
      int32_t n = master ? 0 : int32_t(pty.output_queued());
      return zero_or_fault(copy_to_user(up, &n, sizeof n));
    }
    case TCFLSH:
      if (arg > 2) return Error::Invalid;
      pty.flush(master, arg != 1, arg != 0);  // TCIFLUSH 0, TCOFLUSH 1, TCIOFLUSH 2
      return int64_t(0);
    case TCXONC:
      if (arg > 3) return Error::Invalid;
      if (!master && arg <= 1) pty.set_stopped(arg == 0);  // TCOOFF, TCOON
      return int64_t(0);
    case TCSBRK:
      return int64_t(0);
    case TIOCGPGRP: {
      int32_t g;
      {
        SpinGuard s(g_ctty_lock);
        Process* p = current_process();
        if (!master && (!p || !pair.session || pair.session != ids_of(*p).sid)) return Error::NotSupported;
        g = pair.pgrp;
      }
      return zero_or_fault(copy_to_user(up, &g, sizeof g));
    }
    case TIOCSPGRP:
      return set_foreground(pair, arg);
    case TIOCGSID: {
      int32_t s;
      {
        SpinGuard g(g_ctty_lock);
        Process* p = current_process();
        if (!pair.session || (!master && (!p || pair.session != ids_of(*p).sid))) return Error::NotSupported;
        s = pair.session;
      }
      return zero_or_fault(copy_to_user(up, &s, sizeof s));
    }
    default:
      break;
  }
  if (!master) {
    if (cmd == TIOCSCTTY) return set_controlling(pair, arg);
    if (cmd == TIOCNOTTY) return give_up(pair);
    return Error::NotSupported;
  }
  switch (cmd) {
    case TIOCGPTN: {
      uint32_t n = pair.index;
      return zero_or_fault(copy_to_user(up, &n, sizeof n));
    }
    case TIOCSPTLCK: {
      int32_t v;
      if (!copy_from_user(&v, up, sizeof v).ok()) return Error::Fault;
      pair.locked.store(v != 0, std::memory_order_release);
      return int64_t(0);
    }
    case TIOCGPTLCK: {
      int32_t v = pair.locked.load(std::memory_order_acquire) ? 1 : 0;
      return zero_or_fault(copy_to_user(up, &v, sizeof v));
    }
    case TIOCPKT: {
      int32_t v;
      if (!copy_from_user(&v, up, sizeof v).ok()) return Error::Fault;
      pty.set_packet(v != 0);
      return int64_t(0);
    }
    case TIOCGPKT: {
      int32_t v = pty.packet() ? 1 : 0;
      return zero_or_fault(copy_to_user(up, &v, sizeof v));
    }
    case TIOCGPTPEER:
      return open_peer(pair, arg);
    default:
      return Error::NotSupported;
  }
}

}  // namespace

Result<void> pty_init(vfs::Vfs& v, const vfs::PathContext& pc) {
  TRY(vfs::register_char_device(devpts::PTMX_RDEV, open_ptmx));
  vfs::FsRef fs = TRY(devpts::instance());
  vfs::CreateArgs d;
  d.mode = vfs::MODE_DIR | 0755;
  if (auto r = v.mkdir(pc, "/dev/pts", d); !r.ok() && r.error() != Error::Exists) return r.error();
  TRY(v.mount(fs, pc, "/dev/pts"));
  if (auto a = v.stat(pc, "/dev/ptmx", true); a.ok()) g_ptmx_ids = NodeIds{a.value().dev, a.value().ino};
  if (auto a = v.stat(pc, "/dev/tty", true); a.ok()) g_tty_ids = NodeIds{a.value().dev, a.value().ino};
  proc::note_mount("devpts", "/dev/pts", "devpts", "rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000", fs->dev());
  return {};
}

void pty_open_ctty(OpenFile& f) {
  if (f.vnode().kind() != &SLAVE_KIND) return;
  Pair& pair = static_cast<SlaveEnd&>(f.vnode()).pair();
  Process* p = current_process();
  if (!p) return;
  const Ids me = ids_of(*p);
  if (me.sid != p->pid || session_has_ctty(me.sid) || pair.pty.hung_up()) return;
  SpinGuard g(g_ctty_lock);
  if (pair.session || g_pairs[pair.index] != &pair) return;
  pair.session = me.sid;
  pair.pgrp = me.pgid;
}

Result<VnodeRef> pty_open_controlling() {
  Process* p = current_process();
  if (!p) return VnodeRef();
  const int sid = ids_of(*p).sid;
  VnodeRef node;
  {
    SpinGuard g(g_ctty_lock);
    Pair* pair = pair_of_session_locked(sid);
    if (!pair) return VnodeRef();
    node = VnodeRef(pair->node);  // the master (in the table) holds it
  }
  auto* s = new (std::nothrow) SlaveEnd(static_cast<VnodeRef&&>(node), true);
  if (!s) return Error::NoMemory;
  return VnodeRef::adopt(s);
}

void pty_process_exit(Process& p) {
  if (ids_of(p).sid != p.pid) return;
  int32_t fg[8];
  size_t n = 0;
  {
    SpinGuard g(g_ctty_lock);
    for (Pair* pair : g_pairs) {
      if (!pair || pair->session != p.pid) continue;
      if (n < 8 && pair->pgrp > 0) fg[n++] = pair->pgrp;
      pair->session = pair->pgrp = 0;
    }
  }
  for (size_t i = 0; i < n; ++i) signal_process_group(fg[i], SIGHUP);
}

bool pty_link_name(vfs::Vnode& v, char* buf, size_t cap) {
  if (cap < 20) return false;
  if (v.kind() == &MASTER_KIND) {
    __builtin_memcpy(buf, "/dev/ptmx", 10);
    return true;
  }
  if (v.kind() != &SLAVE_KIND) return false;
  if (static_cast<SlaveEnd&>(v).via_tty()) {
    __builtin_memcpy(buf, "/dev/tty", 9);
    return true;
  }
  uint32_t i = static_cast<SlaveEnd&>(v).pair().index;
  __builtin_memcpy(buf, "/dev/pts/", 9);
  char rev[8];
  size_t len = 0;
  do rev[len++] = char('0' + i % 10), i /= 10;
  while (i);
  for (size_t k = 0; k < len; ++k) buf[9 + k] = rev[len - 1 - k];
  buf[9 + len] = 0;
  return true;
}

}  // namespace capsule::linux_abi
