// mount(2) and umount2(2) for the file systems a program can make: tmpfs and
// ramfs (a fresh in-memory file system each time, options mode= and size=).
// Propagation changes (MS_PRIVATE, MS_SLAVE, ... — what container tools do
// to "/") and MS_REMOUNT of a mount point succeed with nothing to change:
// there is one namespace and no mount flags to enforce. Bind and move
// mounts and the pseudo file systems (already mounted at boot) are refused
// with EINVAL and ENODEV. docs/vfs.md.
#include <new>

#include "arch/uaccess.h"
#include "fs/ramfs/ramfs.h"
#include "linux/file_common.h"
#include "linux/procfs.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

constexpr uint64_t MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REMOUNT = 32, MS_BIND = 4096,
                   MS_MOVE = 8192, MS_REC = 16384, MS_UNBINDABLE = 1 << 17, MS_PRIVATE = 1 << 18,
                   MS_SLAVE = 1 << 19, MS_SHARED = 1 << 20, MS_MGC_MSK = 0xffff0000, MS_MGC_VAL = 0xc0ed0000;
constexpr uint64_t PROPAGATION = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;
constexpr uint64_t MNT_FORCE = 1, MNT_DETACH = 2, MNT_EXPIRE = 4, UMOUNT_NOFOLLOW = 8;
constexpr size_t MAX_DATA = 4096;  // one page of options, as Linux copies

// A small user string (fstype, source): its length, Error::Fault, or
// Error::Invalid when too long for what it names.
Result<size_t> get_small(UserString u, char* out, size_t cap) {
  auto n = u.copy_in(out, cap);
  if (!n.ok()) return n.error() == Error::TooBig ? Error::Invalid : Error::Fault;
  return n;
}

// "mode=1777,size=64m,nr_inodes=...": what a tmpfs takes; unknown options
// are EINVAL as Linux's tmpfs says.
Result<void> parse_tmpfs_options(StringView data, ramfs::Options& o) {
  o.root_mode = 01777;
  while (!data.empty()) {
    size_t comma = 0;
    while (comma < data.size() && data[comma] != ',') ++comma;
    StringView opt = data.substr(0, comma);
    data = comma < data.size() ? data.substr(comma + 1) : StringView();
    if (opt.empty()) continue;
    size_t eq = 0;
    while (eq < opt.size() && opt[eq] != '=') ++eq;
    StringView key = opt.substr(0, eq), val = eq < opt.size() ? opt.substr(eq + 1) : StringView();
    uint64_t num = 0;
    size_t i = 0;
    bool octal = key == "mode";
    for (; i < val.size() && val[i] >= '0' && val[i] <= '9'; ++i) num = num * (octal ? 8 : 10) + uint64_t(val[i] - '0');
    StringView suffix = val.substr(i);
    if (key == "mode") {
      if (val.empty() || !suffix.empty() || num > 07777) return Error::Invalid;
      o.root_mode = uint32_t(num);
    } else if (key == "size") {
      uint64_t shift = 0;
      if (suffix == "k" || suffix == "K") shift = 10;
      else if (suffix == "m" || suffix == "M") shift = 20;
      else if (suffix == "g" || suffix == "G") shift = 30;
      else if (suffix != "%" && !suffix.empty()) return Error::Invalid;
      if (val.empty() || suffix.size() == val.size()) return Error::Invalid;
      if (suffix == "%") {
        if (num > 100) return Error::Invalid;  // tmpfs: at most all of RAM
        o.max_pages = vfs::fs_total_pages() * num / 100;
      } else {
        o.max_pages = ((num << shift) + 4095) / 4096;
      }
      // size=0: no limit (tmpfs); a percentage rounds up to a page.
      if (o.max_pages == 0 && suffix == "%" && num) o.max_pages = 1;
    } else if (key == "uid" || key == "gid") {
      if (val.empty() || !suffix.empty()) return Error::Invalid;
      (key == "uid" ? o.uid : o.gid) = uint32_t(num);
    } else if (key == "nr_inodes" || key == "huge" || key == "mpol" || key == "inode64" || key == "noswap") {
      // accepted, nothing to enforce
    } else {
      return Error::Invalid;
    }
  }
  return {};
}

// The root of a mount: the walk to its ".." leaves its file system (or it
// is the namespace's root).
bool is_mount_point(const Ctx& ctx, vfs::Vnode& v) {
  if (&v == ctx.root.get()) return true;
  auto dir = vfs::kernel_vfs()->resolve(vfs::PathContext{ctx.root.get(), &v}, "..", vfs::WALK_FOLLOW);
  return dir.ok() && dir.value()->fs() != v.fs();
}

// The absolute path of directory `v` (for /proc/mounts) in `out`, a
// MAX_PATH heap buffer; its length, or 0 when it has none.
size_t abs_path(const Ctx& ctx, vfs::Vnode& v, char* out) {
  auto len = vfs::kernel_vfs()->path_of(ctx.pc(), v, out, vfs::MAX_PATH);
  return len.ok() ? len.value() : 0;
}

}  // namespace

// A heap buffer for the call (kernel stacks are small).
struct CallChars {
  char* p = nullptr;
  ~CallChars() { delete[] p; }
};

DEFINE_SYSCALL(165, mount, Result<void>, UserString source_arg, UserString target_arg, UserString fstype,
               Flags<uint64_t> flags_arg, UserString data_arg) {
  uint64_t flags = flags_arg;
  if ((flags & MS_MGC_MSK) == MS_MGC_VAL) flags &= ~MS_MGC_MSK;  // the old magic
  UserPath target;
  TRY(copy_path(target_arg, target));
  Ctx ctx = cur_ctx();
  vfs::VnodeRef tv = TRY(vfs::kernel_vfs()->resolve(ctx.pc(), target.view(), vfs::WALK_FOLLOW));
  if (flags & PROPAGATION) {
    if (flags & ~(PROPAGATION | MS_REC)) return Error::Invalid;
    return {};
  }
  if (flags & MS_REMOUNT) return is_mount_point(ctx, *tv) ? Result<void>() : Error::Invalid;
  if (flags & (MS_BIND | MS_MOVE)) return Error::Invalid;
  if (!tv->is_dir()) return Error::NotDir;
  char type[32];
  auto n = get_small(fstype, type, sizeof(type));
  if (!n.ok()) return n.error() == Error::Invalid ? Error::NoDevice : n.error();
  StringView t(type, n.value());
  if (t != "tmpfs" && t != "ramfs") return Error::NoDevice;
  char source[256] = "none";
  size_t slen = 4;
  if (!source_arg.is_null()) slen = TRY(get_small(source_arg, source, sizeof(source)));
  CallChars data;
  size_t dlen = 0;
  if (!data_arg.is_null()) {
    data.p = new (std::nothrow) char[MAX_DATA];
    if (!data.p) return Error::NoMemory;
    auto d = data_arg.copy_in(data.p, MAX_DATA);
    if (!d.ok() && d.error() != Error::TooBig) return Error::Fault;
    dlen = d.ok() ? d.value() : MAX_DATA - 1;
  }
  ramfs::Options o;
  // tmpfs: half of RAM unless size= says otherwise; ramfs: no limit.
  if (t == "tmpfs") o.max_pages = ramfs::Ramfs::default_max_pages();
  if (t == "tmpfs") TRY(parse_tmpfs_options(StringView(data.p ? data.p : "", dlen), o));
  if (t == "ramfs") o.root_mode = 0755;
  auto fs = TRY(ramfs::Ramfs::create(o));
  vfs::FsRef ref(fs.get());
  uint64_t dev = ref->dev();
  TRY(vfs::kernel_vfs()->mount(ref, ctx.pc(), target.view()));
  // /proc/mounts names the mount point as an absolute path.
  UserPath abs;
  abs.buf = new (std::nothrow) char[vfs::MAX_PATH];
  abs.len = abs.buf ? abs_path(ctx, *tv, abs.buf) : 0;
  const char* opts = flags & MS_RDONLY ? "ro" : "rw";
  (void)proc::note_mount_copy(StringView(source, slen), abs.len ? abs.view() : target.view(),
                              t == "tmpfs" ? "tmpfs" : "ramfs", opts, dev);
  (void)MS_NOSUID, (void)MS_NODEV, (void)MS_NOEXEC;
  return {};
}

DEFINE_SYSCALL(166, umount2, Result<void>, UserString target_arg, Flags<int> flags) {
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return Error::Invalid;
  if ((flags & MNT_EXPIRE) && (flags & (MNT_FORCE | MNT_DETACH))) return Error::Invalid;
  UserPath target;
  TRY(copy_path(target_arg, target));
  Ctx ctx = cur_ctx();
  UserPath abs;
  abs.buf = new (std::nothrow) char[vfs::MAX_PATH];
  if (!abs.buf) return Error::NoMemory;
  if (auto v = vfs::kernel_vfs()->resolve(ctx.pc(), target.view(), vfs::WALK_FOLLOW); v.ok())
    abs.len = abs_path(ctx, *v.value(), abs.buf);
  TRY(vfs::kernel_vfs()->unmount(ctx.pc(), target.view()));
  proc::forget_mount(abs.len ? abs.view() : target.view());
  return {};
}

}  // namespace capsule::linux_abi
