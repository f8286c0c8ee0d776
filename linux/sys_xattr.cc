// Extended attributes (docs/vfs.md "Extended attributes"): setxattr,
// getxattr, listxattr, removexattr, each with an l- form (the last symlink
// is not followed) and an f- form (a descriptor; O_PATH ones are EBADF, as
// on Linux 6.18). The adapter copies names and values and applies Linux's
// limits and namespace checks (fs/vfs/xattr.h); the vnode stores.
//
// Errors as Linux: bad flags EINVAL; an empty or over-long name (more than
// 255 bytes) ERANGE; a value over 64 KiB E2BIG; a bad pointer EFAULT; an
// unknown namespace EOPNOTSUPP; user.* on a file neither regular nor a
// directory EPERM (set, remove) or ENODATA (get); get with a buffer too
// small ERANGE (size 0 asks for the size); a list over 64 KiB that does not
// fit E2BIG.
#include "arch/uaccess.h"
#include "core/mm.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

using vfs::OpenFile;
using vfs::VnodeRef;
using vfs::MAX_XATTR_LIST;
using vfs::MAX_XATTR_NAME;
using vfs::MAX_XATTR_SIZE;

constexpr int XATTR_CREATE = 1, XATTR_REPLACE = 2;

// A name copied from the application: ERANGE when empty or longer than
// MAX_XATTR_NAME, EFAULT for a bad pointer.
struct Name {
  char buf[MAX_XATTR_NAME + 1];
  size_t len = 0;
  StringView view() const { return {buf, len}; }
};
Result<void> copy_name(UserString name, Name& n) {
  auto r = name.copy_in(n.buf, sizeof n.buf);
  if (!r.ok()) return r.error() == Error::TooBig ? Error::Range : r.error();
  if (r.value() == 0) return Error::Range;
  n.len = r.value();
  return {};
}

// A kernel buffer of up to 64 KiB (the heap: kernel stacks are small).
struct KBuf {
  uint8_t* p = nullptr;
  explicit KBuf(size_t n) {
    if (n) p = static_cast<uint8_t*>(kmalloc(n));
  }
  ~KBuf() {
    if (p) kfree(p);
  }
  KBuf(const KBuf&) = delete;
  KBuf& operator=(const KBuf&) = delete;
};

// The file a path call names (follow: the plain form; not: the l- form).
Result<VnodeRef> path_target(UserString path, bool follow) {
  UserPath p;
  TRY(copy_path(path, p));
  Ctx ctx = user_ctx();
  return vfs::kernel_vfs()->resolve(ctx.pc(), p.view(), follow ? vfs::WALK_FOLLOW : 0);
}

// The f- forms: O_PATH descriptors do not count (EBADF).
Result<VnodeRef> fd_target(Fd fd) {
  auto f = get_file(fd);
  if (!f.ok() || (f.value()->flags() & OpenFile::PATH)) return Error::BadFd;
  return f.value()->vnode_ref();
}

// --- set -------------------------------------------------------------------

// What set needs from the application, copied before the file is looked
// up (Linux's order: flags, name, value, then the path).
struct SetArgs {
  Name name;
  KBuf value;
  size_t size;
  int flags;
  SetArgs(size_t n, int f) : value(n <= MAX_XATTR_SIZE ? n : 0), size(n), flags(f) {}
};

Result<void> copy_set_args(UserString name, UserBytes value, SetArgs& a) {
  if (a.flags & ~(XATTR_CREATE | XATTR_REPLACE)) return Error::Invalid;
  TRY(copy_name(name, a.name));
  if (a.size > MAX_XATTR_SIZE) return Error::TooBig;
  if (a.size) {
    if (!a.value.p) return Error::NoMemory;
    TRY(copy_from_user(a.value.p, value.ptr.unsafe_get(), a.size));
  }
  return {};
}

Result<void> do_set(vfs::Vnode& v, const SetArgs& a) {
  TRY(vfs::xattr_check(a.name.view(), v.type(), true, current_capable(L_CAP_SYS_ADMIN)));
  if ((a.flags & XATTR_CREATE) && (a.flags & XATTR_REPLACE)) {
    // Both: Exists when the name is there, NoData when it is not.
    TRY(v.getxattr(a.name.view(), nullptr, 0));
    return Error::Exists;
  }
  vfs::XattrSet how = (a.flags & XATTR_CREATE)    ? vfs::XattrSet::Create
                      : (a.flags & XATTR_REPLACE) ? vfs::XattrSet::Replace
                                                  : vfs::XattrSet::Any;
  return v.setxattr(a.name.view(), a.value.p, a.size, how);
}

Result<void> set_path(UserString path, UserString name, UserBytes value, size_t size, int flags, bool follow) {
  SetArgs a(size, flags);
  TRY(copy_set_args(name, value, a));
  VnodeRef v = TRY(path_target(path, follow));
  return do_set(*v, a);
}

// --- get -------------------------------------------------------------------

Result<size_t> do_get(vfs::Vnode& v, const Name& name, UserPtr<uint8_t> value, size_t size) {
  TRY(vfs::xattr_check(name.view(), v.type(), false, current_capable(L_CAP_SYS_ADMIN)));
  if (size > MAX_XATTR_SIZE) size = MAX_XATTR_SIZE;
  if (size == 0) return v.getxattr(name.view(), nullptr, 0);
  KBuf buf(size);
  if (!buf.p) return Error::NoMemory;
  size_t n = TRY(v.getxattr(name.view(), buf.p, size));
  if (n) TRY(copy_to_user(value.unsafe_get(), buf.p, n));
  return n;
}

Result<size_t> get_path(UserString path, UserString name, UserPtr<uint8_t> value, size_t size, bool follow) {
  Name n;
  TRY(copy_name(name, n));
  VnodeRef v = TRY(path_target(path, follow));
  return do_get(*v, n, value, size);
}

// --- list ------------------------------------------------------------------

Result<size_t> do_list(vfs::Vnode& v, UserPtr<uint8_t> list, size_t size) {
  bool trusted = current_capable(L_CAP_SYS_ADMIN);
  if (size == 0) return v.listxattr(nullptr, 0, trusted);
  size_t cap = size > MAX_XATTR_LIST ? MAX_XATTR_LIST : size;
  KBuf buf(cap);
  if (!buf.p) return Error::NoMemory;
  auto r = v.listxattr(reinterpret_cast<char*>(buf.p), cap, trusted);
  if (!r.ok()) return r.error() == Error::Range && size >= MAX_XATTR_LIST ? Error::TooBig : r.error();
  if (r.value()) TRY(copy_to_user(list.unsafe_get(), buf.p, r.value()));
  return r.value();
}

Result<size_t> list_path(UserString path, UserPtr<uint8_t> list, size_t size, bool follow) {
  VnodeRef v = TRY(path_target(path, follow));
  return do_list(*v, list, size);
}

// --- remove ----------------------------------------------------------------

Result<void> do_remove(vfs::Vnode& v, const Name& name) {
  TRY(vfs::xattr_check(name.view(), v.type(), true, current_capable(L_CAP_SYS_ADMIN)));
  return v.removexattr(name.view());
}

Result<void> remove_path(UserString path, UserString name, bool follow) {
  Name n;
  TRY(copy_name(name, n));
  VnodeRef v = TRY(path_target(path, follow));
  return do_remove(*v, n);
}

}  // namespace

DEFINE_SYSCALL(188, setxattr, Result<void>, UserString path, UserString name, UserBytes value, size_t size,
               Flags<int> flags) {
  return set_path(path, name, value, size, flags.value, true);
}
DEFINE_SYSCALL(189, lsetxattr, Result<void>, UserString path, UserString name, UserBytes value, size_t size,
               Flags<int> flags) {
  return set_path(path, name, value, size, flags.value, false);
}
DEFINE_SYSCALL(190, fsetxattr, Result<void>, Fd fd, UserString name, UserBytes value, size_t size, Flags<int> flags) {
  SetArgs a(size, flags.value);
  TRY(copy_set_args(name, value, a));
  VnodeRef v = TRY(fd_target(fd));
  return do_set(*v, a);
}

DEFINE_SYSCALL(191, getxattr, Result<size_t>, UserString path, UserString name, UserPtr<uint8_t> value,
               size_t size) {
  return get_path(path, name, value, size, true);
}
DEFINE_SYSCALL(192, lgetxattr, Result<size_t>, UserString path, UserString name, UserPtr<uint8_t> value,
               size_t size) {
  return get_path(path, name, value, size, false);
}
DEFINE_SYSCALL(193, fgetxattr, Result<size_t>, Fd fd, UserString name, UserPtr<uint8_t> value, size_t size) {
  Name n;
  TRY(copy_name(name, n));
  VnodeRef v = TRY(fd_target(fd));
  return do_get(*v, n, value, size);
}

DEFINE_SYSCALL(194, listxattr, Result<size_t>, UserString path, UserPtr<uint8_t> list, size_t size) {
  return list_path(path, list, size, true);
}
DEFINE_SYSCALL(195, llistxattr, Result<size_t>, UserString path, UserPtr<uint8_t> list, size_t size) {
  return list_path(path, list, size, false);
}
DEFINE_SYSCALL(196, flistxattr, Result<size_t>, Fd fd, UserPtr<uint8_t> list, size_t size) {
  VnodeRef v = TRY(fd_target(fd));
  return do_list(*v, list, size);
}

DEFINE_SYSCALL(197, removexattr, Result<void>, UserString path, UserString name) {
  return remove_path(path, name, true);
}
DEFINE_SYSCALL(198, lremovexattr, Result<void>, UserString path, UserString name) {
  return remove_path(path, name, false);
}
DEFINE_SYSCALL(199, fremovexattr, Result<void>, Fd fd, UserString name) {
  Name n;
  TRY(copy_name(name, n));
  VnodeRef v = TRY(fd_target(fd));
  return do_remove(*v, n);
}

}  // namespace capsule::linux_abi
