// Process file state and the helpers every descriptor syscall family shares
// (linux/file_common.h).
#include "linux/file_common.h"
#include "linux/fork_state.h"
#include "linux/exec_state.h"

#include <new>

#include "lib/log.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "arch/spinlock.h"
#include "linux/console_file.h"
#include "linux/pty_file.h"
#include "linux/block_file.h"
#include "linux/fd_table.h"
#include "linux/identity.h"
#include "linux/process_state.h"
#include "linux/procfs.h"
#include "linux/signal.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {

using vfs::FileRef;
using vfs::OpenFile;
using vfs::Vnode;
using vfs::VnodeRef;

// --- user ranges --------------------------------------------------------------------

UserRanges::UserRanges(const Iov* v, size_t n) : v_(v), n_(n) {
  for (size_t i = 0; i < n; ++i) total_ += v[i].len;
}

Result<void> UserRanges::move(size_t pos, void* k, size_t n, bool to_user) {
  size_t i = 0, start = 0;
  if (pos >= cstart_) i = ci_, start = cstart_;
  auto* kp = static_cast<uint8_t*>(k);
  while (n) {
    while (i < n_ && pos >= start + v_[i].len) start += v_[i++].len;
    if (i == n_) return Error::Fault;
    ci_ = i, cstart_ = start;
    size_t off = pos - start, c = v_[i].len - off < n ? v_[i].len - off : n;
    void* u = reinterpret_cast<void*>(v_[i].base + off);
    auto r = to_user ? copy_to_user(u, kp, c) : copy_from_user(kp, u, c);
    if (!r.ok()) return Error::Fault;
    pos += c, kp += c, n -= c;
  }
  return {};
}

size_t UserRanges::move_partial(size_t pos, void* k, size_t n, bool to_user) {
  size_t i = 0, start = 0, moved = 0;
  if (pos >= cstart_) i = ci_, start = cstart_;
  auto* kp = static_cast<uint8_t*>(k);
  while (n) {
    while (i < n_ && pos >= start + v_[i].len) start += v_[i++].len;
    if (i == n_) break;
    ci_ = i, cstart_ = start;
    size_t off = pos - start, c = v_[i].len - off < n ? v_[i].len - off : n;
    void* u = reinterpret_cast<void*>(v_[i].base + off);
    size_t got = to_user ? copy_to_user_partial(u, kp, c) : copy_from_user_partial(kp, u, c);
    moved += got;
    if (got < c) break;
    pos += c, kp += c, n -= c;
  }
  return moved;
}

// --- linux/'s own file system ----------------------------------------------------------

namespace {

class AnonFs final : public vfs::FileSystem {
 public:
  const char* name() const override { return "anon_inodefs"; }
  VnodeRef root() override { return {}; }
};

// Machine-wide: linux/'s anonymous file system and its inode numbers.
AnonFs* g_anon;
std::atomic<uint64_t> g_anon_ino{10};

}  // namespace

StreamVnode::StreamVnode(uint32_t mode, uint64_t rdev)
    : Vnode(g_anon, g_anon_ino.fetch_add(1, std::memory_order_relaxed), mode),
      mode_(mode),
      rdev_(rdev),
      time_ns_(realtime_ns()) {}

Result<vfs::Attr> StreamVnode::getattr() {
  vfs::Attr a;
  a.dev = fs()->dev();
  a.ino = ino();
  a.mode = mode_;
  a.nlink = 1;
  a.rdev = rdev_;
  a.blksize = 4096;
  a.atime_ns = a.mtime_ns = a.ctime_ns = time_ns_;
  return a;
}

Result<Fd> install_stream_fd(VnodeRef v, uint32_t file_flags, bool cloexec) {
  auto f = TRY(OpenFile::create(static_cast<VnodeRef&&>(v), file_flags));
  return install_fd(static_cast<FileRef&&>(f), cloexec);
}

// --- process state -------------------------------------------------------------------

vfs::FdTable& fds() { return *cur_files().fds; }

Result<FileRef> get_file(Fd fd) {
  if (fd.value < 0) return Error::BadFd;
  return fds().get(fd.value);
}


Result<Fd> install_fd(FileRef f, bool cloexec) {
  return Fd{int(TRY(fds().install(static_cast<FileRef&&>(f), cloexec)))};
}

Ctx process_ctx(Process& p) {
  ProcessFiles& pf = *p.files;
  SpinGuard g(pf.lock);
  Ctx c;  // unchecked: the kernel's view
  c.root = VnodeRef(pf.root);
  c.cwd = VnodeRef(pf.cwd);
  return c;
}

Ctx cur_ctx() { return process_ctx(cur_process()); }

Ctx user_ctx() {
  Ctx ctx = cur_ctx();
  ctx.checked = current_cred(ctx.cred);
  return ctx;
}

void set_cwd(Process& p, VnodeRef v) {
  ProcessFiles& pf = *p.files;
  Vnode* old;
  {
    SpinGuard g(pf.lock);
    old = pf.cwd;
    pf.cwd = v.leak();
  }
  if (old) old->release();
}

void set_cwd(VnodeRef v) { set_cwd(cur_process(), static_cast<VnodeRef&&>(v)); }

void files_set_exe(Process& p, VnodeRef v) {
  if (!p.files) return;
  ProcessFiles& pf = *p.files;
  Vnode* old;
  {
    SpinGuard g(pf.lock);
    old = pf.exe;
    pf.exe = v.leak();
  }
  if (old) old->release();
}

VnodeRef files_exe(Process& p) {
  if (!p.files) return VnodeRef();
  ProcessFiles& pf = *p.files;
  SpinGuard g(pf.lock);
  return VnodeRef(pf.exe);
}

void files_set_initial_cwd(Process& p) {
  ProcessFiles& pf = *p.files;
  Vnode* old;
  {
    SpinGuard g(pf.lock);
    old = pf.initial_cwd;
    pf.initial_cwd = pf.cwd;
    pf.initial_cwd->retain();
  }
  if (old) old->release();
}

Result<void> files_exec_reset(bool fresh) {
  ProcessFiles& pf = cur_files();
  if (!fresh) {
    pf.fds->close_on_exec();
    return {};
  }
  TRY(pf.fds->close_range(0, ~0u, false));
  VnodeRef initial;
  {
    SpinGuard g(pf.lock);
    initial = VnodeRef(pf.initial_cwd);
  }
  if (initial) set_cwd(static_cast<VnodeRef&&>(initial));
  return console_install_stdio(*pf.fds);
}

Result<void> copy_path(UserString path, UserPath& p) {
  p.buf = new (std::nothrow) char[vfs::MAX_PATH];
  if (!p.buf) return Error::NoMemory;
  auto n = path.copy_in(p.buf, vfs::MAX_PATH);
  if (!n.ok()) return n.error() == Error::TooBig ? Error::NameTooLong : Error::Fault;
  p.len = n.value();
  return {};
}

Result<Ctx> at_ctx(AtFd dirfd, const UserPath& p) {
  Ctx ctx = user_ctx();
  if (dirfd.is_cwd() || p.absolute()) return ctx;
  auto f = fds().get(dirfd.value);
  if (dirfd.value < 0 || !f.ok()) return Error::BadFd;
  if (!f.value()->vnode().is_dir()) return Error::NotDir;
  ctx.cwd = f.value()->vnode_ref();
  return ctx;
}


uint64_t linux_dev(uint64_t d) {
  uint64_t major = d >> 32, minor = d & 0xffffffff;
  return ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);
}

void raise_sigpipe() {
  KSigInfo info;
  info.signo = SIGPIPE;
  info.code = SI_USER;
  (void)signal_send_tid(current_tid(), info);
}

Result<size_t> io_done(Result<size_t>&& r, bool sigpipe) {
  if (r.ok()) return r;
  if (r.error() == Error::BrokenPipe && sigpipe) raise_sigpipe();
  if (r.error() == Error::Interrupted) return Error::RestartSys;
  return r;
}

// --- fork and exit (linux/fork_state.h) ---

Result<void> files_fork(Process& child, Process& parent) {
  vfs::FdTable* fds = TRY(parent.files->fds->clone());
  ProcessFiles& c = *child.files;
  delete c.fds;
  c.fds = fds;
  ProcessFiles& pf = *parent.files;
  SpinGuard g(pf.lock);
  for (Vnode* v : {pf.root, pf.cwd, pf.initial_cwd, pf.exe})
    if (v) v->retain();
  c.root = pf.root;
  c.cwd = pf.cwd;
  c.initial_cwd = pf.initial_cwd;
  c.exe = pf.exe;
  return {};
}

void files_exit(Process& p) { (void)p.files->fds->close_range(0, ~0u, false); }

// --- boot ----------------------------------------------------------------------------

Result<void> files_init(Process& init) {
  vfs::Vfs* v = vfs::kernel_vfs();
  if (!v) return Error::NotFound;
  g_anon = new (std::nothrow) AnonFs;
  if (!g_anon) return Error::NoMemory;
  ProcessFiles& pf = *init.files;
  pf.root = v->root().leak();
  pf.cwd = pf.root;
  pf.root->retain();
  // /dev, /proc, /sys: a failure is reported and the boot goes on.
  if (auto r = pseudo_fs_init(*v, vfs::PathContext{pf.root, pf.cwd}); !r.ok())
    log_warn("procfs: not mounted ({})", error_name(r.error()));
  if (auto r = pty_init(*v, vfs::PathContext{pf.root, pf.cwd}); !r.ok())
    log_warn("devpts: no pseudo-terminals ({})", error_name(r.error()));
  if (auto r = block_files_init(*v, vfs::PathContext{pf.root, pf.cwd}); !r.ok())
    log_warn("block devices: no nodes in /dev ({})", error_name(r.error()));
  return console_files_init(*v, vfs::PathContext{pf.root, pf.cwd}, *pf.fds);
}

}  // namespace capsule::linux_abi
