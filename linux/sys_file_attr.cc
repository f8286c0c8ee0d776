// File attributes beyond stat(2) (docs/vfs.md): statx, statfs/fstatfs,
// the chmod, chown and utime families. Each finds the file (a path, a
// descriptor, or a descriptor with AT_EMPTY_PATH) and calls the vnode's
// getattr/setattr; the file system moves ctime on every change.
#include "arch/uaccess.h"
#include "fs/vfs/notify.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;
using vfs::SetAttr;
using vfs::VnodeRef;

constexpr int64_t UTIME_NOW = (1l << 30) - 1, UTIME_OMIT = (1l << 30) - 2;

// The file a call names: `path` from dirfd (following a final symlink if
// `follow`); with `empty_ok` an empty path (or a null one) is dirfd itself
// (AT_EMPTY_PATH; AT_FDCWD: the working directory).
// `where`, if given, gets the directory and name the file was reached by
// (for its directory's inotify watches, fs/vfs/notify.h).
Result<VnodeRef> target(AtFd dirfd, UserString path, bool follow, bool empty_ok, vfs::NotePath* where = nullptr) {
  if (empty_ok && path.is_null()) {
    // Linux 6.11: a null path with AT_EMPTY_PATH means the descriptor.
  } else {
    UserPath p;
    TRY(copy_path(path, p));
    if (p.len || !empty_ok) {
      Ctx ctx = TRY(at_ctx(dirfd, p));
      return vfs::kernel_vfs()->resolve_noted(ctx.pc(), p.view(), follow ? vfs::WALK_FOLLOW : 0,
                                              vfs::notify_active() ? where : nullptr);
    }
  }
  if (dirfd.is_cwd()) return cur_ctx().cwd;
  auto f = get_file(Fd{dirfd.value});
  if (!f.ok()) return Error::BadFd;
  if (where && f.value()->note_path()) *where = *f.value()->note_path();
  return f.value()->vnode_ref();
}

// A descriptor for f*() calls: O_PATH descriptors do not count (EBADF).
Result<VnodeRef> fd_target(Fd fd, vfs::NotePath* where = nullptr) {
  auto f = get_file(fd);
  if (!f.ok() || (f.value()->flags() & OpenFile::PATH)) return Error::BadFd;
  if (where && f.value()->note_path()) *where = *f.value()->note_path();
  return f.value()->vnode_ref();
}
// --- statx ----------------------------------------------------------------

struct StatxTime {
  int64_t sec;
  uint32_t nsec;
  int32_t reserved;
};
struct Statx {  // struct statx (include/uapi/linux/stat.h)
  uint32_t mask, blksize;
  uint64_t attributes;
  uint32_t nlink, uid, gid;
  uint16_t mode, spare0;
  uint64_t ino, size, blocks, attributes_mask;
  StatxTime atime, btime, ctime, mtime;
  uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
  uint64_t mnt_id;
  uint32_t dio_mem_align, dio_offset_align;
  uint64_t spare3[12];
};
static_assert(sizeof(Statx) == 256);

constexpr uint32_t STATX_BASIC_STATS = 0x7ff, STATX_RESERVED = 0x80000000u;
constexpr uint64_t AT_STATX_FORCE_SYNC = 0x2000, AT_STATX_DONT_SYNC = 0x4000;

StatxTime statx_time(int64_t ns) {
  StatxTime t{ns / 1000000000, 0, 0};
  int64_t r = ns % 1000000000;
  if (r < 0) r += 1000000000, --t.sec;
  t.nsec = uint32_t(r);
  return t;
}

Result<void> put_statx(UserPtr<Statx> ubuf, const vfs::Attr& a) {
  Statx sx = {};
  // Every basic field is filled; there is no birth time, mount id or
  // direct-I/O alignment to report, so those bits stay clear (statx(2):
  // the mask says what is valid, whatever was asked).
  sx.mask = STATX_BASIC_STATS;
  sx.blksize = a.blksize;
  sx.nlink = a.nlink;
  sx.uid = a.uid;
  sx.gid = a.gid;
  sx.mode = uint16_t(a.mode);
  sx.ino = a.ino;
  sx.size = a.size;
  sx.blocks = a.blocks;
  sx.atime = statx_time(a.atime_ns);
  sx.mtime = statx_time(a.mtime_ns);
  sx.ctime = statx_time(a.ctime_ns);
  sx.rdev_major = uint32_t(a.rdev >> 32);
  sx.rdev_minor = uint32_t(a.rdev);
  // stat's st_dev carries a.dev as is; split it the way makedev() joins
  // major and minor, so major:minor from statx names the same device.
  sx.dev_major = uint32_t(((a.dev >> 8) & 0xfff) | ((a.dev >> 32) & ~0xfffull));
  sx.dev_minor = uint32_t((a.dev & 0xff) | ((a.dev >> 12) & ~0xffull));
  return ubuf.write(sx);
}

// --- statfs ---------------------------------------------------------------

struct Statfs {  // struct statfs, x86-64
  int64_t type, bsize;
  uint64_t blocks, bfree, bavail, files, ffree;
  int32_t fsid[2];
  int64_t namelen, frsize, flags;
  int64_t spare[4];
};
static_assert(sizeof(Statfs) == 120);

Result<void> put_statfs(UserPtr<Statfs> ubuf, vfs::Vnode& v) {
  vfs::FsStat s = v.fs()->statfs();
  Statfs st = {};
  st.type = int64_t(s.magic);
  st.bsize = st.frsize = int64_t(s.bsize);
  st.blocks = s.blocks;
  st.bfree = s.bfree;
  st.bavail = s.bavail;
  st.files = s.files;
  st.ffree = s.ffree;
  st.fsid[0] = int32_t(v.fs()->dev());
  st.fsid[1] = int32_t(v.fs()->dev() >> 32);
  st.namelen = int64_t(s.namelen);
  st.flags = 0x20;  // ST_VALID: f_flags is meaningful (no mount flags yet)
  return ubuf.write(st);
}

// The caller's credentials for the checks of setattr_checked (nullptr for
// a kernel thread).
struct CallerCred {
  vfs::Cred c;
  bool checked = current_cred(c);
  const vfs::Cred* get() const { return checked ? &c : nullptr; }
};

// --- chmod / chown ----------------------------------------------------------
// The rules (owner, CAP_FOWNER, CAP_CHOWN, CAP_FSETID, the set-id bits a
// change clears) are the VFS's: fs/vfs/permission.cc.

Result<void> do_chmod(vfs::Vnode& v, Mode mode, const vfs::NotePath& where) {
  SetAttr s;
  s.mask = SetAttr::MODE;
  s.mode = mode & 07777;
  return vfs::setattr_noted(CallerCred().get(), v, &where, s);
}

// (uid_t)-1: unchanged
Result<void> do_chown(vfs::Vnode& v, uint32_t uid, uint32_t gid, const vfs::NotePath& where) {
  SetAttr s;
  if (uid != ~0u) s.mask |= SetAttr::UID, s.uid = uid;
  if (gid != ~0u) s.mask |= SetAttr::GID, s.gid = gid;
  if (!s.mask) {
    // chown(-1, -1): allowed to anyone, and still moves ctime, as Linux
    // does; it reports nothing (no owner change for fsnotify).
    vfs::Attr a = TRY(v.getattr());
    s.mask = SetAttr::UID;
    s.uid = a.uid;
    return v.setattr(s);
  }
  return vfs::setattr_noted(CallerCred().get(), v, &where, s);
}

// --- times ----------------------------------------------------------------

struct Timespec {
  int64_t sec, nsec;
};

// times[0] = atime, times[1] = mtime (utimensat(2)); null: both now.
// EINVAL for a nanosecond field out of range (UTIME_NOW/OMIT aside).
Result<void> times_to_setattr(const Timespec* t, SetAttr& s) {
  if (!t) {
    s.mask = SetAttr::ATIME_NOW | SetAttr::MTIME_NOW;
    return {};
  }
  for (int i = 0; i < 2; ++i) {
    if (t[i].nsec == UTIME_OMIT) continue;
    if (t[i].nsec == UTIME_NOW) {
      s.mask |= i ? SetAttr::MTIME_NOW : SetAttr::ATIME_NOW;
      continue;
    }
    if (t[i].nsec < 0 || t[i].nsec > 999999999) return Error::Invalid;
    int64_t ns = t[i].sec * 1000000000 + t[i].nsec;
    if (i) s.mask |= SetAttr::MTIME, s.mtime_ns = ns;
    else s.mask |= SetAttr::ATIME, s.atime_ns = ns;
  }
  return {};
}

Result<void> set_times(vfs::Vnode& v, const Timespec* t, const vfs::NotePath& where) {
  SetAttr s;
  TRY(times_to_setattr(t, s));
  if (!s.mask) return {};  // both UTIME_OMIT: nothing changes, not even ctime
  return vfs::setattr_noted(CallerCred().get(), v, &where, s);
}

Result<void> utimens_at(AtFd dirfd, UserString path, UserPtr<const Timespec> utimes, uint32_t flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Error::Invalid;
  Timespec t[2];
  if (utimes) TRY(utimes.copy_in(t, 2));
  SetAttr check;
  TRY(times_to_setattr(utimes ? t : nullptr, check));
  vfs::NotePath where;
  VnodeRef v;
  if (path.is_null()) {
    // utimensat(2): a null path means dirfd itself (Linux's futimens).
    if (flags & AT_SYMLINK_NOFOLLOW) return Error::Invalid;
    if (dirfd.is_cwd()) return Error::Fault;
    // The descriptor itself, as futimens: an O_PATH one is EBADF.
    if (auto f = get_file(Fd{dirfd.value}); f.ok() && (f.value()->flags() & vfs::OpenFile::PATH)) return Error::BadFd;
    v = TRY(target(dirfd, path, true, true, &where));
  } else {
    v = TRY(target(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH, &where));
  }
  return set_times(*v, utimes ? t : nullptr, where);
}

struct Timeval {
  int64_t sec, usec;
};

// utimes/futimesat: struct timeval[2]; tv_usec must be within a second.
Result<void> utimes_at(AtFd dirfd, UserString path, UserPtr<const Timeval> utv) {
  Timespec t[2];
  if (utv) {
    Timeval tv[2];
    TRY(utv.copy_in(tv, 2));
    for (int i = 0; i < 2; ++i) {
      if (tv[i].usec < 0 || tv[i].usec >= 1000000) return Error::Invalid;
      t[i] = {tv[i].sec, tv[i].usec * 1000};
    }
  }
  // futimesat(dirfd, NULL, ...) is the descriptor itself (Linux's do_utimes).
  bool self = path.is_null() && !dirfd.is_cwd();
  vfs::NotePath where;
  VnodeRef v = TRY(target(dirfd, path, true, self, &where));
  return set_times(*v, utv ? t : nullptr, where);
}

struct Utimbuf {  // struct utimbuf
  int64_t actime, modtime;
};

}  // namespace

DEFINE_SYSCALL(332, statx, Result<void>, AtFd dirfd, UserString path, Flags<unsigned> flags, Flags<unsigned> mask,
               UserPtr<Statx> statxbuf) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC))
    return Error::Invalid;
  // statx(2): FORCE_SYNC and DONT_SYNC together, or a reserved mask bit.
  if ((flags & AT_STATX_FORCE_SYNC) && (flags & AT_STATX_DONT_SYNC)) return Error::Invalid;
  if (mask & STATX_RESERVED) return Error::Invalid;
  VnodeRef v = TRY(target(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH));
  return put_statx(statxbuf, TRY(v->getattr()));
}

DEFINE_SYSCALL(137, statfs, Result<void>, UserString path, UserPtr<Statfs> buf) {
  VnodeRef v = TRY(target(AT_CWD, path, true, false));
  return put_statfs(buf, *v);
}

DEFINE_SYSCALL(138, fstatfs, Result<void>, Fd fd, UserPtr<Statfs> buf) {
  auto f = get_file(fd);  // O_PATH descriptors work here (as Linux)
  if (!f.ok()) return Error::BadFd;
  return put_statfs(buf, f.value()->vnode());
}

DEFINE_SYSCALL(90, chmod, Result<void>, UserString path, Mode mode) {
  vfs::NotePath where;
  VnodeRef v = TRY(target(AT_CWD, path, true, false, &where));
  return do_chmod(*v, mode, where);
}
DEFINE_SYSCALL(91, fchmod, Result<void>, Fd fd, Mode mode) {
  vfs::NotePath where;
  VnodeRef v = TRY(fd_target(fd, &where));
  return do_chmod(*v, mode, where);
}
// fchmodat(2) has no flags argument in the kernel (glibc emulates
// AT_SYMLINK_NOFOLLOW); it always follows.
DEFINE_SYSCALL(268, fchmodat, Result<void>, AtFd dirfd, UserString path, Mode mode) {
  vfs::NotePath where;
  VnodeRef v = TRY(target(dirfd, path, true, false, &where));
  return do_chmod(*v, mode, where);
}

// fchmodat2(2) (Linux 6.6): with flags. AT_SYMLINK_NOFOLLOW on a symlink
// is EOPNOTSUPP (Linux file systems do not keep link modes).
DEFINE_SYSCALL(452, fchmodat2, Result<void>, AtFd dirfd, UserString path, Mode mode, Flags<unsigned> flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Error::Invalid;
  vfs::NotePath where;
  VnodeRef v = TRY(target(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH, &where));
  if (v->is_symlink()) return Error::OpNotSupported;
  return do_chmod(*v, mode, where);
}

DEFINE_SYSCALL(92, chown, Result<void>, UserString path, uint32_t uid, uint32_t gid) {
  vfs::NotePath where;
  VnodeRef v = TRY(target(AT_CWD, path, true, false, &where));
  return do_chown(*v, uid, gid, where);
}
DEFINE_SYSCALL(94, lchown, Result<void>, UserString path, uint32_t uid, uint32_t gid) {
  vfs::NotePath where;
  VnodeRef v = TRY(target(AT_CWD, path, false, false, &where));
  return do_chown(*v, uid, gid, where);
}
DEFINE_SYSCALL(93, fchown, Result<void>, Fd fd, uint32_t uid, uint32_t gid) {
  vfs::NotePath where;
  VnodeRef v = TRY(fd_target(fd, &where));
  return do_chown(*v, uid, gid, where);
}
DEFINE_SYSCALL(260, fchownat, Result<void>, AtFd dirfd, UserString path, uint32_t uid, uint32_t gid, Flags<int> flags) {
  if (flags & ~int(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Error::Invalid;
  vfs::NotePath where;
  VnodeRef v = TRY(target(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH, &where));
  return do_chown(*v, uid, gid, where);
}

DEFINE_SYSCALL(132, utime, Result<void>, UserString path, UserPtr<const Utimbuf> times) {
  Timespec t[2];
  if (times) {
    const Utimbuf b = TRY(times.read());
    t[0] = {b.actime, 0};
    t[1] = {b.modtime, 0};
  }
  vfs::NotePath where;
  VnodeRef v = TRY(target(AT_CWD, path, true, false, &where));
  return set_times(*v, times ? t : nullptr, where);
}
DEFINE_SYSCALL(235, utimes, Result<void>, UserString path, UserPtr<const Timeval> times) {
  return utimes_at(AT_CWD, path, times);
}
DEFINE_SYSCALL(261, futimesat, Result<void>, AtFd dirfd, UserString path, UserPtr<const Timeval> times) {
  return utimes_at(dirfd, path, times);
}
DEFINE_SYSCALL(280, utimensat, Result<void>, AtFd dirfd, UserString path, UserPtr<const Timespec> times,
               Flags<int> flags) {
  return utimens_at(dirfd, path, times, uint32_t(flags.value));
}

}  // namespace capsule::linux_abi
