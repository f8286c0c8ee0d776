// File system calls over the VFS (docs/vfs.md): open, paths, attributes,
// directories and descriptor management, with Linux's O_* flags, struct
// stat and dirent64 at the boundary. Transfers are in sys_io.cc; the state
// and helpers shared with other families in file_common.cc.
//
// Every call is a typed definition (linux/syscall.h): the parameters carry
// the kernel's C types (an fd or dirfd is an int, modes and sizes as
// declared in Linux's SYSCALL_DEFINE), and an Error returned is the errno.
#include <new>

#include "fs/file.h"
#include "linux/process.h"
#include "arch/uaccess.h"
#include "fs/vfs.h"
#include "linux/fifo.h"
#include "linux/file_async.h"
#include "linux/file_common.h"
#include "linux/pty_file.h"
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

// Signal-driven I/O (linux/file_async.h).
constexpr uint32_t F_SETOWN = 8, F_GETOWN = 9, F_SETSIG = 10, F_GETSIG = 11, F_SETOWN_EX = 15, F_GETOWN_EX = 16;
constexpr uint32_t F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_SETPIPE_SZ = 1031,
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

Result<void> put_stat(UserPtr<Stat> ustat, const vfs::Attr& a) {
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
  return ustat.write(st);  // Error::Fault for a bad pointer
}

// --- openat2 ---------------------------------------------------------------------

constexpr uint64_t RESOLVE_NO_XDEV = 0x01, RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_NO_SYMLINKS = 0x04,
                   RESOLVE_BENEATH = 0x08, RESOLVE_IN_ROOT = 0x10, RESOLVE_CACHED = 0x20;
constexpr uint64_t RESOLVE_ALL = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
                                 RESOLVE_IN_ROOT | RESOLVE_CACHED;
// Bit set so that do_open knows openat2 called, even with no RESOLVE_*.
constexpr uint64_t RESOLVE_OPENAT2 = uint64_t(1) << 63;

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
Result<Ctx> resolve_ctx(AtFd dirfd, const UserPath& p, uint64_t resolve) {
  if (!(resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH))) return at_ctx(dirfd, p);
  Ctx ctx = user_ctx();
  if (!dirfd.is_cwd()) {
    auto f = get_file(Fd{dirfd.value});
    if (!f.ok()) return Error::BadFd;
    if (!f.value()->vnode().is_dir()) return Error::NotDir;
    ctx.cwd = f.value()->vnode_ref();
  }
  if (resolve & RESOLVE_IN_ROOT) ctx.root = ctx.cwd;
  return ctx;
}

// flags: open(2)'s O_* bits; resolve: openat2(2)'s RESOLVE_* bits (0 for
// open/openat).
Result<Fd> do_open(AtFd dirfd, UserString upath, uint64_t flags, uint64_t mode, uint64_t resolve = 0) {
  UserPath p;
  TRY(copy_path(upath, p));
  bool tmpfile = (flags & O_TMPFILE) == O_TMPFILE;
  // open(2): O_TMPFILE (which includes O_DIRECTORY) without O_CREAT, and
  // with write access; EINVAL otherwise.
  constexpr uint64_t TMPFILE_BIT = O_TMPFILE & ~O_DIRECTORY;
  if ((flags & TMPFILE_BIT) && ((flags & (O_TMPFILE | O_CREAT)) != O_TMPFILE || !(flags & (O_WRONLY | O_RDWR))))
    return Error::Invalid;
  Ctx ctx = TRY(resolve ? resolve_ctx(dirfd, p, resolve) : at_ctx(dirfd, p));
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
    if (flags & O_NOATIME) how.flags |= OpenHow::NOATIME;
  }
  how.create.mode = vfs::MODE_REGULAR | (uint32_t(mode) & 07777 & ~current_umask());
  how.create.uid = current_fsuid();
  how.create.gid = current_fsgid();
  auto r = tmpfile ? vfs::kernel_vfs()->open_tmpfile(ctx.pc(), p.view(), how)
                   : vfs::kernel_vfs()->open(ctx.pc(), p.view(), how);
  // A file system without O_TMPFILE support: open(2) says EOPNOTSUPP.
  if (tmpfile && !r.ok() && r.error() == Error::NotSupported) return Error::OpNotSupported;
  if (!r.ok()) return r.error();
  FileRef f = r.release_value();
  if (!(flags & O_PATH)) {
    if (is_fifo_node(f->vnode())) TRY(fifo_open(f));
    if (!(flags & O_NOCTTY)) pty_open_ctty(*f);
  }
  f->abi_flags.store(uint32_t(flags & (O_DSYNC | O_ASYNC | O_DIRECT | O_LARGEFILE | O_NOATIME | O_SYNC)) |
                     uint32_t(O_LARGEFILE));
  return install_fd(static_cast<FileRef&&>(f), flags & O_CLOEXEC);
}

// --- openat2 (the rest) ---

struct OpenHowAbi {  // struct open_how (include/uapi/linux/openat2.h)
  uint64_t flags, mode, resolve;
};
constexpr uint64_t VALID_OPEN_FLAGS = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK |
                                     O_DSYNC | O_ASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW |
                                     O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH | O_TMPFILE;

// openat2(2): the structure is versioned by size (copy_struct_from_user):
// smaller than version 0 is EINVAL, larger than a page E2BIG, and bytes
// past what this kernel knows must be zero (E2BIG otherwise). Unlike
// openat, unknown flags and stray mode bits are errors.
Result<Fd> do_openat2(AtFd dirfd, UserString upath, UserPtr<const OpenHowAbi> uhow, size_t size) {
  if (size < sizeof(OpenHowAbi)) return Error::Invalid;
  if (size > 4096) return Error::TooBig;
  OpenHowAbi how = TRY(uhow.read());
  UserPtr<const uint8_t> bytes = uhow.cast<const uint8_t>();
  for (size_t off = sizeof(how); off < size; off += 8) {
    uint8_t tail[8] = {};
    size_t n = size - off < 8 ? size - off : 8;
    TRY(bytes.offset(off).copy_in(tail, n));
    for (size_t i = 0; i < n; ++i)
      if (tail[i]) return Error::TooBig;
  }
  if (how.flags & ~VALID_OPEN_FLAGS) return Error::Invalid;
  if (how.resolve & ~RESOLVE_ALL) return Error::Invalid;
  if (how.mode & ~uint64_t(07777)) return Error::Invalid;
  bool creates = (how.flags & O_CREAT) || (how.flags & O_TMPFILE) == O_TMPFILE;
  if (how.mode && !creates) return Error::Invalid;
  if ((how.flags & O_PATH) && (how.flags & ~(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))) return Error::Invalid;
  if ((how.resolve & RESOLVE_BENEATH) && (how.resolve & RESOLVE_IN_ROOT)) return Error::Invalid;
  if ((how.resolve & RESOLVE_CACHED) && (how.flags & (O_CREAT | O_TRUNC | O_TMPFILE))) return Error::Invalid;
  return do_open(dirfd, upath, how.flags, how.mode, how.resolve | RESOLVE_OPENAT2);
}

// --- getdents and getdents64 ---------------------------------------------------

// One record per entry. getdents64's struct linux_dirent64 is {d_ino,
// d_off, d_reclen, d_type, d_name}; the legacy getdents' struct
// linux_dirent is {d_ino, d_off, d_reclen, d_name, NUL, pad, d_type}: the
// type is the record's last byte (reclen = 18 + name + 2, rounded to 8).
class DirentSink final : public vfs::DirSink {
 public:
  DirentSink(UserPtr<uint8_t> out, size_t cap, bool legacy) : out_(out), cap_(cap), legacy_(legacy) {}
  bool emit(StringView name, uint64_t ino, vfs::VType type, uint64_t next) override {
    const size_t name_at = legacy_ ? 18 : 19;
    size_t reclen = (name_at + name.size() + (legacy_ ? 2 : 1) + 7) & ~size_t(7);
    if (used + reclen > cap_) {
      full = true;
      return false;
    }
    uint8_t rec[19 + vfs::MAX_NAME + 2 + 8] = {};
    __builtin_memcpy(rec, &ino, 8);
    __builtin_memcpy(rec + 8, &next, 8);
    uint16_t rl = uint16_t(reclen);
    __builtin_memcpy(rec + 16, &rl, 2);
    rec[legacy_ ? reclen - 1 : 18] = uint8_t(type);
    __builtin_memcpy(rec + name_at, name.data(), name.size());
    if (!out_.offset(used).copy_out(rec, reclen).ok()) {
      fault = true;
      return false;
    }
    used += reclen;
    return true;
  }
  size_t used = 0;
  bool full = false, fault = false;

 private:
  UserPtr<uint8_t> out_;
  size_t cap_;
  bool legacy_;
};

// --- paths --------------------------------------------------------------------------

Result<void> stat_at(AtFd dirfd, UserString upath, UserPtr<Stat> ustat, uint32_t flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return Error::Invalid;
  UserPath p;
  TRY(copy_path(upath, p));
  if (p.len == 0 && !(flags & AT_EMPTY_PATH)) return Error::NotFound;  // before dirfd is looked at
  if (p.len == 0) {
    if (dirfd.is_cwd()) return put_stat(ustat, TRY(cur_ctx().cwd->getattr()));
    auto f = get_file(Fd{dirfd.value});
    if (!f.ok()) return Error::BadFd;
    return put_stat(ustat, TRY(f.value()->vnode().getattr()));
  }
  Ctx ctx = TRY(at_ctx(dirfd, p));
  return put_stat(ustat, TRY(vfs::kernel_vfs()->stat(ctx.pc(), p.view(), !(flags & AT_SYMLINK_NOFOLLOW))));
}

Result<void> access_at(AtFd dirfd, UserString upath, uint32_t mode, uint32_t flags) {
  if (mode & ~7u) return Error::Invalid;
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH)) return Error::Invalid;
  UserPath p;
  TRY(copy_path(upath, p));
  Ctx ctx = TRY(at_ctx(dirfd, p));
  // access(2) asks as the real user (the walk too); AT_EACCESS as the
  // effective one, as open would.
  if (ctx.checked && !(flags & AT_EACCESS)) current_cred(ctx.cred, true);
  vfs::Attr a = TRY(vfs::kernel_vfs()->stat(ctx.pc(), p.view(), !(flags & AT_SYMLINK_NOFOLLOW)));
  if (!mode) return {};
  return vfs::may_access(ctx.creds(), a, int(mode));
}

Result<void> mkdir_at(AtFd dirfd, UserString upath, uint32_t mode) {
  UserPath p;
  TRY(copy_path(upath, p));
  Ctx ctx = TRY(at_ctx(dirfd, p));
  vfs::CreateArgs a;
  a.mode = vfs::MODE_DIR | (mode & 07777 & ~current_umask());
  a.uid = current_fsuid();
  a.gid = current_fsgid();
  return vfs::kernel_vfs()->mkdir(ctx.pc(), p.view(), a);
}

Result<void> unlink_at(AtFd dirfd, UserString upath, uint32_t flags) {
  if (flags & ~AT_REMOVEDIR) return Error::Invalid;
  UserPath p;
  TRY(copy_path(upath, p));
  Ctx ctx = TRY(at_ctx(dirfd, p));
  if (flags & AT_REMOVEDIR) return vfs::kernel_vfs()->rmdir(ctx.pc(), p.view());
  return vfs::kernel_vfs()->unlink(ctx.pc(), p.view());
}

constexpr uint32_t L_RENAME_NOREPLACE = 1;

Result<void> rename_at(AtFd olddir, UserString uold, AtFd newdir, UserString unew, uint32_t flags) {
  if (flags & ~L_RENAME_NOREPLACE) return Error::Invalid;
  UserPath a, b;
  TRY(copy_path(uold, a));
  TRY(copy_path(unew, b));
  Ctx ca = TRY(at_ctx(olddir, a));
  Ctx cb = TRY(at_ctx(newdir, b));
  return vfs::kernel_vfs()->rename(ca.pc(), a.view(), cb.pc(), b.view(), flags & L_RENAME_NOREPLACE);
}

Result<void> link_at(AtFd olddir, UserString uold, AtFd newdir, UserString unew, uint32_t flags) {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return Error::Invalid;
  UserPath a, b;
  TRY(copy_path(uold, a));
  TRY(copy_path(unew, b));
  if (a.len == 0 && (flags & AT_EMPTY_PATH)) {
    // linkat(2): a name for the open file olddir (an O_TMPFILE file too).
    if (olddir.is_cwd()) return Error::NotFound;
    auto f = get_file(Fd{olddir.value});
    if (!f.ok()) return Error::BadFd;
    Ctx cb = TRY(at_ctx(newdir, b));
    return vfs::kernel_vfs()->link_vnode(f.value()->vnode(), cb.pc(), b.view());
  }
  Ctx ca = TRY(at_ctx(olddir, a));
  Ctx cb = TRY(at_ctx(newdir, b));
  return vfs::kernel_vfs()->link(ca.pc(), a.view(), cb.pc(), b.view(), flags & AT_SYMLINK_FOLLOW);
}

Result<void> symlink_at(UserString utarget, AtFd dirfd, UserString upath) {
  UserPath t, p;
  TRY(copy_path(utarget, t));
  if (t.len == 0) return Error::NotFound;
  TRY(copy_path(upath, p));
  Ctx ctx = TRY(at_ctx(dirfd, p));
  vfs::CreateArgs a;
  a.mode = vfs::MODE_SYMLINK | 0777;
  a.uid = current_fsuid();
  a.gid = current_fsgid();
  return vfs::kernel_vfs()->symlink(t.view(), ctx.pc(), p.view(), a);
}

Result<size_t> readlink_at(AtFd dirfd, UserString upath, UserPtr<char> ubuf, int size) {
  if (size <= 0) return Error::Invalid;
  UserPath p;
  TRY(copy_path(upath, p));
  // An empty path names dirfd itself (Linux always allows it here): a
  // symlink opened O_PATH|O_NOFOLLOW is read, anything else is ENOENT.
  VnodeRef self;
  if (p.len == 0) {
    if (dirfd.is_cwd()) return Error::NotFound;
    auto f = get_file(Fd{dirfd.value});
    if (!f.ok()) return Error::BadFd;
    if (!f.value()->vnode().is_symlink()) return Error::NotFound;
    self = f.value()->vnode_ref();
  }
  Ctx ctx = self ? cur_ctx() : TRY(at_ctx(dirfd, p));
  size_t cap = size_t(size) < vfs::MAX_PATH ? size_t(size) : vfs::MAX_PATH;
  char* buf = new (std::nothrow) char[cap];
  if (!buf) return Error::NoMemory;
  Result<size_t> r = [&]() -> Result<size_t> {
    size_t n = self ? TRY(self->readlink(buf, cap)) : TRY(vfs::kernel_vfs()->readlink(ctx.pc(), p.view(), buf, cap));
    if (n > cap) n = cap;
    TRY(ubuf.copy_out(buf, n));
    return n;
  }();
  delete[] buf;
  return r;
}

// Closing descriptors first..last drops the process's POSIX locks on
// their files (fcntl(2)); only costs a scan when locks were ever taken.
void drop_posix_locks(uint32_t first, uint32_t last) {
  if (!OpenFile::on_last_release.load(std::memory_order_relaxed)) return;
  uint64_t limit = fds().limit();
  for (uint64_t fd = first; fd <= last && fd < limit; ++fd)
    if (auto f = get_file(Fd{int(fd)}); f.ok()) posix_locks_on_close(*f.value());
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

DEFINE_SYSCALL(2, open, Result<Fd>, UserString path, Flags<int> flags, Mode mode) {
  return do_open(AT_CWD, path, uint32_t(flags.value), mode);
}
DEFINE_SYSCALL(257, openat, Result<Fd>, AtFd dirfd, UserString path, Flags<int> flags, Mode mode) {
  return do_open(dirfd, path, uint32_t(flags.value), mode);
}
DEFINE_SYSCALL(437, openat2, Result<Fd>, AtFd dirfd, UserString path, UserPtr<const OpenHowAbi> how, size_t size) {
  return do_openat2(dirfd, path, how, size);
}
DEFINE_SYSCALL(85, creat, Result<Fd>, UserString path, Mode mode) {
  return do_open(AT_CWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

DEFINE_SYSCALL(3, close, Result<void>, Fd fd) {
  FileRef f = TRY(get_file(fd));
  posix_locks_on_close(*f);
  return fds().close(fd);
}

// fsync(2), fdatasync(2): the file to stable storage through its vnode
// (ext4 flushes the device's cache, after the inode if its times wait;
// ramfs and pseudo files have nothing to do).
DEFINE_SYSCALL(74, fsync, Result<void>, Fd fd) {
  FileRef f = TRY(get_file(fd));
  if (f->flags() & OpenFile::PATH) return Error::BadFd;
  return f->vnode().fsync();
}
DEFINE_SYSCALL(75, fdatasync, Result<void>, Fd fd) {
  FileRef f = TRY(get_file(fd));
  if (f->flags() & OpenFile::PATH) return Error::BadFd;
  return f->vnode().fdatasync();
}

// --- attributes ---

DEFINE_SYSCALL(5, fstat, Result<void>, Fd fd, UserPtr<Stat> st) {
  FileRef f = TRY(get_file(fd));
  return put_stat(st, TRY(f->vnode().getattr()));
}
DEFINE_SYSCALL(4, stat, Result<void>, UserString path, UserPtr<Stat> st) {
  return stat_at(AT_CWD, path, st, 0);
}
DEFINE_SYSCALL(6, lstat, Result<void>, UserString path, UserPtr<Stat> st) {
  return stat_at(AT_CWD, path, st, AT_SYMLINK_NOFOLLOW);
}
DEFINE_SYSCALL(262, newfstatat, Result<void>, AtFd dirfd, UserString path, UserPtr<Stat> st, Flags<int> flags) {
  return stat_at(dirfd, path, st, uint32_t(flags.value));
}

DEFINE_SYSCALL(21, access, Result<void>, UserString path, Mode mode) {
  return access_at(AT_CWD, path, mode, 0);
}
DEFINE_SYSCALL(269, faccessat, Result<void>, AtFd dirfd, UserString path, Mode mode) {
  return access_at(dirfd, path, mode, 0);
}
DEFINE_SYSCALL(439, faccessat2, Result<void>, AtFd dirfd, UserString path, Mode mode, Flags<int> flags) {
  return access_at(dirfd, path, mode, uint32_t(flags.value));
}

DEFINE_SYSCALL(76, truncate, Result<void>, UserString path, int64_t length) {
  if (length < 0) return Error::Invalid;
  UserPath p;
  TRY(copy_path(path, p));
  Ctx ctx = user_ctx();
  vfs::Attr a = TRY(vfs::kernel_vfs()->stat(ctx.pc(), p.view(), true));
  if (vfs::type_of_mode(a.mode) == vfs::VType::Dir) return Error::IsDir;
  if (vfs::type_of_mode(a.mode) != vfs::VType::Regular) return Error::Invalid;
  TRY(fsize_grow(a.size, uint64_t(length)));  // RLIMIT_FSIZE
  vfs::SetAttr s;
  s.mask = vfs::SetAttr::SIZE;
  s.size = uint64_t(length);
  return vfs::kernel_vfs()->setattr(ctx.pc(), p.view(), s, true);
}

DEFINE_SYSCALL(77, ftruncate, Result<void>, Fd fd, int64_t length) {
  FileRef fr = TRY(get_file(fd));
  if (length < 0) return Error::Invalid;
  OpenFile& f = *fr;
  if (!f.writable() || !f.vnode().is_regular()) return (f.flags() & OpenFile::PATH) ? Error::BadFd : Error::Invalid;
  TRY(fsize_grow(TRY(f.vnode().getattr()).size, uint64_t(length)));  // RLIMIT_FSIZE
  vfs::SetAttr s;
  s.mask = vfs::SetAttr::SIZE;
  s.size = uint64_t(length);
  vfs::Cred c;  // the set-id bits a truncation clears (fs/vfs/permission.h)
  return f.setattr(s, current_cred(c) ? &c : nullptr);
}

// --- directories and names ---

namespace {
Result<size_t> get_dents(Fd fd, UserPtr<uint8_t> dirp, unsigned count, bool legacy) {
  FileRef fr = TRY(get_file(fd));
  OpenFile& f = *fr;
  if (!f.vnode().is_dir()) return Error::NotDir;
  DirentSink sink(dirp, count > MAX_RW ? MAX_RW : count, legacy);
  auto r = f.readdir(sink);
  if (!r.ok() && !sink.used) return r.error();
  if (sink.fault && !sink.used) return Error::Fault;
  if (sink.full && !sink.used) return Error::Invalid;
  return sink.used;
}
}  // namespace

DEFINE_SYSCALL(217, getdents64, Result<size_t>, Fd fd, UserPtr<uint8_t> dirp, unsigned count) {
  return get_dents(fd, dirp, count, false);
}
DEFINE_SYSCALL(78, getdents, Result<size_t>, Fd fd, UserPtr<uint8_t> dirp, unsigned count) {
  return get_dents(fd, dirp, count, true);
}

DEFINE_SYSCALL(83, mkdir, Result<void>, UserString path, Mode mode) {
  return mkdir_at(AT_CWD, path, mode);
}
DEFINE_SYSCALL(258, mkdirat, Result<void>, AtFd dirfd, UserString path, Mode mode) {
  return mkdir_at(dirfd, path, mode);
}
DEFINE_SYSCALL(84, rmdir, Result<void>, UserString path) {
  return unlink_at(AT_CWD, path, AT_REMOVEDIR);
}
DEFINE_SYSCALL(87, unlink, Result<void>, UserString path) { return unlink_at(AT_CWD, path, 0); }
DEFINE_SYSCALL(263, unlinkat, Result<void>, AtFd dirfd, UserString path, Flags<int> flags) {
  return unlink_at(dirfd, path, uint32_t(flags.value));
}
DEFINE_SYSCALL(82, rename, Result<void>, UserString oldpath, UserString newpath) {
  return rename_at(AT_CWD, oldpath, AT_CWD, newpath, 0);
}
DEFINE_SYSCALL(264, renameat, Result<void>, AtFd olddir, UserString oldpath, AtFd newdir, UserString newpath) {
  return rename_at(olddir, oldpath, newdir, newpath, 0);
}
DEFINE_SYSCALL(316, renameat2, Result<void>, AtFd olddir, UserString oldpath, AtFd newdir, UserString newpath,
               Flags<unsigned> flags) {
  return rename_at(olddir, oldpath, newdir, newpath, flags);
}
DEFINE_SYSCALL(86, link, Result<void>, UserString oldpath, UserString newpath) {
  return link_at(AT_CWD, oldpath, AT_CWD, newpath, 0);
}
DEFINE_SYSCALL(265, linkat, Result<void>, AtFd olddir, UserString oldpath, AtFd newdir, UserString newpath,
               Flags<int> flags) {
  return link_at(olddir, oldpath, newdir, newpath, uint32_t(flags.value));
}
DEFINE_SYSCALL(88, symlink, Result<void>, UserString target, UserString linkpath) {
  return symlink_at(target, AT_CWD, linkpath);
}
DEFINE_SYSCALL(266, symlinkat, Result<void>, UserString target, AtFd dirfd, UserString linkpath) {
  return symlink_at(target, dirfd, linkpath);
}
DEFINE_SYSCALL(89, readlink, Result<size_t>, UserString path, UserPtr<char> buf, int size) {
  return readlink_at(AT_CWD, path, buf, size);
}
DEFINE_SYSCALL(267, readlinkat, Result<size_t>, AtFd dirfd, UserString path, UserPtr<char> buf, int size) {
  return readlink_at(dirfd, path, buf, size);
}

DEFINE_SYSCALL(79, getcwd, Result<size_t>, UserPtr<char> ubuf, size_t size) {
  Ctx ctx = cur_ctx();
  size_t cap = size < vfs::MAX_PATH ? size : vfs::MAX_PATH;
  if (cap == 0) return Error::Range;
  char* buf = new (std::nothrow) char[cap];
  if (!buf) return Error::NoMemory;
  Result<size_t> r = [&]() -> Result<size_t> {
    size_t n = TRY(vfs::kernel_vfs()->path_of(ctx.pc(), *ctx.cwd, buf, cap));
    TRY(ubuf.copy_out(buf, n + 1));
    return n + 1;
  }();
  delete[] buf;
  return r;
}

DEFINE_SYSCALL(80, chdir, Result<void>, UserString path) {
  UserPath p;
  TRY(copy_path(path, p));
  Ctx ctx = user_ctx();
  VnodeRef v = TRY(vfs::kernel_vfs()->resolve(ctx.pc(), p.view(), vfs::WALK_FOLLOW | vfs::WALK_DIRECTORY));
  if (!v->is_dir()) return Error::NotDir;
  TRY(vfs::may_access(ctx.creds(), *v, vfs::MAY_EXEC));  // chdir(2): search permission, EACCES
  set_cwd(static_cast<VnodeRef&&>(v));
  return {};
}

DEFINE_SYSCALL(81, fchdir, Result<void>, Fd fd) {
  FileRef f = TRY(get_file(fd));
  if (!f->vnode().is_dir()) return Error::NotDir;
  Ctx ctx = user_ctx();
  TRY(vfs::may_access(ctx.creds(), f->vnode(), vfs::MAY_EXEC));
  set_cwd(f->vnode_ref());
  return {};
}

// --- descriptors ---

DEFINE_SYSCALL(72, fcntl, Result<int64_t>, Fd fd, unsigned cmd, Hex<unsigned long> arg) {
  FileRef fr = TRY(get_file(fd));
  OpenFile& f = *fr;
  // An O_PATH descriptor answers only the descriptor-level commands
  // (Linux's check_fcntl_cmd): EBADF for the rest.
  if ((f.flags() & OpenFile::PATH) && cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC && cmd != F_GETFD && cmd != F_SETFD &&
      cmd != F_GETFL)
    return Error::BadFd;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int min = int(arg.value);  // an int argument (fcntl(2))
      if (min < 0 || uint64_t(min) >= fds().limit()) return Error::Invalid;
      return TRY(fds().dup_from(fd, min, cmd == F_DUPFD_CLOEXEC));
    }
    case F_GETFD: return TRY(fds().cloexec(fd)) ? 1 : 0;
    case F_SETFD:
      TRY(fds().set_cloexec(fd, arg & 1));
      return 0;
    case F_GETFL: return getfl(f);
    case F_SETFL: {
      uint32_t fl = f.flags() & ~OpenFile::SETTABLE;
      if (arg & O_APPEND) fl |= OpenFile::APPEND;
      if (arg & O_NONBLOCK) fl |= OpenFile::NONBLOCK;
      f.set_flags(fl);
      const uint32_t old = f.abi_flags.load();
      uint32_t keep = old & ~uint32_t(O_ASYNC | O_DIRECT | O_NOATIME);
      // O_ASYNC takes effect when it changes here (as Linux: one given to
      // open is shown by F_GETFL but signals nothing until set again), and
      // sticks only on files that can signal (Linux keeps it only through
      // a fasync operation).
      uint32_t async = old & O_ASYNC;
      if (((old ^ uint32_t(arg)) & O_ASYNC) && async_capable(f)) {
        TRY(async_enable(f, fd.value, arg & O_ASYNC));
        async = uint32_t(arg & O_ASYNC);
      }
      f.abi_flags.store(keep | async | uint32_t(arg & (O_DIRECT | O_NOATIME)));
      return 0;
    }
    case F_SETOWN: TRY(async_set_owner(f, int(arg.value))); return 0;
    case F_GETOWN: return async_owner(f);
    case F_SETSIG: TRY(async_set_signal(f, int(arg.value))); return 0;
    case F_GETSIG: return async_signal(f);
    case F_SETOWN_EX: {
      struct { int32_t type, pid; } ex;
      TRY(UserPtr<uint8_t>(arg.value).copy_in(reinterpret_cast<uint8_t*>(&ex), sizeof ex));
      TRY(async_set_owner_ex(f, ex.type, ex.pid));
      return 0;
    }
    case F_GETOWN_EX: {
      int32_t ex[2];
      async_owner_ex(f, &ex[0], &ex[1]);
      TRY(UserPtr<uint8_t>(arg.value).copy_out(reinterpret_cast<uint8_t*>(ex), sizeof ex));
      return 0;
    }
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ: {
      PipeEnd* end = pipe_end_of(f.vnode());
      if (!end) return Error::BadFd;
      if (cmd == F_GETPIPE_SZ) return int64_t(end->capacity());
      // Above /proc/sys/fs/pipe-max-size only with CAP_SYS_RESOURCE, past
      // pipe-user-pages-soft/-hard only with it or CAP_SYS_ADMIN.
      return int64_t(TRY(end->set_capacity(size_t(uint32_t(arg)), pipe_caller())));
    }
    case F_ADD_SEALS:
    case F_GET_SEALS: return TRY(fcntl_file_seals(f, int(cmd), arg));
    default:
      if (!is_lock_cmd(cmd)) return Error::Invalid;
      TRY(fcntl_record_lock(f, int(cmd), UserPtr<uint8_t>(arg)));
      return 0;
  }
}

DEFINE_SYSCALL(32, dup, Result<Fd>, Fd fd) {
  TRY(get_file(fd));
  return Fd{TRY(fds().dup(fd))};
}

DEFINE_SYSCALL(33, dup2, Result<Fd>, Fd oldfd, Fd newfd) {
  TRY(get_file(oldfd));
  if (newfd < 0) return Error::BadFd;
  if (oldfd != newfd) drop_posix_locks(uint32_t(newfd.value), uint32_t(newfd.value));  // newfd is closed
  return Fd{TRY(fds().dup2(oldfd, newfd))};
}

DEFINE_SYSCALL(292, dup3, Result<Fd>, Fd oldfd, Fd newfd, Flags<int> flags) {
  if (uint32_t(flags.value) & ~O_CLOEXEC) return Error::Invalid;
  if (oldfd == newfd) return Error::Invalid;
  TRY(get_file(oldfd));
  if (newfd < 0) return Error::BadFd;
  drop_posix_locks(uint32_t(newfd.value), uint32_t(newfd.value));
  return Fd{TRY(fds().dup3(oldfd, newfd, flags.any(int(O_CLOEXEC))))};
}

// close_range(2): CLOSE_RANGE_UNSHARE (one fd table per process: nothing
// to unshare) and CLOSE_RANGE_CLOEXEC; EINVAL for other flags or
// first > last.
constexpr uint32_t L_CLOSE_RANGE_UNSHARE = 2, L_CLOSE_RANGE_CLOEXEC = 4;
DEFINE_SYSCALL(436, close_range, Result<void>, unsigned first, unsigned last, Flags<unsigned> flags) {
  if (flags & ~(L_CLOSE_RANGE_UNSHARE | L_CLOSE_RANGE_CLOEXEC)) return Error::Invalid;
  if (first > last) return Error::Invalid;
  if (!flags.any(L_CLOSE_RANGE_CLOEXEC)) drop_posix_locks(first, last);
  return fds().close_range(first, last, flags.any(L_CLOSE_RANGE_CLOEXEC));
}

}  // namespace capsule::linux_abi
