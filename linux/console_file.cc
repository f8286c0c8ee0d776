// The console and /dev/null as descriptor objects (linux/console_file.h):
// reads, writes, poll and the terminal ioctls over the tty
// (drivers/include/drivers/tty.h, docs/console.md).
#include "linux/console_file.h"

#include <new>

#include "core/mm.h"
#include "linux/process.h"
#include "drivers/tty.h"
#include "arch/uaccess.h"
#include "drivers/tty/termios.h"
#include "linux/file_common.h"
#include "linux/fork_state.h"
#include "linux/identity.h"
#include "linux/process_state.h"
#include "linux/pty_file.h"
#include "linux/signal.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;
using vfs::VnodeRef;

constexpr uint64_t dev(uint64_t major, uint64_t minor) { return (major << 32) | minor; }
constexpr uint32_t L_TOSTOP = 0400;  // termios c_lflag (asm-generic/termbits.h)

// TTY ioctl requests (asm-generic/ioctls.h).
enum : uint64_t {
  TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404, TCSBRK = 0x5409,
  TCXONC = 0x540a, TCFLSH = 0x540b, TIOCSCTTY = 0x540e, TIOCGPGRP = 0x540f, TIOCSPGRP = 0x5410,
  TIOCOUTQ = 0x5411, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, FIONREAD = 0x541b,
  TIOCNOTTY = 0x5422, TIOCGSID = 0x5429,
};

// An ioctl's answer after copying its result out: 0, or Fault.
Result<int64_t> zero_or_fault(Result<void> copied) {
  if (!copied.ok()) return Error::Fault;
  return int64_t(0);
}

int32_t g_pgrp = 0;  // TIOCSPGRP's value; 0: pid 1's group (the session's first)
// The session whose controlling terminal the console is: pid 1's (1) from
// boot; another session leader's after TIOCSCTTY; 0 (none) once the
// controlling process ended or gave it up (TIOCNOTTY), until a session
// leader takes it with TIOCSCTTY.
int32_t g_session = 1;

// --- job control (docs/process.md "Job control") ----------------------------------
// The console is the controlling terminal of one session (g_session):
// pid 1's from boot, another leader's after TIOCSCTTY. A process of
// another session (after setsid) has no controlling terminal: its
// TIOCGPGRP/TIOCSPGRP are ENOTTY and its reads and writes are not
// checked.

struct Ids {
  int pgid = 0, sid = 0;
};
Ids ids_of(Process& p) {
  SpinGuard g(p.creds->lock);
  return Ids{p.creds->pgid, p.creds->sid};
}

int32_t foreground_pgrp() {
  if (g_pgrp) return g_pgrp;
  Process* init = process_find(1);
  return init ? ids_of(*init).pgid : 1;
}

int32_t own_pgrp() { return foreground_pgrp(); }

bool in_console_session(Process& p) {
  const int32_t s = __atomic_load_n(&g_session, __ATOMIC_ACQUIRE);
  return s && ids_of(p).sid == s;
}

// Whether a process group with that id exists, and in which session.
struct GroupLook {
  int pgid, sid = 0;
  bool found = false;
};
void look_group(Process& p, void* ctx) {
  auto& g = *static_cast<GroupLook*>(ctx);
  Ids i = ids_of(p);
  bool zombie;
  {
    SpinGuard t(process_table_lock());
    zombie = p.zombie;
  }
  if (zombie || i.pgid != g.pgid) return;
  g.found = true;
  g.sid = i.sid;
}

// The console's job control: terminal_job_check (below) for its session
// and foreground group.
Result<void> job_check(int sig, bool ignored_goes_on) {
  if (!tty::is_terminal()) return {};
  return terminal_job_check(__atomic_load_n(&g_session, __ATOMIC_ACQUIRE), foreground_pgrp(), sig, ignored_goes_on);
}

// The session loses the console (its controlling process ended, or gave
// it up): the foreground group gets SIGHUP (and SIGCONT when given up:
// Linux's disassociate_ctty), and no session has it until a session
// leader's TIOCSCTTY.
void release_console(bool cont) {
  const int fg = foreground_pgrp();
  g_pgrp = 0;
  __atomic_store_n(&g_session, 0, __ATOMIC_RELEASE);
  signal_process_group(fg, SIGHUP);
  if (cont) signal_process_group(fg, SIGCONT);
}

// fds 0-2, /dev/console and /dev/tty all read the one console input; each
// writes to its stream (stdin's and the device nodes' writes go to stdout,
// as they reach the same terminal on a Linux host).
class ConsoleVnode final : public StreamVnode {
 public:
  ConsoleVnode(bool null, uint64_t rdev, uint32_t perm, tty::Stream s)
      : StreamVnode(vfs::MODE_CHAR | perm, rdev), null_(null), stream_(s) {}

  Result<size_t> read_stream(vfs::IoBuffer& buf, OpenFile& f) override {
    if (null_) return size_t(0);
    TRY(job_check(SIGTTIN, false));
    return tty::read(buf, f.flags() & OpenFile::NONBLOCK);
  }
  // The tty copies from the program's buffer straight into the device
  // (docs/console.md). With TOSTOP, a background group's write is
  // SIGTTOU's.
  Result<size_t> write_stream(vfs::IoBuffer& buf, OpenFile&) override {
    if (null_) return buf.size();
    if (tty::is_terminal()) {
      tty::Termios t;
      tty::get_termios(t);
      if (t.lflag & L_TOSTOP) TRY(job_check(SIGTTOU, true));
    }
    return tty::write(stream_, buf);
  }
  Pollable* pollable() override { return null_ ? nullptr : &tty::pollable(); }
  Result<int64_t> ioctl(OpenFile&, uint64_t cmd, uint64_t arg) override;
  bool stream_seeks() const override { return null_; }
  // The host's reader of the stream went away (virtio-console PORT_OPEN
  // 0, docs/console.md "Closed outputs"): EPIPE and SIGPIPE, as a pipe.
  bool sigpipe() const override { return !null_; }

 private:
  bool null_;
  tty::Stream stream_;
};

Result<int64_t> ConsoleVnode::ioctl(OpenFile&, uint64_t cmd, uint64_t arg) {
  if (null_) return Error::NotSupported;
  void* up = reinterpret_cast<void*>(arg);
  if (cmd == FIONREAD) {  // pipes answer it too
    int32_t n = int32_t(tty::input_available());
    return zero_or_fault(copy_to_user(up, &n, sizeof n));
  }
  // Not a terminal (the host's stdin is a pipe or file): isatty() is false.
  if (!tty::is_terminal()) return Error::NotSupported;
  switch (cmd) {
    case TCGETS: {
      tty::Termios t;
      tty::get_termios(t);
      return zero_or_fault(copy_to_user(up, &t, sizeof t));
    }
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
      tty::Termios t;
      if (!copy_from_user(&t, up, sizeof t).ok()) return Error::Fault;
      tty::set_termios(t, int(cmd - TCSETS));
      return int64_t(0);
    }
    case TIOCGWINSZ: {
      tty::WinSize w;
      tty::get_winsize(w);
      return zero_or_fault(copy_to_user(up, &w, sizeof w));
    }
    case TIOCSWINSZ: {
      tty::WinSize w;
      if (!copy_from_user(&w, up, sizeof w).ok()) return Error::Fault;
      tty::set_winsize(w);
      return int64_t(0);
    }
    case TIOCGPGRP:
    case TIOCGSID: {
      // Not our controlling terminal (another session): ENOTTY.
      if (current_process() && !in_console_session(*current_process())) return Error::NotSupported;
      int32_t g = cmd == TIOCGSID ? __atomic_load_n(&g_session, __ATOMIC_ACQUIRE) : own_pgrp();
      return zero_or_fault(copy_to_user(up, &g, sizeof g));
    }
    case TIOCSPGRP: {
      // Linux's tiocspgrp: ENOTTY from another session; a background
      // caller gets SIGTTOU (unless ignored or blocked); EFAULT, EINVAL
      // (negative), ESRCH (no such group), EPERM (a group of another
      // session).
      Process* p = current_process();
      if (p && !in_console_session(*p)) return Error::NotSupported;
      TRY(job_check(SIGTTOU, true));
      int32_t g;
      if (!copy_from_user(&g, up, sizeof g).ok()) return Error::Fault;
      if (g < 0) return Error::Invalid;
      GroupLook look{g};
      process_for_each(look_group, &look);
      if (!look.found) return Error::NoProcess;
      if (look.sid != __atomic_load_n(&g_session, __ATOMIC_ACQUIRE)) return Error::Permission;
      g_pgrp = g;
      return int64_t(0);
    }
    case TIOCSCTTY: {
      // Linux's tiocsctty: a session leader without a controlling
      // terminal takes the console; EPERM for anyone else, and while
      // another session has it, unless arg is 1 and the caller has
      // CAP_SYS_ADMIN (it is then taken from that session).
      Process* p = current_process();
      if (!p) return Error::Permission;
      const Ids me = ids_of(*p);
      if (in_console_session(*p)) return me.sid == p->pid ? int64_t(0) : Result<int64_t>(Error::Permission);
      if (me.sid != p->pid) return Error::Permission;
      if (__atomic_load_n(&g_session, __ATOMIC_ACQUIRE) && !(arg == 1 && current_capable(L_CAP_SYS_ADMIN)))
        return Error::Permission;
      g_pgrp = me.pgid;
      __atomic_store_n(&g_session, me.sid, __ATOMIC_RELEASE);
      return int64_t(0);
    }
    case TIOCNOTTY: {
      // Not our controlling terminal: ENOTTY. The session leader gives it
      // up: its foreground group gets SIGHUP and SIGCONT (Linux's
      // disassociate_ctty(0)). Another member's own loss of it is not
      // kept per process (one console): 0.
      Process* p = current_process();
      if (!p || !in_console_session(*p)) return Error::NotSupported;
      if (ids_of(*p).sid == p->pid) release_console(true);
      return int64_t(0);
    }
    case TIOCOUTQ: {
      int32_t n = 0;  // output is written through synchronously
      return zero_or_fault(copy_to_user(up, &n, sizeof n));
    }
    case TCFLSH:
      if (arg > 2) return Error::Invalid;
      if (arg != 1) tty::flush_input();  // TCIFLUSH, TCIOFLUSH
      return int64_t(0);
    case TCSBRK:
    case TCXONC:
      return int64_t(0);
    default:
      return Error::NotSupported;
  }
}

ConsoleVnode* g_stdin;    // fd 0
ConsoleVnode* g_stdout;   // fd 1, /dev/console
ConsoleVnode* g_stderr;   // fd 2
ConsoleVnode* g_tty;      // /dev/tty
ConsoleVnode* g_null;     // /dev/null

// The VFS device registry's open for /dev/null, /dev/console and /dev/tty
// (vfs::register_char_device): every open of such a node, in any file
// system, gets the console object.
Result<VnodeRef> open_console_device(uint64_t rdev, uint32_t) {
  if (rdev == dev(1, 3)) return VnodeRef(g_null);
  // /dev/tty is the caller's controlling terminal: without a terminal on the
  // host side there is none, and Linux fails the open (ENXIO).
  if (rdev == dev(5, 0)) {
    // A session whose controlling terminal is a pseudo-terminal: its slave.
    if (VnodeRef pts = TRY(pty_open_controlling())) return pts;
    if (!tty::is_terminal()) return Error::NoDeviceOrAddress;
    return VnodeRef(g_tty);
  }
  return VnodeRef(g_stdout);
}

// The console is the controlling terminal of the session pid 1 leads: its
// signals (^C, ^\, ^Z) go to the processes of the foreground group, or to
// pid 1 when no process is in that group (TIOCSPGRP does not check it). Runs
// on whichever thread processes the input, so it names the processes.
void send_tty_signal(int sig) {
  struct Send {
    int32_t pgrp;
    KSigInfo info;
    bool sent;
  } s{g_pgrp ? g_pgrp : 1, {}, false};
  s.info.signo = sig;
  s.info.code = SI_KERNEL;
  process_for_each(
      [](Process& p, void* ctx) {
        auto& s = *static_cast<Send*>(ctx);
        int pgid;
        {
          SpinGuard g(p.creds->lock);
          pgid = p.creds->pgid;
        }
        if (pgid != s.pgrp) return;
        (void)signal_send_process(p, s.info);
        s.sent = true;
      },
      &s);
  if (!s.sent)
    if (Process* p = process_find(1)) (void)signal_send_process(*p, s.info);
}

// A signal the CLI got (tty::host_request "signal N"): to the first
// process, as kill(2) from a process outside the VM (SI_USER, sender pid
// 0, as from another pid namespace).
void send_host_signal(int sig) {
  KSigInfo info;
  info.signo = sig;
  info.code = SI_USER;
  if (Process* p = process_find(1)) (void)signal_send_process(*p, info);
}

}  // namespace

Result<void> console_files_init(vfs::Vfs&, const vfs::PathContext&, vfs::FdTable& fds) {
  g_stdin = new (std::nothrow) ConsoleVnode(false, dev(5, 1), 0620, tty::Stream::Out);
  g_stdout = new (std::nothrow) ConsoleVnode(false, dev(5, 1), 0620, tty::Stream::Out);
  g_stderr = new (std::nothrow) ConsoleVnode(false, dev(5, 1), 0620, tty::Stream::Err);
  g_tty = new (std::nothrow) ConsoleVnode(false, dev(5, 0), 0666, tty::Stream::Out);
  g_null = new (std::nothrow) ConsoleVnode(true, dev(1, 3), 0666, tty::Stream::Out);
  if (!g_stdin || !g_stdout || !g_stderr || !g_tty || !g_null) return Error::NoMemory;
  tty::set_signal_hook(send_tty_signal);
  tty::set_host_signal_hook(send_host_signal);
  // The /dev nodes are devfs's (fs/devfs); opening one (or a node with the
  // same number anywhere) asks the registry.
  for (uint64_t d : {dev(1, 3), dev(5, 1), dev(5, 0)}) TRY(vfs::register_char_device(d, open_console_device));
  return console_install_stdio(fds);
}

// A process of the terminal's session outside the foreground group that
// reads (SIGTTIN), writes with TOSTOP or changes the terminal (SIGTTOU):
// Linux's tty_check_change / __tty_check_change. Returns {} to go on,
// RestartSys after signalling its group (a handler runs, then the call
// is restarted or EINTR), or Io (EIO). `ignored_goes_on`: SIGTTOU ignored
// or blocked lets the call proceed (writes, tcsetpgrp); SIGTTIN ignored
// or blocked is EIO, and so is either from an orphaned group (nobody
// would continue it). Otherwise the group is signalled: at the default
// action it stops, and once continued the call starts again (and checks
// again).
Result<void> terminal_job_check(int tty_sid, int fg, int sig, bool ignored_goes_on) {
  Process* p = current_process();
  if (!p || !tty_sid || ids_of(*p).sid != tty_sid) return {};
  if (ids_of(*p).pgid == fg) return {};
  uint64_t shared = 0, ignored = 0, caught = 0;
  signal_process_masks(*p, &shared, &ignored, &caught);
  LinuxThread* lt = linux_thread();
  const uint64_t bit = 1ull << (sig - 1);
  const bool blocked = lt && (__atomic_load_n(&lt->sigmask, __ATOMIC_RELAXED) & bit);
  if ((ignored & bit) || blocked) return ignored_goes_on ? Result<void>{} : Result<void>(Error::Io);
  if (process_pgrp_orphaned(*p)) return Error::Io;
  signal_process_group(ids_of(*p).pgid, sig);
  return Error::RestartSys;
}

bool console_controls_session(int sid) {
  if (!tty::is_terminal() || !sid) return false;
  return __atomic_load_n(&g_session, __ATOMIC_ACQUIRE) == sid;
}

bool process_group_session(int pgid, int* sid) {
  GroupLook look{pgid};
  process_for_each(look_group, &look);
  if (look.found) *sid = look.sid;
  return look.found;
}

void console_process_exit(Process& p) {
  // A controlling process (the leader of the console's session) ends:
  // the foreground group gets SIGHUP and the session loses its
  // controlling terminal (Linux's disassociate_ctty(1) at exit; a stopped
  // group orphaned by the end gets SIGCONT by the orphaned-group rule).
  if (!tty::is_terminal() || !in_console_session(p) || ids_of(p).sid != p.pid) return;
  release_console(false);
}

Result<void> console_install_stdio(vfs::FdTable& fds) {
  // fds 0-2: the console (0 for reading, 1 and 2 for writing).
  struct {
    ConsoleVnode* v;
    uint32_t mode;
  } std_fds[3] = {{g_stdin, OpenFile::READ}, {g_stdout, OpenFile::WRITE}, {g_stderr, OpenFile::WRITE}};
  for (auto [v, m] : std_fds) {
    auto f = TRY(OpenFile::create(VnodeRef(v), m));
    f->abi_flags.store(0);
    TRY(fds.install(f));
  }
  return {};
}

}  // namespace capsule::linux_abi
