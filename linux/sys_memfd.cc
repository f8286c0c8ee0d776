// memfd_create(2) and its seals (docs/vfs.md, "memfd"): an anonymous
// regular file in a private ramfs instance that no path reaches, with
// tmpfs's behaviour (read/write/mmap/ftruncate) and the F_SEAL_* rules
// enforced by the ramfs file itself.
#include <new>

#include "arch/uaccess.h"
#include "fs/ramfs/ramfs.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/memfd.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

constexpr uint64_t MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2, MFD_HUGETLB = 4, MFD_NOEXEC_SEAL = 8, MFD_EXEC = 0x10;
constexpr uint64_t F_ADD_SEALS = 1033;
constexpr size_t MEMFD_MAX_NAME = 249;  // NAME_MAX minus "memfd:"
constexpr uint32_t KNOWN_SEALS =
    vfs::SEAL_SEAL | vfs::SEAL_SHRINK | vfs::SEAL_GROW | vfs::SEAL_WRITE | vfs::SEAL_FUTURE_WRITE;

Mutex g_mu;
ramfs::Ramfs* g_fs = nullptr;  // one reference, for the VM's life

Result<ramfs::Ramfs*> memfd_fs() {
  MutexGuard g(g_mu);
  if (!g_fs) {
    auto fs = TRY(ramfs::Ramfs::create());
    g_fs = fs.leak();
  }
  return g_fs;
}

}  // namespace

DEFINE_SYSCALL(319, memfd_create, Result<Fd>, UserString uname, Flags<unsigned> flags) {
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC)) return Error::Invalid;
  if (flags & MFD_HUGETLB) return Error::Invalid;  // no hugetlbfs
  if ((flags & MFD_NOEXEC_SEAL) && (flags & MFD_EXEC)) return Error::Invalid;
  // The name: at most 249 bytes (EINVAL beyond). Linux shows it only in
  // /proc/self/fd and /proc/self/maps ("/memfd:NAME (deleted)"); Capsule's
  // procfs names a file without a name "/... (deleted)" (docs/pseudo-fs.md),
  // so the name is checked, not kept.
  char name[MEMFD_MAX_NAME + 2];
  auto n = uname.copy_in(name, sizeof(name));
  if (!n.ok()) return n.error() == Error::TooBig ? Error::Invalid : Error::Fault;
  if (n.value() > MEMFD_MAX_NAME) return Error::Invalid;
  ramfs::Ramfs* fs = TRY(memfd_fs());
  vfs::CreateArgs a;
  a.mode = vfs::MODE_REGULAR | ((flags & MFD_NOEXEC_SEAL) ? 0666 : 0777);
  a.uid = current_fsuid();
  a.gid = current_fsgid();
  auto v = TRY(fs->create_unlinked(a, flags & (MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL)));
  auto f = TRY(vfs::OpenFile::create(static_cast<vfs::VnodeRef&&>(v), vfs::OpenFile::READ | vfs::OpenFile::WRITE));
  f->abi_flags.store(uint32_t(O_LARGEFILE));
  return install_fd(static_cast<vfs::FileRef&&>(f), flags & MFD_CLOEXEC);
}

Result<int> fcntl_file_seals(vfs::OpenFile& f, int cmd, uint64_t arg) {
  if (cmd == F_ADD_SEALS) {
    if (arg & ~uint64_t(KNOWN_SEALS)) return Error::Invalid;
    auto s = f.vnode().seals();
    if (!s.ok()) return Error::Invalid;  // not a file that takes seals
    if (!f.writable()) return Error::Permission;
    TRY(f.vnode().add_seals(uint32_t(arg)));
    return 0;
  }
  auto s = f.vnode().seals();
  if (!s.ok()) return Error::Invalid;
  return int(s.value());
}

}  // namespace capsule::linux_abi
