// File attributes beyond stat(2) (docs/vfs.md): statx, statfs/fstatfs,
// the chmod, chown and utime families. Each finds the file (a path, a
// descriptor, or a descriptor with AT_EMPTY_PATH) and calls the vnode's
// getattr/setattr; the file system moves ctime on every change.
#include "arch/uaccess.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;
using vfs::SetAttr;
using vfs::VnodeRef;

constexpr int64_t UTIME_NOW = (1l << 30) - 1, UTIME_OMIT = (1l << 30) - 2;
constexpr uint32_t S_ISUID = 04000, S_ISGID = 02000, S_IXGRP = 010;

// The file a call names: `upath` from dirfd (following a final symlink if
// `follow`); with `empty_ok` an empty path (or a null one) is dirfd itself
// (AT_EMPTY_PATH; AT_FDCWD: the working directory).
int64_t target(int64_t dirfd, uint64_t upath, bool follow, bool empty_ok, VnodeRef& out) {
  if (empty_ok && upath == 0) {
    // Linux 6.11: a null path with AT_EMPTY_PATH means the descriptor.
  } else {
    UserPath p;
    if (int64_t e = get_path(upath, p)) return e;
    if (p.len || !empty_ok) {
      Ctx ctx;
      if (int64_t e = at_ctx(dirfd, p, ctx)) return e;
      auto v = vfs::kernel_vfs()->resolve(ctx.pc(), p.view(), follow ? vfs::WALK_FOLLOW : 0);
      if (!v.ok()) return to_errno(v.error());
      out = static_cast<VnodeRef&&>(v.value());
      return 0;
    }
  }
  if (dirfd == AT_FDCWD) {
    out = cur_ctx().cwd;
    return 0;
  }
  auto f = get_file(uint64_t(dirfd));
  if (!f.ok()) return -kEBADF;
  out = f.value()->vnode_ref();
  return 0;
}

// A descriptor for f*() calls: O_PATH descriptors do not count (EBADF).
int64_t fd_target(uint64_t fd, VnodeRef& out) {
  auto f = get_file(fd);
  if (!f.ok() || (f.value()->flags() & OpenFile::PATH)) return -kEBADF;
  out = f.value()->vnode_ref();
  return 0;
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

int64_t put_statx(uint64_t ubuf, const vfs::Attr& a) {
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
  return copy_to_user(reinterpret_cast<void*>(ubuf), &sx, sizeof(sx)).ok() ? 0 : -kEFAULT;
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

int64_t put_statfs(uint64_t ubuf, vfs::Vnode& v) {
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
  return copy_to_user(reinterpret_cast<void*>(ubuf), &st, sizeof(st)).ok() ? 0 : -kEFAULT;
}

// --- chmod / chown ----------------------------------------------------------

int64_t do_chmod(vfs::Vnode& v, uint64_t mode) {
  SetAttr s;
  s.mask = SetAttr::MODE;
  s.mode = uint32_t(mode) & 07777;
  return ret(v.setattr(s));
}

int64_t do_chown(vfs::Vnode& v, uint64_t uid64, uint64_t gid64) {
  uint32_t uid = uint32_t(uid64), gid = uint32_t(gid64);  // (uid_t)-1: unchanged
  auto a = v.getattr();
  if (!a.ok()) return to_errno(a.error());
  // chown(2): only a privileged process changes the owner; the owner may
  // change the group (to one of its groups: everyone is in every group
  // here, there being one user).
  if (current_fsuid() != 0) {
    if (uid != ~0u && uid != a.value().uid) return -kEPERM;
    if (gid != ~0u && a.value().uid != current_fsuid()) return -kEPERM;
  }
  SetAttr s;
  if (uid != ~0u) s.mask |= SetAttr::UID, s.uid = uid;
  if (gid != ~0u) s.mask |= SetAttr::GID, s.gid = gid;
  // chown(2): a non-directory loses set-user-ID, and set-group-ID when it
  // is group-executable (Linux does this for root too).
  uint32_t mode = a.value().mode;
  if (vfs::type_of_mode(mode) != vfs::VType::Dir && vfs::type_of_mode(mode) != vfs::VType::Symlink) {
    uint32_t kill = S_ISUID | ((mode & S_IXGRP) ? S_ISGID : 0);
    if (mode & kill) s.mask |= SetAttr::MODE, s.mode = (mode & 07777) & ~kill;
  }
  if (!s.mask) {
    s.mask = SetAttr::UID;  // chown(-1, -1) still moves ctime, as Linux does
    s.uid = a.value().uid;
  }
  return ret(v.setattr(s));
}

// --- times ----------------------------------------------------------------

struct Timespec {
  int64_t sec, nsec;
};

// times[0] = atime, times[1] = mtime (utimensat(2)); null: both now.
// EINVAL for a nanosecond field out of range (UTIME_NOW/OMIT aside).
int64_t times_to_setattr(const Timespec* t, SetAttr& s) {
  if (!t) {
    s.mask = SetAttr::ATIME_NOW | SetAttr::MTIME_NOW;
    return 0;
  }
  for (int i = 0; i < 2; ++i) {
    if (t[i].nsec == UTIME_OMIT) continue;
    if (t[i].nsec == UTIME_NOW) {
      s.mask |= i ? SetAttr::MTIME_NOW : SetAttr::ATIME_NOW;
      continue;
    }
    if (t[i].nsec < 0 || t[i].nsec > 999999999) return -kEINVAL;
    int64_t ns = t[i].sec * 1000000000 + t[i].nsec;
    if (i) s.mask |= SetAttr::MTIME, s.mtime_ns = ns;
    else s.mask |= SetAttr::ATIME, s.atime_ns = ns;
  }
  return 0;
}

int64_t set_times(vfs::Vnode& v, const Timespec* t) {
  SetAttr s;
  if (int64_t e = times_to_setattr(t, s)) return e;
  if (!s.mask) return 0;  // both UTIME_OMIT: nothing changes, not even ctime
  return ret(v.setattr(s));
}

int64_t utimens_at(int64_t dirfd, uint64_t upath, uint64_t utimes, uint64_t flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -kEINVAL;
  Timespec t[2];
  if (utimes && !copy_from_user(t, reinterpret_cast<const void*>(utimes), sizeof(t)).ok()) return -kEFAULT;
  SetAttr check;
  if (int64_t e = times_to_setattr(utimes ? t : nullptr, check)) return e;
  VnodeRef v;
  if (upath == 0) {
    // utimensat(2): a null path means dirfd itself (Linux's futimens).
    if (flags & AT_SYMLINK_NOFOLLOW) return -kEINVAL;
    if (dirfd == AT_FDCWD) return -kEFAULT;
    if (int64_t e = target(dirfd, 0, true, true, v)) return e;
  } else if (int64_t e = target(dirfd, upath, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH, v)) {
    return e;
  }
  return set_times(*v, utimes ? t : nullptr);
}

// utimes/futimesat: struct timeval[2]; tv_usec must be within a second.
int64_t utimes_at(int64_t dirfd, uint64_t upath, uint64_t utv) {
  Timespec t[2];
  if (utv) {
    int64_t tv[4];
    if (!copy_from_user(tv, reinterpret_cast<const void*>(utv), sizeof(tv)).ok()) return -kEFAULT;
    for (int i = 0; i < 2; ++i) {
      if (tv[2 * i + 1] < 0 || tv[2 * i + 1] >= 1000000) return -kEINVAL;
      t[i] = {tv[2 * i], tv[2 * i + 1] * 1000};
    }
  }
  VnodeRef v;
  // futimesat(dirfd, NULL, ...) is the descriptor itself (Linux's do_utimes).
  bool self = upath == 0 && dirfd != AT_FDCWD;
  if (int64_t e = target(dirfd, upath, true, self, v)) return e;
  return set_times(*v, utv ? t : nullptr);
}

}  // namespace

LINUX_SYSCALL(332, statx, "fsxxp") {
  int64_t dirfd = int64_t(int32_t(args.a[0]));
  uint64_t flags = args.a[2], mask = args.a[3];
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC))
    return -kEINVAL;
  // statx(2): FORCE_SYNC and DONT_SYNC together, or a reserved mask bit.
  if ((flags & AT_STATX_FORCE_SYNC) && (flags & AT_STATX_DONT_SYNC)) return -kEINVAL;
  if (mask & STATX_RESERVED) return -kEINVAL;
  VnodeRef v;
  if (int64_t e = target(dirfd, args.a[1], !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH, v)) return e;
  auto a = v->getattr();
  return a.ok() ? put_statx(args.a[4], a.value()) : to_errno(a.error());
}

LINUX_SYSCALL(137, statfs, "sp") {
  VnodeRef v;
  if (int64_t e = target(AT_FDCWD, args.a[0], true, false, v)) return e;
  return put_statfs(args.a[1], *v);
}

LINUX_SYSCALL(138, fstatfs, "fp") {
  auto f = get_file(args.a[0]);  // O_PATH descriptors work here (as Linux)
  if (!f.ok()) return -kEBADF;
  return put_statfs(args.a[1], f.value()->vnode());
}

LINUX_SYSCALL(90, chmod, "so") {
  VnodeRef v;
  if (int64_t e = target(AT_FDCWD, args.a[0], true, false, v)) return e;
  return do_chmod(*v, args.a[1]);
}
LINUX_SYSCALL(91, fchmod, "fo") {
  VnodeRef v;
  if (int64_t e = fd_target(args.a[0], v)) return e;
  return do_chmod(*v, args.a[1]);
}
// fchmodat(2) has no flags argument in the kernel (glibc emulates
// AT_SYMLINK_NOFOLLOW); it always follows.
LINUX_SYSCALL(268, fchmodat, "fso") {
  VnodeRef v;
  if (int64_t e = target(int64_t(int32_t(args.a[0])), args.a[1], true, false, v)) return e;
  return do_chmod(*v, args.a[2]);
}

// fchmodat2(2) (Linux 6.6): with flags. AT_SYMLINK_NOFOLLOW on a symlink
// is EOPNOTSUPP (Linux file systems do not keep link modes).
LINUX_SYSCALL(452, fchmodat2, "fsox") {
  uint64_t flags = args.a[3];
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -kEINVAL;
  VnodeRef v;
  if (int64_t e = target(int64_t(int32_t(args.a[0])), args.a[1], !(flags & AT_SYMLINK_NOFOLLOW),
                         flags & AT_EMPTY_PATH, v))
    return e;
  if (v->is_symlink()) return -kEOPNOTSUPP;
  return do_chmod(*v, args.a[2]);
}

LINUX_SYSCALL(92, chown, "sdd") {
  VnodeRef v;
  if (int64_t e = target(AT_FDCWD, args.a[0], true, false, v)) return e;
  return do_chown(*v, args.a[1], args.a[2]);
}
LINUX_SYSCALL(94, lchown, "sdd") {
  VnodeRef v;
  if (int64_t e = target(AT_FDCWD, args.a[0], false, false, v)) return e;
  return do_chown(*v, args.a[1], args.a[2]);
}
LINUX_SYSCALL(93, fchown, "fdd") {
  VnodeRef v;
  if (int64_t e = fd_target(args.a[0], v)) return e;
  return do_chown(*v, args.a[1], args.a[2]);
}
LINUX_SYSCALL(260, fchownat, "fsddx") {
  uint64_t flags = args.a[4];
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -kEINVAL;
  VnodeRef v;
  if (int64_t e = target(int64_t(int32_t(args.a[0])), args.a[1], !(flags & AT_SYMLINK_NOFOLLOW),
                         flags & AT_EMPTY_PATH, v))
    return e;
  return do_chown(*v, args.a[2], args.a[3]);
}

LINUX_SYSCALL(132, utime, "sp") {
  Timespec t[2];
  if (args.a[1]) {
    int64_t b[2];  // struct utimbuf: actime, modtime
    if (!copy_from_user(b, reinterpret_cast<const void*>(args.a[1]), sizeof(b)).ok()) return -kEFAULT;
    t[0] = {b[0], 0};
    t[1] = {b[1], 0};
  }
  VnodeRef v;
  if (int64_t e = target(AT_FDCWD, args.a[0], true, false, v)) return e;
  return set_times(*v, args.a[1] ? t : nullptr);
}
LINUX_SYSCALL(235, utimes, "sp") { return utimes_at(AT_FDCWD, args.a[0], args.a[1]); }
LINUX_SYSCALL(261, futimesat, "fsp") { return utimes_at(int64_t(int32_t(args.a[0])), args.a[1], args.a[2]); }
LINUX_SYSCALL(280, utimensat, "fspx") {
  return utimens_at(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3]);
}

}  // namespace capsule::linux_abi
