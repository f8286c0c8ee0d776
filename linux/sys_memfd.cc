// memfd_create(2) and its seals (docs/vfs.md, "memfd"): an anonymous
// regular file in a private ramfs instance that no path reaches, with
// tmpfs's behaviour (read/write/mmap/ftruncate) and the F_SEAL_* rules
// enforced by the ramfs file itself. The same instance holds the objects
// behind shared anonymous memory (mmap MAP_SHARED|MAP_ANONYMOUS and shared
// mappings of /dev/zero: Linux's shmem_zero_setup).
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
  // The name: at most 249 bytes (EINVAL beyond). Linux shows it in
  // /proc/self/fd and /proc/self/maps as "/memfd:NAME (deleted)".
  char name[MEMFD_MAX_NAME + 2 + 6] = "memfd:";
  auto n = uname.copy_in(name + 6, MEMFD_MAX_NAME + 2);
  if (!n.ok()) return n.error() == Error::TooBig ? Error::Invalid : Error::Fault;
  if (n.value() > MEMFD_MAX_NAME) return Error::Invalid;
  ramfs::Ramfs* fs = TRY(memfd_fs());
  vfs::CreateArgs a;
  a.mode = vfs::MODE_REGULAR | ((flags & MFD_NOEXEC_SEAL) ? 0666 : 0777);
  a.uid = current_fsuid();
  a.gid = current_fsgid();
  auto v = TRY(fs->create_unlinked(a, flags & (MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL)));
  TRY(fs->set_name_tag(*v, StringView(name, 6 + n.value())));
  auto f = TRY(vfs::OpenFile::create(static_cast<vfs::VnodeRef&&>(v), vfs::OpenFile::READ | vfs::OpenFile::WRITE));
  f->abi_flags.store(uint32_t(O_LARGEFILE));
  return install_fd(static_cast<vfs::FileRef&&>(f), flags & MFD_CLOEXEC);
}

Result<vfs::VnodeRef> shared_anon_object(uint64_t size) {
  ramfs::Ramfs* fs = TRY(memfd_fs());
  vfs::CreateArgs a;
  a.mode = vfs::MODE_REGULAR | 0777;
  a.uid = current_fsuid();
  a.gid = current_fsgid();
  auto v = TRY(fs->create_unlinked(a, false));
  TRY(fs->set_name_tag(*v, "dev/zero"));
  TRY(v->truncate(size));
  return v;
}

StringView anon_file_tag(vfs::Vnode& v) {
  ramfs::Ramfs* fs;
  {
    MutexGuard g(g_mu);
    fs = g_fs;
  }
  if (!fs || v.fs() != fs) return {};
  return fs->name_tag(v);
}

Result<int> fcntl_file_seals(vfs::OpenFile& f, int cmd, uint64_t arg) {
  if (cmd == F_ADD_SEALS) {
    if (arg & ~uint64_t(KNOWN_SEALS)) return Error::Invalid;
    auto s = f.vnode().seals();
    if (!s.ok()) return Error::Invalid;  // not a file that takes seals
    if (!f.writable()) return Error::Permission;
    // F_SEAL_WRITE while a shared mapping could write: EBUSY (Linux counts
    // the VM_SHARED mappings that may become writable, read-only ones
    // through a writable descriptor included). Not atomic with a
    // concurrent mmap of another thread, which Linux's is.
    if ((arg & vfs::SEAL_WRITE) && f.vnode().vm_writable_maps.load(std::memory_order_acquire))
      return Error::Busy;
    TRY(f.vnode().add_seals(uint32_t(arg)));
    return 0;
  }
  auto s = f.vnode().seals();
  if (!s.ok()) return Error::Invalid;
  return int(s.value());
}

}  // namespace capsule::linux_abi
