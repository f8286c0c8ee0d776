// The root file system at boot: a ramfs filled from the initrd, mounted as
// "/" of the kernel's namespace. Kernel only (the host tests build their
// own Vfs).
#include "lib/log.h"
#include "fs/ramfs/ramfs.h"

namespace capsule::ramfs {

Result<void> mount_boot_root(const uint8_t* data, size_t size, RootWrap wrap) {
  RefPtr<Ramfs> fs = TRY(Ramfs::create());
  if (data && size) {
    PopulateError err;
    PopulateStats stats;
    if (auto r = populate(*fs, data, size, &err, &stats); !r.ok()) {
      kprint("{}\n", err);
      fs->shutdown();
      return r.error();
    }
    log_info("rootfs: ramfs from the initrd ({} entries, {} KiB): {} files, {} directories, {} symlinks, "
             "{} KiB served in place",
             stats.entries, size / 1024, stats.files, stats.dirs, stats.symlinks, stats.bytes / 1024);
  }
  auto* vfs = new (std::nothrow) vfs::Vfs();
  if (!vfs) return Error::NoMemory;
  vfs::FsRef root_fs(fs.get());
  if (wrap) {
    auto w = wrap(fs);
    if (!w.ok()) {
      delete vfs;
      return w.error();
    }
    root_fs = w.value();
  }
  if (auto r = vfs->mount_root(root_fs); !r.ok()) {
    delete vfs;
    return r.error();
  }
  vfs::set_kernel_vfs(vfs);
  return {};
}

}  // namespace capsule::ramfs
