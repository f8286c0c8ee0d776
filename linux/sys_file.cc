// File system calls over the VFS (docs/vfs.md): a process-wide vfs::FdTable,
// the process's root and working directory, Linux's O_* flags, struct stat
// and dirent64 at the boundary. Fds 0-2 and /dev/{null,console,tty} are
// console vnodes of a small file system private to linux/; pipe ends are
// vnodes of the same file system whose I/O goes to the PipeEnd.
#include <new>

#include "arch/x64/cpu/x64.h"
#include "capsule/console.h"
#include "capsule/file.h"
#include "capsule/pipe.h"
#include "capsule/process.h"
#include "capsule/uaccess.h"
#include "capsule/vfs.h"
#include "core/sync/spinlock.h"
#include "linux/fd_table.h"
#include "linux/identity.h"
#include "linux/linux_errno.h"
#include "linux/signal.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {
namespace {

using vfs::FileRef;
using vfs::OpenFile;
using vfs::OpenHow;
using vfs::Vnode;
using vfs::VnodeRef;

constexpr int64_t AT_FDCWD = -100;
constexpr uint64_t AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_SYMLINK_FOLLOW = 0x400,
                   AT_EMPTY_PATH = 0x1000, AT_EACCESS = 0x200;
constexpr uint64_t O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_EXCL = 0200, O_TRUNC = 01000,
                   O_APPEND = 02000, O_NONBLOCK = 04000, O_DSYNC = 010000, O_ASYNC = 020000,
                   O_DIRECT = 040000, O_LARGEFILE = 0100000, O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000,
                   O_NOATIME = 01000000, O_CLOEXEC = 02000000, O_SYNC = 04010000, O_PATH = 010000000,
                   O_TMPFILE = 020000000;
constexpr uint64_t TCGETS = 0x5401, TIOCGWINSZ = 0x5413, FIONREAD = 0x541b, FIONBIO = 0x5421,
                   FIOCLEX = 0x5451, FIONCLEX = 0x5450;
constexpr size_t MAX_RW = 0x7ffff000;  // Linux's MAX_RW_COUNT
constexpr size_t MAX_IOV = 1024;       // UIO_MAXIOV

struct Stat {  // struct stat, x86-64
  uint64_t dev, ino, nlink;
  uint32_t mode, uid, gid, pad0;
  uint64_t rdev;
  int64_t size, blksize, blocks;
  int64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
  int64_t reserved[3];
};
static_assert(sizeof(Stat) == 144);

// --- application memory as an IoBuffer / EventIo ----------------------------

struct Iov {
  uint64_t base, len;
};

// A list of user ranges addressed as one run of bytes.
class UserRanges {
 public:
  UserRanges(const Iov* v, size_t n) : v_(v), n_(n) {
    for (size_t i = 0; i < n; ++i) total_ += v[i].len;
  }
  size_t total() const { return total_; }
  Result<void> move(size_t pos, void* k, size_t n, bool to_user) {
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

 private:
  const Iov* v_;
  size_t n_;
  size_t total_ = 0;
  size_t ci_ = 0, cstart_ = 0;  // the range the last move ended in
};

class UserBuffer final : public vfs::IoBuffer {
 public:
  explicit UserBuffer(UserRanges& r) : IoBuffer(r.total()), r_(r) {}
  Result<void> copy_out(size_t pos, const void* src, size_t n) override {
    return r_.move(pos, const_cast<void*>(src), n, true);
  }
  Result<void> copy_in(size_t pos, void* dst, size_t n) override { return r_.move(pos, dst, n, false); }

 private:
  UserRanges& r_;
};

class UserEventIo final : public EventIo {
 public:
  explicit UserEventIo(UserRanges& r) : EventIo(r.total()), r_(r) {}
  Result<void> copy_out(size_t pos, const void* src, size_t n) override {
    return r_.move(pos, const_cast<void*>(src), n, true);
  }
  Result<void> copy_in(size_t pos, void* dst, size_t n) override { return r_.move(pos, dst, n, false); }

 private:
  UserRanges& r_;
};

// --- linux/'s own file system: the console, /dev/null, pipe ends -------------

class SpecialFs final : public vfs::FileSystem {
 public:
  const char* name() const override { return "capsule-special"; }
  VnodeRef root() override { return {}; }
};

SpecialFs* g_special;
std::atomic<uint64_t> g_special_ino{10};

class ConsoleVnode final : public Vnode {
 public:
  ConsoleVnode(bool null, uint64_t rdev_major, uint64_t rdev_minor, uint32_t perm)
      : Vnode(g_special, null ? 3 : 2, vfs::MODE_CHAR | perm),
        null_(null),
        rdev_((rdev_major << 32) | rdev_minor),
        perm_(perm) {}
  bool null() const { return null_; }

  // What the UART holds now; nothing waiting reads as end of file.
  Result<size_t> read(uint64_t, vfs::IoBuffer& buf) override {
    if (null_) return size_t(0);
    size_t n = 0;
    while (n < buf.size() && (x64::inb(0x3f8 + 5) & 1)) {
      char c = char(x64::inb(0x3f8));
      if (!buf.copy_out(n, &c, 1).ok()) return n ? Result<size_t>(n) : Result<size_t>(Error::Fault);
      ++n;
      if (c == '\n') break;
    }
    return n;
  }
  Result<size_t> write(uint64_t*, vfs::IoBuffer& buf, bool) override {
    if (null_) return buf.size();
    char chunk[256];
    size_t done = 0;
    while (done < buf.size()) {
      size_t n = buf.size() - done < sizeof(chunk) ? buf.size() - done : sizeof(chunk);
      if (!buf.copy_in(done, chunk, n).ok()) return done ? Result<size_t>(done) : Result<size_t>(Error::Fault);
      console_write(chunk, n);
      done += n;
    }
    return done;
  }
  Result<vfs::Attr> getattr() override {
    vfs::Attr a;
    a.dev = 5;
    a.ino = ino();
    a.mode = vfs::MODE_CHAR | perm_;
    a.nlink = 1;
    a.rdev = rdev_;
    a.blksize = 1024;
    return a;
  }
  Result<void> setattr(const vfs::SetAttr&) override { return {}; }

 private:
  bool null_;
  uint64_t rdev_;
  uint32_t perm_;
};

class PipeVnode final : public Vnode {
 public:
  explicit PipeVnode(PipeEnd* end) : Vnode(g_special, g_special_ino.fetch_add(1), vfs::MODE_FIFO | 0600), end_(end) {}
  PipeEnd* end() const { return end_; }
  Result<vfs::Attr> getattr() override {
    vfs::Attr a;
    a.dev = g_special->dev();
    a.ino = ino();
    a.mode = vfs::MODE_FIFO | 0600;
    a.nlink = 1;
    a.blksize = 4096;
    return a;
  }
  Result<void> setattr(const vfs::SetAttr&) override { return {}; }

 protected:
  ~PipeVnode() override { delete end_; }

 private:
  PipeEnd* end_;
};

ConsoleVnode* g_console;  // /dev/console, fds 0-2
ConsoleVnode* g_tty;      // /dev/tty
ConsoleVnode* g_null;     // /dev/null

bool is_special(Vnode& v) { return v.fs() == g_special; }
PipeVnode* as_pipe(Vnode& v) {
  return is_special(v) && v.type() == vfs::VType::Fifo ? static_cast<PipeVnode*>(&v) : nullptr;
}

// --- process state ------------------------------------------------------------

vfs::FdTable* g_fds;
SpinLock g_ctx_lock;
Vnode* g_root;  // one reference each, under g_ctx_lock
Vnode* g_cwd;

struct Ctx {
  VnodeRef root, cwd;
  vfs::PathContext pc() const { return {root.get(), cwd.get()}; }
};

Ctx cur_ctx() {
  SpinGuard g(g_ctx_lock);
  return Ctx{VnodeRef(g_root), VnodeRef(g_cwd)};
}

void set_cwd(VnodeRef v) {
  Vnode* old;
  {
    SpinGuard g(g_ctx_lock);
    old = g_cwd;
    g_cwd = v.leak();
  }
  if (old) old->release();
}

// A path copied from the application, in a heap buffer (kernel stacks are
// small).
struct UserPath {
  char* buf = nullptr;
  size_t len = 0;
  ~UserPath() { delete[] buf; }
  StringView view() const { return {buf, len}; }
  bool absolute() const { return len && buf[0] == '/'; }
};

int64_t get_path(uint64_t upath, UserPath& p) {
  p.buf = new (std::nothrow) char[vfs::MAX_PATH];
  if (!p.buf) return -kENOMEM;
  auto n = strncpy_from_user(p.buf, reinterpret_cast<const char*>(upath), vfs::MAX_PATH);
  if (!n.ok()) return n.error() == Error::TooBig ? -kENAMETOOLONG : -kEFAULT;
  p.len = n.value();
  return 0;
}

// The context a *at() call walks from: dirfd for relative paths.
int64_t at_ctx(int64_t dirfd, const UserPath& p, Ctx& ctx) {
  ctx = cur_ctx();
  if (dirfd == AT_FDCWD || p.absolute()) return 0;
  auto f = g_fds->get(int(dirfd));
  if (dirfd < 0 || dirfd > INT32_MAX || !f.ok()) return -kEBADF;
  if (!f.value()->vnode().is_dir()) return -kENOTDIR;
  ctx.cwd = f.value()->vnode_ref();
  return 0;
}

Result<FileRef> get_file(uint64_t fd) {
  if (int64_t(int32_t(fd)) != int64_t(fd) || int32_t(fd) < 0) return Error::BadFd;
  return g_fds->get(int(fd));
}

// Linux's dev_t encoding of (major << 32) | minor.
uint64_t linux_dev(uint64_t d) {
  uint64_t major = d >> 32, minor = d & 0xffffffff;
  return ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);
}

int64_t put_stat(uint64_t ustat, const vfs::Attr& a) {
  Stat st = {};
  st.dev = a.dev;
  st.ino = a.ino;
  st.nlink = a.nlink;
  st.mode = a.mode;
  st.uid = a.uid;
  st.gid = a.gid;
  st.rdev = linux_dev(a.rdev);
  st.size = int64_t(a.size);
  st.blksize = a.blksize;
  st.blocks = int64_t(a.blocks);
  auto split = [](int64_t ns, int64_t& s, int64_t& n) {
    s = ns / 1000000000;
    n = ns % 1000000000;
    if (n < 0) n += 1000000000, --s;
  };
  split(a.atime_ns, st.atime, st.atime_ns);
  split(a.mtime_ns, st.mtime, st.mtime_ns);
  split(a.ctime_ns, st.ctime, st.ctime_ns);
  return copy_to_user(reinterpret_cast<void*>(ustat), &st, sizeof(st)).ok() ? 0 : -kEFAULT;
}

// A ramfs character device that linux/ serves itself (by rdev).
ConsoleVnode* device_for(Vnode& v) {
  if (v.type() != vfs::VType::Char || is_special(v)) return nullptr;
  auto a = v.getattr();
  if (!a.ok()) return nullptr;
  uint64_t rdev = a.value().rdev;
  if (rdev == ((1ull << 32) | 3)) return g_null;
  if (rdev == ((5ull << 32) | 1)) return g_console;
  if (rdev == ((5ull << 32) | 0)) return g_tty;
  return nullptr;
}

int64_t install(FileRef f, bool cloexec) {
  auto r = g_fds->install(static_cast<FileRef&&>(f), cloexec);
  return r.ok() ? r.value() : to_errno(r.error());
}

int64_t do_open(int64_t dirfd, uint64_t upath, uint64_t flags, uint64_t mode) {
  UserPath p;
  if (int64_t e = get_path(upath, p)) return e;
  if ((flags & O_TMPFILE) == O_TMPFILE) return -kEOPNOTSUPP;
  Ctx ctx;
  if (int64_t e = at_ctx(dirfd, p, ctx)) return e;
  OpenHow how;
  if (flags & O_PATH) {
    how.flags = OpenHow::PATH;
    if (flags & O_DIRECTORY) how.flags |= OpenHow::DIRECTORY;
    if (flags & O_NOFOLLOW) how.flags |= OpenHow::NOFOLLOW;
  } else {
    switch (flags & O_ACCMODE) {
      case 0: how.flags = OpenHow::READ; break;
      case O_WRONLY: how.flags = OpenHow::WRITE; break;
      default: how.flags = OpenHow::READ | OpenHow::WRITE; break;
    }
    if (flags & O_CREAT) how.flags |= OpenHow::CREATE;
    if ((flags & O_EXCL) && (flags & O_CREAT)) how.flags |= OpenHow::EXCL;
    if (flags & O_TRUNC) how.flags |= OpenHow::TRUNC;
    if (flags & O_DIRECTORY) how.flags |= OpenHow::DIRECTORY;
    if (flags & O_NOFOLLOW) how.flags |= OpenHow::NOFOLLOW;
    if (flags & O_APPEND) how.flags |= OpenHow::APPEND;
    if (flags & O_NONBLOCK) how.flags |= OpenHow::NONBLOCK;
  }
  how.create.mode = vfs::MODE_REGULAR | (uint32_t(mode) & 07777 & ~current_umask());
  how.create.uid = current_fsuid();
  how.create.gid = current_fsgid();
  auto r = vfs::kernel_vfs()->open(ctx.pc(), p.view(), how);
  if (!r.ok()) return to_errno(r.error());
  FileRef f = static_cast<FileRef&&>(r.value());
  if (!(flags & O_PATH)) {
    if (ConsoleVnode* dev = device_for(f->vnode())) {
      auto d = OpenFile::create(VnodeRef(dev), how.flags & (OpenHow::READ | OpenHow::WRITE | OpenHow::APPEND |
                                                             OpenHow::NONBLOCK));
      if (!d.ok()) return to_errno(d.error());
      f = static_cast<FileRef&&>(d.value());
    }
  }
  f->abi_flags.store(uint32_t(flags & (O_DSYNC | O_ASYNC | O_DIRECT | O_LARGEFILE | O_NOATIME | O_SYNC)) |
                     uint32_t(O_LARGEFILE));
  return install(static_cast<FileRef&&>(f), flags & O_CLOEXEC);
}

// --- I/O ------------------------------------------------------------------------

void raise_sigpipe() {
  KSigInfo info;
  info.signo = SIGPIPE;
  info.code = SI_USER;
  signal_send_tid(current_tid(), info);
}

int64_t io_result(Result<size_t>&& r, bool pipe_write) {
  if (r.ok()) return int64_t(r.value());
  if (r.error() == Error::BrokenPipe && pipe_write) raise_sigpipe();
  if (r.error() == Error::Interrupted) return -kERESTARTSYS;
  return to_errno(r.error());
}

// read/write/readv/writev; offset < 0: the file's offset.
int64_t do_io(uint64_t fd, const Iov* iov, size_t n, bool write, int64_t offset) {
  auto fr = get_file(fd);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  if (write ? !f.writable() : !f.readable()) return -kEBADF;
  UserRanges ranges(iov, n);
  bool positional = offset >= 0;
  if (PipeVnode* pv = as_pipe(f.vnode())) {
    if (positional) return -kESPIPE;
    UserEventIo io(ranges);
    bool nb = f.flags() & OpenFile::NONBLOCK;
    return io_result(write ? pv->end()->write(io, nb) : pv->end()->read(io, nb), write);
  }
  if (positional && is_special(f.vnode())) return -kESPIPE;
  UserBuffer buf(ranges);
  if (positional) return io_result(write ? f.pwrite(buf, uint64_t(offset)) : f.pread(buf, uint64_t(offset)), false);
  return io_result(write ? f.write(buf) : f.read(buf), false);
}

int64_t simple_io(const SyscallArgs& args, bool write, int64_t offset) {
  if (int64_t(args.a[2]) < 0) return -kEINVAL;
  Iov one{args.a[1], args.a[2] < MAX_RW ? args.a[2] : MAX_RW};
  return do_io(args.a[0], &one, 1, write, offset);
}

int64_t vector_io(uint64_t fd, uint64_t uiov, uint64_t count, bool write, int64_t offset) {
  if (count > MAX_IOV) return -kEINVAL;
  if (!get_file(fd).ok()) return -kEBADF;
  Iov* v = new (std::nothrow) Iov[count ? count : 1];
  if (!v) return -kENOMEM;
  int64_t r;
  if (count && !copy_from_user(v, reinterpret_cast<const void*>(uiov), count * sizeof(Iov)).ok()) {
    r = -kEFAULT;
  } else {
    uint64_t total = 0;
    r = 0;
    for (size_t i = 0; i < count; ++i) {
      if (int64_t(v[i].len) < 0 || (total += v[i].len) > uint64_t(INT64_MAX)) {
        r = -kEINVAL;
        break;
      }
      if (total > MAX_RW) v[i].len -= total - MAX_RW, total = MAX_RW;
    }
    if (r == 0) r = do_io(fd, v, count, write, offset);
  }
  delete[] v;
  return r;
}

// --- getdents64 -----------------------------------------------------------------

class DirentSink final : public vfs::DirSink {
 public:
  DirentSink(uint64_t out, uint64_t cap) : out_(out), cap_(cap) {}
  bool emit(StringView name, uint64_t ino, vfs::VType type, uint64_t next) override {
    uint64_t reclen = (19 + name.size() + 1 + 7) & ~uint64_t(7);
    if (used + reclen > cap_) {
      full = true;
      return false;
    }
    uint8_t rec[19 + vfs::MAX_NAME + 1 + 8] = {};
    __builtin_memcpy(rec, &ino, 8);
    __builtin_memcpy(rec + 8, &next, 8);
    uint16_t rl = uint16_t(reclen);
    __builtin_memcpy(rec + 16, &rl, 2);
    rec[18] = uint8_t(type);
    __builtin_memcpy(rec + 19, name.data(), name.size());
    if (!copy_to_user(reinterpret_cast<void*>(out_ + used), rec, reclen).ok()) {
      fault = true;
      return false;
    }
    used += reclen;
    return true;
  }
  uint64_t used = 0;
  bool full = false, fault = false;

 private:
  uint64_t out_, cap_;
};

// --- pipes ------------------------------------------------------------------------

int64_t do_pipe(uint64_t ufds, uint64_t flags) {
  if (flags & ~(O_NONBLOCK | O_CLOEXEC | O_DIRECT)) return -kEINVAL;
  PipeEnd *r, *w;
  if (auto e = pipe_create(&r, &w); !e.ok()) return to_errno(e.error());
  auto* rv = new (std::nothrow) PipeVnode(r);
  if (!rv) {
    delete r;
    delete w;
    return -kENOMEM;
  }
  VnodeRef rref = VnodeRef::adopt(rv);
  auto* wv = new (std::nothrow) PipeVnode(w);
  if (!wv) {
    delete w;
    return -kENOMEM;
  }
  VnodeRef wref = VnodeRef::adopt(wv);
  uint32_t nb = (flags & O_NONBLOCK) ? OpenFile::NONBLOCK : 0;
  auto rf = OpenFile::create(rref, OpenFile::READ | nb);
  if (!rf.ok()) return to_errno(rf.error());
  auto wf = OpenFile::create(wref, OpenFile::WRITE | nb);
  if (!wf.ok()) return to_errno(wf.error());
  bool cloexec = flags & O_CLOEXEC;
  auto fd0 = g_fds->install(rf.value(), cloexec);
  if (!fd0.ok()) return to_errno(fd0.error());
  auto fd1 = g_fds->install(wf.value(), cloexec);
  if (!fd1.ok()) {
    (void)g_fds->close(fd0.value());
    return to_errno(fd1.error());
  }
  int fds[2] = {fd0.value(), fd1.value()};
  if (!copy_to_user(reinterpret_cast<void*>(ufds), fds, sizeof(fds)).ok()) {
    (void)g_fds->close(fds[0]);
    (void)g_fds->close(fds[1]);
    return -kEFAULT;
  }
  return 0;
}

// --- paths --------------------------------------------------------------------------

int64_t stat_at(int64_t dirfd, uint64_t upath, uint64_t ustat, uint64_t flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800 /* AT_NO_AUTOMOUNT */)) return -kEINVAL;
  UserPath p;
  if (int64_t e = get_path(upath, p)) return e;
  if (p.len == 0 && (flags & AT_EMPTY_PATH)) {
    if (dirfd == AT_FDCWD) {
      auto a = cur_ctx().cwd->getattr();
      return a.ok() ? put_stat(ustat, a.value()) : to_errno(a.error());
    }
    auto f = get_file(uint64_t(dirfd));
    if (!f.ok()) return -kEBADF;
    auto a = f.value()->vnode().getattr();
    return a.ok() ? put_stat(ustat, a.value()) : to_errno(a.error());
  }
  Ctx ctx;
  if (int64_t e = at_ctx(dirfd, p, ctx)) return e;
  auto a = vfs::kernel_vfs()->stat(ctx.pc(), p.view(), !(flags & AT_SYMLINK_NOFOLLOW));
  return a.ok() ? put_stat(ustat, a.value()) : to_errno(a.error());
}

int64_t access_at(int64_t dirfd, uint64_t upath, uint64_t mode, uint64_t flags) {
  if (mode & ~7ull) return -kEINVAL;
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH)) return -kEINVAL;
  UserPath p;
  if (int64_t e = get_path(upath, p)) return e;
  Ctx ctx;
  if (int64_t e = at_ctx(dirfd, p, ctx)) return e;
  auto a = vfs::kernel_vfs()->stat(ctx.pc(), p.view(), !(flags & AT_SYMLINK_NOFOLLOW));
  if (!a.ok()) return to_errno(a.error());
  // Everything runs as root: execute needs some x bit on a non-directory.
  if ((mode & 1) && vfs::type_of_mode(a.value().mode) != vfs::VType::Dir && !(a.value().mode & 0111))
    return -kEACCES;
  return 0;
}

int64_t mkdir_at(int64_t dirfd, uint64_t upath, uint64_t mode) {
  UserPath p;
  if (int64_t e = get_path(upath, p)) return e;
  Ctx ctx;
  if (int64_t e = at_ctx(dirfd, p, ctx)) return e;
  vfs::CreateArgs a;
  a.mode = vfs::MODE_DIR | (uint32_t(mode) & 07777 & ~current_umask());
  a.uid = current_fsuid();
  a.gid = current_fsgid();
  return ret(vfs::kernel_vfs()->mkdir(ctx.pc(), p.view(), a));
}

int64_t unlink_at(int64_t dirfd, uint64_t upath, uint64_t flags) {
  if (flags & ~AT_REMOVEDIR) return -kEINVAL;
  UserPath p;
  if (int64_t e = get_path(upath, p)) return e;
  Ctx ctx;
  if (int64_t e = at_ctx(dirfd, p, ctx)) return e;
  if (flags & AT_REMOVEDIR) return ret(vfs::kernel_vfs()->rmdir(ctx.pc(), p.view()));
  return ret(vfs::kernel_vfs()->unlink(ctx.pc(), p.view()));
}

int64_t rename_at(int64_t olddir, uint64_t uold, int64_t newdir, uint64_t unew, uint64_t flags) {
  constexpr uint64_t kRenameNoReplace = 1;
  if (flags & ~kRenameNoReplace) return -kEINVAL;
  UserPath a, b;
  if (int64_t e = get_path(uold, a)) return e;
  if (int64_t e = get_path(unew, b)) return e;
  Ctx ca, cb;
  if (int64_t e = at_ctx(olddir, a, ca)) return e;
  if (int64_t e = at_ctx(newdir, b, cb)) return e;
  // The Vfs takes one context: express the new name from the old one's.
  if (ca.cwd != cb.cwd && !b.absolute()) {
    // Different directories: resolve the new path's directory to an
    // absolute path (rare; only renameat with two dirfds).
    char* dir = new (std::nothrow) char[vfs::MAX_PATH];
    if (!dir) return -kENOMEM;
    auto n = vfs::kernel_vfs()->path_of(cb.pc(), *cb.cwd, dir, vfs::MAX_PATH);
    int64_t r;
    if (!n.ok()) {
      r = to_errno(n.error());
    } else if (n.value() + 1 + b.len >= vfs::MAX_PATH) {
      r = -kENAMETOOLONG;
    } else {
      size_t k = n.value();
      dir[k++] = '/';
      __builtin_memcpy(dir + k, b.buf, b.len);
      k += b.len;
      r = ret(vfs::kernel_vfs()->rename(ca.pc(), a.view(), StringView(dir, k), flags & kRenameNoReplace));
    }
    delete[] dir;
    return r;
  }
  return ret(vfs::kernel_vfs()->rename(ca.pc(), a.view(), b.view(), flags & kRenameNoReplace));
}

int64_t link_at(int64_t olddir, uint64_t uold, int64_t newdir, uint64_t unew, uint64_t flags) {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -kEINVAL;
  UserPath a, b;
  if (int64_t e = get_path(uold, a)) return e;
  if (int64_t e = get_path(unew, b)) return e;
  Ctx ca, cb;
  if (int64_t e = at_ctx(olddir, a, ca)) return e;
  if (int64_t e = at_ctx(newdir, b, cb)) return e;
  if (ca.cwd != cb.cwd && !b.absolute() && !a.absolute()) return -kEXDEV;  // two dirfds: not supported yet
  vfs::PathContext pc = a.absolute() ? cb.pc() : ca.pc();
  return ret(vfs::kernel_vfs()->link(pc, a.view(), b.view(), flags & AT_SYMLINK_FOLLOW));
}

int64_t symlink_at(uint64_t utarget, int64_t dirfd, uint64_t upath) {
  UserPath t, p;
  if (int64_t e = get_path(utarget, t)) return e;
  if (t.len == 0) return -kENOENT;
  if (int64_t e = get_path(upath, p)) return e;
  Ctx ctx;
  if (int64_t e = at_ctx(dirfd, p, ctx)) return e;
  vfs::CreateArgs a;
  a.mode = vfs::MODE_SYMLINK | 0777;
  a.uid = current_fsuid();
  a.gid = current_fsgid();
  return ret(vfs::kernel_vfs()->symlink(t.view(), ctx.pc(), p.view(), a));
}

int64_t readlink_at(int64_t dirfd, uint64_t upath, uint64_t ubuf, uint64_t size) {
  if (int64_t(size) <= 0) return -kEINVAL;
  UserPath p;
  if (int64_t e = get_path(upath, p)) return e;
  if (p.view() == "/proc/self/exe") {
    Process* proc = current_process();
    const char* exe = proc ? proc->exe : "";
    size_t n = 0;
    while (exe[n]) ++n;
    if (n > size) n = size;
    return copy_to_user(reinterpret_cast<void*>(ubuf), exe, n).ok() ? int64_t(n) : -kEFAULT;
  }
  Ctx ctx;
  if (int64_t e = at_ctx(dirfd, p, ctx)) return e;
  size_t cap = size < vfs::MAX_PATH ? size : vfs::MAX_PATH;
  char* buf = new (std::nothrow) char[cap];
  if (!buf) return -kENOMEM;
  auto r = vfs::kernel_vfs()->readlink(ctx.pc(), p.view(), buf, cap);
  int64_t out;
  if (!r.ok()) {
    out = to_errno(r.error());
  } else {
    size_t n = r.value() < cap ? r.value() : cap;
    out = copy_to_user(reinterpret_cast<void*>(ubuf), buf, n).ok() ? int64_t(n) : -kEFAULT;
  }
  delete[] buf;
  return out;
}

uint32_t getfl(OpenFile& f) {
  uint32_t fl = f.flags();
  if (fl & OpenFile::PATH) return uint32_t(O_PATH);
  uint32_t r = (fl & OpenFile::READ) && (fl & OpenFile::WRITE) ? uint32_t(O_RDWR)
               : (fl & OpenFile::WRITE)                        ? uint32_t(O_WRONLY)
                                                               : 0;
  if (fl & OpenFile::APPEND) r |= O_APPEND;
  if (fl & OpenFile::NONBLOCK) r |= O_NONBLOCK;
  return r | f.abi_flags.load();
}

}  // namespace

// --- boot -----------------------------------------------------------------------

Result<void> files_init() {
  vfs::Vfs* v = vfs::kernel_vfs();
  if (!v) return Error::NotFound;
  g_special = new (std::nothrow) SpecialFs;
  g_fds = new (std::nothrow) vfs::FdTable(unsigned(vfs::FdTable::DEFAULT_LIMIT));
  if (!g_special || !g_fds) return Error::NoMemory;
  g_console = new (std::nothrow) ConsoleVnode(false, 5, 1, 0620);
  g_tty = new (std::nothrow) ConsoleVnode(false, 5, 0, 0666);
  g_null = new (std::nothrow) ConsoleVnode(true, 1, 3, 0666);
  if (!g_console || !g_tty || !g_null) return Error::NoMemory;
  g_root = v->root().leak();
  g_cwd = g_root;
  g_root->retain();
  // /dev with the nodes linux/ serves (existing ones from the initrd stay).
  vfs::PathContext pc{g_root, g_cwd};
  vfs::CreateArgs d;
  d.mode = vfs::MODE_DIR | 0755;
  (void)v->mkdir(pc, "/dev", d);
  struct {
    const char* path;
    uint64_t major, minor;
    uint32_t perm;
  } nodes[] = {{"/dev/null", 1, 3, 0666}, {"/dev/console", 5, 1, 0620}, {"/dev/tty", 5, 0, 0666}};
  for (auto& n : nodes) {
    vfs::CreateArgs a;
    a.mode = vfs::MODE_CHAR | n.perm;
    a.rdev = (n.major << 32) | n.minor;
    (void)v->mknod(pc, n.path, a);
  }
  // fds 0-2: the console (0 for reading, 1 and 2 for writing, as before).
  uint32_t modes[3] = {OpenFile::READ, OpenFile::WRITE, OpenFile::WRITE};
  for (uint32_t m : modes) {
    auto f = TRY(OpenFile::create(VnodeRef(g_console), m));
    f->abi_flags.store(0);
    TRY(g_fds->install(f));
  }
  return {};
}

Result<vfs::FileRef> fd_file(int64_t fd) { return get_file(uint64_t(fd)); }

// --- I/O ---

LINUX_SYSCALL(0, read, "fpu") { return simple_io(args, false, -1); }
LINUX_SYSCALL(1, write, "fbu") { return simple_io(args, true, -1); }
LINUX_SYSCALL(17, pread64, "fpud") {
  if (int64_t(args.a[3]) < 0) return get_file(args.a[0]).ok() ? -kEINVAL : -kEBADF;
  return simple_io(args, false, int64_t(args.a[3]));
}
LINUX_SYSCALL(18, pwrite64, "fbud") {
  if (int64_t(args.a[3]) < 0) return get_file(args.a[0]).ok() ? -kEINVAL : -kEBADF;
  return simple_io(args, true, int64_t(args.a[3]));
}
LINUX_SYSCALL(19, readv, "fpd") { return vector_io(args.a[0], args.a[1], args.a[2], false, -1); }
LINUX_SYSCALL(20, writev, "fpd") { return vector_io(args.a[0], args.a[1], args.a[2], true, -1); }

LINUX_SYSCALL(16, ioctl, "fxp") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  int fd = int(args.a[0]);
  switch (args.a[1]) {
    case FIOCLEX: return ret(g_fds->set_cloexec(fd, true));
    case FIONCLEX: return ret(g_fds->set_cloexec(fd, false));
    case FIONBIO: {
      auto v = get_user(reinterpret_cast<const int*>(args.a[2]));
      if (!v.ok()) return -kEFAULT;
      uint32_t fl = f.flags();
      f.set_flags(v.value() ? (fl | OpenFile::NONBLOCK) : (fl & ~OpenFile::NONBLOCK));
      return 0;
    }
    case FIONREAD: {
      PipeVnode* pv = as_pipe(f.vnode());
      if (!pv) return -kENOTTY;
      int n = int(pv->end()->bytes_available());
      return put_user(reinterpret_cast<int*>(args.a[2]), n).ok() ? 0 : -kEFAULT;
    }
    case TCGETS:
    case TIOCGWINSZ:
    default:
      // The serial console is not a terminal the program can configure yet:
      // isatty() is false, so programs use full buffering and no colours.
      return -kENOTTY;
  }
}

LINUX_SYSCALL(2, open, "sxo") { return do_open(AT_FDCWD, args.a[0], args.a[1], args.a[2]); }
LINUX_SYSCALL(257, openat, "fsxo") { return do_open(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3]); }
LINUX_SYSCALL(85, creat, "so") { return do_open(AT_FDCWD, args.a[0], O_CREAT | O_WRONLY | O_TRUNC, args.a[1]); }

LINUX_SYSCALL(3, close, "f") {
  if (!get_file(args.a[0]).ok()) return -kEBADF;
  return ret(g_fds->close(int(args.a[0])));
}

LINUX_SYSCALL(8, lseek, "fdd") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  if (is_special(f.vnode())) {
    if (&f.vnode() == g_null) return 0;
    return -kESPIPE;
  }
  vfs::Whence w;
  switch (args.a[2]) {
    case 0: w = vfs::Whence::Set; break;
    case 1: w = vfs::Whence::Current; break;
    case 2: w = vfs::Whence::End; break;
    default: return -kEINVAL;
  }
  return ret(f.seek(int64_t(args.a[1]), w));
}

LINUX_SYSCALL(74, fsync, "f") { return get_file(args.a[0]).ok() ? 0 : -kEBADF; }
LINUX_SYSCALL(75, fdatasync, "f") { return get_file(args.a[0]).ok() ? 0 : -kEBADF; }

// --- attributes ---

LINUX_SYSCALL(5, fstat, "fp") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  auto a = fr.value()->vnode().getattr();
  return a.ok() ? put_stat(args.a[1], a.value()) : to_errno(a.error());
}
LINUX_SYSCALL(4, stat, "sp") { return stat_at(AT_FDCWD, args.a[0], args.a[1], 0); }
LINUX_SYSCALL(6, lstat, "sp") { return stat_at(AT_FDCWD, args.a[0], args.a[1], AT_SYMLINK_NOFOLLOW); }
LINUX_SYSCALL(262, newfstatat, "fspx") {
  return stat_at(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3]);
}

LINUX_SYSCALL(21, access, "so") { return access_at(AT_FDCWD, args.a[0], args.a[1], 0); }
LINUX_SYSCALL(269, faccessat, "fso") { return access_at(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], 0); }
LINUX_SYSCALL(439, faccessat2, "fsox") {
  return access_at(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3]);
}

LINUX_SYSCALL(76, truncate, "sd") {
  if (int64_t(args.a[1]) < 0) return -kEINVAL;
  UserPath p;
  if (int64_t e = get_path(args.a[0], p)) return e;
  Ctx ctx = cur_ctx();
  auto a = vfs::kernel_vfs()->stat(ctx.pc(), p.view(), true);
  if (!a.ok()) return to_errno(a.error());
  if (vfs::type_of_mode(a.value().mode) == vfs::VType::Dir) return -kEISDIR;
  if (vfs::type_of_mode(a.value().mode) != vfs::VType::Regular) return -kEINVAL;
  vfs::SetAttr s;
  s.mask = vfs::SetAttr::SIZE;
  s.size = args.a[1];
  return ret(vfs::kernel_vfs()->setattr(ctx.pc(), p.view(), s, true));
}

LINUX_SYSCALL(77, ftruncate, "fd") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  if (int64_t(args.a[1]) < 0) return -kEINVAL;
  OpenFile& f = *fr.value();
  if (!f.writable() || !f.vnode().is_regular()) return (f.flags() & OpenFile::PATH) ? -kEBADF : -kEINVAL;
  vfs::SetAttr s;
  s.mask = vfs::SetAttr::SIZE;
  s.size = args.a[1];
  return ret(f.vnode().setattr(s));
}

// --- directories and names ---

LINUX_SYSCALL(217, getdents64, "fpu") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  if (!f.vnode().is_dir()) return -kENOTDIR;
  DirentSink sink(args.a[1], args.a[2] > MAX_RW ? MAX_RW : args.a[2]);
  auto r = f.readdir(sink);
  if (!r.ok() && !sink.used) return to_errno(r.error());
  if (sink.fault && !sink.used) return -kEFAULT;
  if (sink.full && !sink.used) return -kEINVAL;
  return int64_t(sink.used);
}

LINUX_SYSCALL(83, mkdir, "so") { return mkdir_at(AT_FDCWD, args.a[0], args.a[1]); }
LINUX_SYSCALL(258, mkdirat, "fso") { return mkdir_at(int64_t(int32_t(args.a[0])), args.a[1], args.a[2]); }
LINUX_SYSCALL(84, rmdir, "s") { return unlink_at(AT_FDCWD, args.a[0], AT_REMOVEDIR); }
LINUX_SYSCALL(87, unlink, "s") { return unlink_at(AT_FDCWD, args.a[0], 0); }
LINUX_SYSCALL(263, unlinkat, "fsx") { return unlink_at(int64_t(int32_t(args.a[0])), args.a[1], args.a[2]); }
LINUX_SYSCALL(82, rename, "ss") { return rename_at(AT_FDCWD, args.a[0], AT_FDCWD, args.a[1], 0); }
LINUX_SYSCALL(264, renameat, "fsfs") {
  return rename_at(int64_t(int32_t(args.a[0])), args.a[1], int64_t(int32_t(args.a[2])), args.a[3], 0);
}
LINUX_SYSCALL(316, renameat2, "fsfsx") {
  return rename_at(int64_t(int32_t(args.a[0])), args.a[1], int64_t(int32_t(args.a[2])), args.a[3], args.a[4]);
}
LINUX_SYSCALL(86, link, "ss") { return link_at(AT_FDCWD, args.a[0], AT_FDCWD, args.a[1], 0); }
LINUX_SYSCALL(265, linkat, "fsfsx") {
  return link_at(int64_t(int32_t(args.a[0])), args.a[1], int64_t(int32_t(args.a[2])), args.a[3], args.a[4]);
}
LINUX_SYSCALL(88, symlink, "ss") { return symlink_at(args.a[0], AT_FDCWD, args.a[1]); }
LINUX_SYSCALL(266, symlinkat, "sfs") { return symlink_at(args.a[0], int64_t(int32_t(args.a[1])), args.a[2]); }
LINUX_SYSCALL(89, readlink, "spu") { return readlink_at(AT_FDCWD, args.a[0], args.a[1], args.a[2]); }
LINUX_SYSCALL(267, readlinkat, "fspu") {
  return readlink_at(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3]);
}

LINUX_SYSCALL(79, getcwd, "pu") {
  Ctx ctx = cur_ctx();
  size_t cap = args.a[1] < vfs::MAX_PATH ? size_t(args.a[1]) : vfs::MAX_PATH;
  if (cap == 0) return -kERANGE;
  char* buf = new (std::nothrow) char[cap];
  if (!buf) return -kENOMEM;
  auto n = vfs::kernel_vfs()->path_of(ctx.pc(), *ctx.cwd, buf, cap);
  int64_t r;
  if (!n.ok()) r = to_errno(n.error());
  else r = copy_to_user(reinterpret_cast<void*>(args.a[0]), buf, n.value() + 1).ok() ? int64_t(n.value() + 1) : -kEFAULT;
  delete[] buf;
  return r;
}

LINUX_SYSCALL(80, chdir, "s") {
  UserPath p;
  if (int64_t e = get_path(args.a[0], p)) return e;
  Ctx ctx = cur_ctx();
  auto v = vfs::kernel_vfs()->resolve(ctx.pc(), p.view(), vfs::WALK_FOLLOW | vfs::WALK_DIRECTORY);
  if (!v.ok()) return to_errno(v.error());
  if (!v.value()->is_dir()) return -kENOTDIR;
  set_cwd(static_cast<VnodeRef&&>(v.value()));
  return 0;
}

LINUX_SYSCALL(81, fchdir, "f") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  if (!fr.value()->vnode().is_dir()) return -kENOTDIR;
  set_cwd(fr.value()->vnode_ref());
  return 0;
}

// --- descriptors ---

LINUX_SYSCALL(72, fcntl, "fdx") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  OpenFile& f = *fr.value();
  int fd = int(args.a[0]);
  constexpr uint64_t F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_SETPIPE_SZ = 1031,
                     F_GETPIPE_SZ = 1032, F_DUPFD_CLOEXEC = 1030;
  switch (args.a[1]) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int64_t min = int64_t(int32_t(args.a[2]));
      if (min < 0 || min >= int64_t(g_fds->limit())) return -kEINVAL;
      return ret(g_fds->dup_from(fd, int(min), args.a[1] == F_DUPFD_CLOEXEC));
    }
    case F_GETFD: {
      auto c = g_fds->cloexec(fd);
      return c.ok() ? (c.value() ? 1 : 0) : to_errno(c.error());
    }
    case F_SETFD: return ret(g_fds->set_cloexec(fd, args.a[2] & 1));
    case F_GETFL: return getfl(f);
    case F_SETFL: {
      uint32_t fl = f.flags() & ~OpenFile::SETTABLE;
      if (args.a[2] & O_APPEND) fl |= OpenFile::APPEND;
      if (args.a[2] & O_NONBLOCK) fl |= OpenFile::NONBLOCK;
      f.set_flags(fl);
      uint32_t keep = f.abi_flags.load() & ~uint32_t(O_ASYNC | O_DIRECT | O_NOATIME);
      f.abi_flags.store(keep | uint32_t(args.a[2] & (O_ASYNC | O_DIRECT | O_NOATIME)));
      return 0;
    }
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ: {
      PipeVnode* pv = as_pipe(f.vnode());
      if (!pv) return -kEBADF;
      if (args.a[1] == F_GETPIPE_SZ) return int64_t(pv->end()->capacity());
      return ret(pv->end()->set_capacity(size_t(uint32_t(args.a[2]))));
    }
    default: return -kEINVAL;
  }
}

LINUX_SYSCALL(32, dup, "f") {
  if (!get_file(args.a[0]).ok()) return -kEBADF;
  return ret(g_fds->dup(int(args.a[0])));
}

LINUX_SYSCALL(33, dup2, "ff") {
  if (!get_file(args.a[0]).ok()) return -kEBADF;
  if (int64_t(int32_t(args.a[1])) != int64_t(args.a[1]) || int32_t(args.a[1]) < 0) return -kEBADF;
  return ret(g_fds->dup2(int(args.a[0]), int(args.a[1])));
}

LINUX_SYSCALL(292, dup3, "ffx") {
  if (args.a[2] & ~O_CLOEXEC) return -kEINVAL;
  if (args.a[0] == args.a[1]) return -kEINVAL;
  if (!get_file(args.a[0]).ok()) return -kEBADF;
  if (int64_t(int32_t(args.a[1])) != int64_t(args.a[1]) || int32_t(args.a[1]) < 0) return -kEBADF;
  return ret(g_fds->dup3(int(args.a[0]), int(args.a[1]), args.a[2] & O_CLOEXEC));
}

LINUX_SYSCALL(22, pipe, "p") { return do_pipe(args.a[0], 0); }
LINUX_SYSCALL(293, pipe2, "px") { return do_pipe(args.a[0], args.a[1]); }

}  // namespace capsule::linux_abi
