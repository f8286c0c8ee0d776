// File system calls over the VFS (docs/vfs.md): open, paths, attributes,
// directories and descriptor management, with Linux's O_* flags, struct
// stat and dirent64 at the boundary. Transfers are in sys_io.cc; the state
// and helpers shared with other families in file_common.cc.
#include <new>

#include "fs/file.h"
#include "linux/process.h"
#include "arch/uaccess.h"
#include "fs/vfs.h"
#include "linux/fifo.h"
#include "linux/file_common.h"
#include "linux/file_lock.h"
#include "linux/memfd.h"
#include "linux/identity.h"
#include "linux/linux_errno.h"
#include "linux/pipe_file.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::FileRef;
using vfs::OpenFile;
using vfs::OpenHow;
using vfs::Vnode;
using vfs::VnodeRef;

constexpr uint64_t F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_SETPIPE_SZ = 1031,
                   F_GETPIPE_SZ = 1032, F_DUPFD_CLOEXEC = 1030, F_ADD_SEALS = 1033, F_GET_SEALS = 1034;

struct Stat {  // struct stat, x86-64
  uint64_t dev, ino, nlink;
  uint32_t mode, uid, gid, pad0;
  uint64_t rdev;
  int64_t size, blksize, blocks;
  int64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
  int64_t reserved[3];
};
static_assert(sizeof(Stat) == 144);

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

// --- openat2 ---------------------------------------------------------------------

constexpr uint64_t RESOLVE_NO_XDEV = 0x01, RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_NO_SYMLINKS = 0x04,
                   RESOLVE_BENEATH = 0x08, RESOLVE_IN_ROOT = 0x10, RESOLVE_CACHED = 0x20;
constexpr uint64_t kResolveAll = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
                                 RESOLVE_IN_ROOT | RESOLVE_CACHED;
// Bit set so that do_open knows openat2 called, even with no RESOLVE_*.
constexpr uint64_t kResolveOpenat2 = uint64_t(1) << 63;

unsigned walk_flags(uint64_t resolve) {
  unsigned w = 0;
  if (resolve & RESOLVE_NO_SYMLINKS) w |= vfs::WALK_NO_SYMLINKS;
  if (resolve & RESOLVE_NO_XDEV) w |= vfs::WALK_NO_XDEV;
  if (resolve & RESOLVE_BENEATH) w |= vfs::WALK_BENEATH;
  // RESOLVE_NO_MAGICLINKS: there are no magic links (/proc/self/fd/N)
  // to refuse yet. RESOLVE_CACHED: every lookup may complete.
  return w;
}

// The walk's context for openat2: dirfd is the start even for absolute
// paths under IN_ROOT (it becomes the root) and BENEATH (which refuses
// them in the walk).
int64_t resolve_ctx(int64_t dirfd, const UserPath& p, uint64_t resolve, Ctx& ctx) {
  if (!(resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH))) return at_ctx(dirfd, p, ctx);
  ctx = cur_ctx();
  if (dirfd != AT_FDCWD) {
    auto f = get_file(uint64_t(dirfd));
    if (dirfd < 0 || dirfd > INT32_MAX || !f.ok()) return -kEBADF;
    if (!f.value()->vnode().is_dir()) return -kENOTDIR;
    ctx.cwd = f.value()->vnode_ref();
  }
  if (resolve & RESOLVE_IN_ROOT) ctx.root = ctx.cwd;
  return 0;
}

// resolve: openat2(2)'s RESOLVE_* bits (0 for open/openat).
int64_t do_open(int64_t dirfd, uint64_t upath, uint64_t flags, uint64_t mode, uint64_t resolve = 0) {
  UserPath p;
  if (int64_t e = get_path(upath, p)) return e;
  bool tmpfile = (flags & O_TMPFILE) == O_TMPFILE;
  // open(2): O_TMPFILE (which includes O_DIRECTORY) without O_CREAT, and
  // with write access; EINVAL otherwise.
  constexpr uint64_t kTmpfileBit = O_TMPFILE & ~O_DIRECTORY;
  if ((flags & kTmpfileBit) && ((flags & (O_TMPFILE | O_CREAT)) != O_TMPFILE || !(flags & (O_WRONLY | O_RDWR))))
    return -kEINVAL;
  Ctx ctx;
  if (int64_t e = resolve ? resolve_ctx(dirfd, p, resolve, ctx) : at_ctx(dirfd, p, ctx)) return e;
  OpenHow how;
  how.walk = walk_flags(resolve);
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
    if ((flags & O_EXCL) && ((flags & O_CREAT) || tmpfile)) how.flags |= OpenHow::EXCL;
    if (flags & O_TRUNC) how.flags |= OpenHow::TRUNC;
    if (flags & O_DIRECTORY) how.flags |= OpenHow::DIRECTORY;
    if (flags & O_NOFOLLOW) how.flags |= OpenHow::NOFOLLOW;
    if (flags & O_APPEND) how.flags |= OpenHow::APPEND;
    if (flags & O_NONBLOCK) how.flags |= OpenHow::NONBLOCK;
  }
  how.create.mode = vfs::MODE_REGULAR | (uint32_t(mode) & 07777 & ~current_umask());
  how.create.uid = current_fsuid();
  how.create.gid = current_fsgid();
  auto r = tmpfile ? vfs::kernel_vfs()->open_tmpfile(ctx.pc(), p.view(), how)
                   : vfs::kernel_vfs()->open(ctx.pc(), p.view(), how);
  if (tmpfile && !r.ok() && r.error() == Error::NotSupported) return -kEOPNOTSUPP;
  if (!r.ok()) return to_errno(r.error());
  FileRef f = static_cast<FileRef&&>(r.value());
  if (!(flags & O_PATH)) {
    if (is_fifo_node(f->vnode()))
      if (int64_t e = fifo_open(f)) return e;
  }
  f->abi_flags.store(uint32_t(flags & (O_DSYNC | O_ASYNC | O_DIRECT | O_LARGEFILE | O_NOATIME | O_SYNC)) |
                     uint32_t(O_LARGEFILE));
  return install(static_cast<FileRef&&>(f), flags & O_CLOEXEC);
}

// --- openat2 (the rest) ---

struct OpenHowAbi {  // struct open_how (include/uapi/linux/openat2.h)
  uint64_t flags, mode, resolve;
};
constexpr uint64_t kValidOpenFlags = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK |
                                     O_DSYNC | O_ASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW |
                                     O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH | O_TMPFILE;

// openat2(2): the structure is versioned by size (copy_struct_from_user):
// smaller than version 0 is EINVAL, larger than a page E2BIG, and bytes
// past what this kernel knows must be zero (E2BIG otherwise). Unlike
// openat, unknown flags and stray mode bits are errors.
int64_t do_openat2(int64_t dirfd, uint64_t upath, uint64_t uhow, uint64_t size) {
  if (size < sizeof(OpenHowAbi)) return -kEINVAL;
  if (size > 4096) return -kE2BIG;
  OpenHowAbi how;
  if (!copy_from_user(&how, reinterpret_cast<const void*>(uhow), sizeof(how)).ok()) return -kEFAULT;
  for (uint64_t off = sizeof(how); off < size; off += 8) {
    uint8_t tail[8] = {};
    size_t n = size - off < 8 ? size_t(size - off) : 8;
    if (!copy_from_user(tail, reinterpret_cast<const void*>(uhow + off), n).ok()) return -kEFAULT;
    for (size_t i = 0; i < n; ++i)
      if (tail[i]) return -kE2BIG;
  }
  if (how.flags & ~kValidOpenFlags) return -kEINVAL;
  if (how.resolve & ~kResolveAll) return -kEINVAL;
  if (how.mode & ~uint64_t(07777)) return -kEINVAL;
  bool creates = (how.flags & O_CREAT) || (how.flags & O_TMPFILE) == O_TMPFILE;
  if (how.mode && !creates) return -kEINVAL;
  if ((how.flags & O_PATH) && (how.flags & ~(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))) return -kEINVAL;
  if ((how.resolve & RESOLVE_BENEATH) && (how.resolve & RESOLVE_IN_ROOT)) return -kEINVAL;
  if ((how.resolve & RESOLVE_CACHED) && (how.flags & (O_CREAT | O_TRUNC | O_TMPFILE))) return -kEINVAL;
  return do_open(dirfd, upath, how.flags, how.mode, how.resolve | kResolveOpenat2);
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
  if (a.len == 0 && (flags & AT_EMPTY_PATH)) {
    // linkat(2): a name for the open file olddir (an O_TMPFILE file too).
    auto f = get_file(uint64_t(olddir));
    if (olddir == AT_FDCWD || !f.ok()) return olddir == AT_FDCWD ? -kENOENT : -kEBADF;
    Ctx cb;
    if (int64_t e = at_ctx(newdir, b, cb)) return e;
    return ret(vfs::kernel_vfs()->link_vnode(f.value()->vnode(), cb.pc(), b.view()));
  }
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

// Closing descriptors first..last drops the process's POSIX locks on
// their files (fcntl(2)); only costs a scan when locks were ever taken.
void drop_posix_locks(uint64_t first, uint64_t last) {
  if (!OpenFile::on_last_release.load(std::memory_order_relaxed)) return;
  uint64_t limit = fds().limit();
  for (uint64_t fd = first; fd <= last && fd < limit; ++fd)
    if (auto f = get_file(fd); f.ok()) posix_locks_on_close(*f.value());
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

// --- open and close ---

LINUX_SYSCALL(2, open, "sxo") { return do_open(AT_FDCWD, args.a[0], args.a[1], args.a[2]); }
LINUX_SYSCALL(257, openat, "fsxo") { return do_open(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3]); }
LINUX_SYSCALL(437, openat2, "fspu") {
  return do_openat2(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3]);
}
LINUX_SYSCALL(85, creat, "so") { return do_open(AT_FDCWD, args.a[0], O_CREAT | O_WRONLY | O_TRUNC, args.a[1]); }

LINUX_SYSCALL(3, close, "f") {
  auto fr = get_file(args.a[0]);
  if (!fr.ok()) return -kEBADF;
  posix_locks_on_close(*fr.value());
  return ret(fds().close(int(args.a[0])));
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
  switch (args.a[1]) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int64_t min = int64_t(int32_t(args.a[2]));
      if (min < 0 || min >= int64_t(fds().limit())) return -kEINVAL;
      return ret(fds().dup_from(fd, int(min), args.a[1] == F_DUPFD_CLOEXEC));
    }
    case F_GETFD: {
      auto c = fds().cloexec(fd);
      return c.ok() ? (c.value() ? 1 : 0) : to_errno(c.error());
    }
    case F_SETFD: return ret(fds().set_cloexec(fd, args.a[2] & 1));
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
      PipeEnd* end = pipe_end_of(f.vnode());
      if (!end) return -kEBADF;
      if (args.a[1] == F_GETPIPE_SZ) return int64_t(end->capacity());
      return ret(end->set_capacity(size_t(uint32_t(args.a[2]))));
    }
    case F_ADD_SEALS:
    case F_GET_SEALS: return fcntl_seals(f, args.a[1], args.a[2]);
    default:
      if (is_lock_cmd(args.a[1])) return fcntl_lock(f, args.a[1], args.a[2]);
      return -kEINVAL;
  }
}

LINUX_SYSCALL(32, dup, "f") {
  if (!get_file(args.a[0]).ok()) return -kEBADF;
  return ret(fds().dup(int(args.a[0])));
}

LINUX_SYSCALL(33, dup2, "ff") {
  if (!get_file(args.a[0]).ok()) return -kEBADF;
  if (int64_t(int32_t(args.a[1])) != int64_t(args.a[1]) || int32_t(args.a[1]) < 0) return -kEBADF;
  if (args.a[0] != args.a[1]) drop_posix_locks(args.a[1], args.a[1]);  // new_fd is closed
  return ret(fds().dup2(int(args.a[0]), int(args.a[1])));
}

LINUX_SYSCALL(292, dup3, "ffx") {
  if (args.a[2] & ~O_CLOEXEC) return -kEINVAL;
  if (args.a[0] == args.a[1]) return -kEINVAL;
  if (!get_file(args.a[0]).ok()) return -kEBADF;
  if (int64_t(int32_t(args.a[1])) != int64_t(args.a[1]) || int32_t(args.a[1]) < 0) return -kEBADF;
  drop_posix_locks(args.a[1], args.a[1]);
  return ret(fds().dup3(int(args.a[0]), int(args.a[1]), args.a[2] & O_CLOEXEC));
}

// close_range(2): CLOSE_RANGE_UNSHARE (one fd table per process: nothing
// to unshare) and CLOSE_RANGE_CLOEXEC; EINVAL for other flags or
// first > last.
constexpr uint64_t kCloseRangeUnshare = 2, kCloseRangeCloexec = 4;
LINUX_SYSCALL(436, close_range, "uux") {
  if (args.a[2] & ~(kCloseRangeUnshare | kCloseRangeCloexec)) return -kEINVAL;
  uint32_t first = uint32_t(args.a[0]), last = uint32_t(args.a[1]);
  if (first > last) return -kEINVAL;
  if (!(args.a[2] & kCloseRangeCloexec)) drop_posix_locks(first, last);
  return ret(fds().close_range(first, last, args.a[2] & kCloseRangeCloexec));
}

}  // namespace capsule::linux_abi
