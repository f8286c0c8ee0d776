// devfs at boot (fs/devfs/devfs.h): the standard /dev tree in a ramfs of its
// own, mounted on /dev, and a tmpfs on /dev/shm.
#include "fs/devfs/devfs.h"

#include "fs/ramfs/ramfs.h"

namespace capsule::devfs {
namespace {

using vfs::CreateArgs;

struct Node {
  const char* name;
  uint32_t mode;
  uint64_t rdev;
  const char* target;  // symlinks
};

// As a Linux system with devtmpfs and udev presents them. /dev/ptmx opens
// a new pseudo-terminal (linux/pty_file.cc); devpts is mounted on /dev/pts.
constexpr Node NODES[] = {
    {"null", vfs::MODE_CHAR | 0666, DEV_NULL, nullptr},
    {"zero", vfs::MODE_CHAR | 0666, DEV_ZERO, nullptr},
    {"full", vfs::MODE_CHAR | 0666, DEV_FULL, nullptr},
    {"random", vfs::MODE_CHAR | 0666, DEV_RANDOM, nullptr},
    {"urandom", vfs::MODE_CHAR | 0666, DEV_URANDOM, nullptr},
    {"tty", vfs::MODE_CHAR | 0666, DEV_TTY, nullptr},
    {"console", vfs::MODE_CHAR | 0620, DEV_CONSOLE, nullptr},
    {"ptmx", vfs::MODE_CHAR | 0666, DEV_PTMX, nullptr},
    {"stdin", vfs::MODE_SYMLINK | 0777, 0, "/proc/self/fd/0"},
    {"stdout", vfs::MODE_SYMLINK | 0777, 0, "/proc/self/fd/1"},
    {"stderr", vfs::MODE_SYMLINK | 0777, 0, "/proc/self/fd/2"},
    {"fd", vfs::MODE_SYMLINK | 0777, 0, "/proc/self/fd"},
    {"shm", vfs::MODE_DIR | 01777, 0, nullptr},
    {"pts", vfs::MODE_DIR | 0755, 0, nullptr},
};

}  // namespace

Result<vfs::FsRef> create() {
  TRY(register_memory_devices());
  ramfs::Options o;
  o.root_mode = 0755;
  RefPtr<ramfs::Ramfs> fs = TRY(ramfs::Ramfs::create(o));
  vfs::VnodeRef root = fs->root();
  for (const Node& n : NODES) {
    CreateArgs a;
    a.mode = n.mode;
    a.rdev = n.rdev;
    vfs::VType t = vfs::type_of_mode(n.mode);
    Result<vfs::VnodeRef> r = t == vfs::VType::Dir       ? root->mkdir(n.name, a)
                              : t == vfs::VType::Symlink ? root->symlink(n.name, n.target, a)
                                                         : root->create(n.name, a);
    if (!r.ok()) {
      fs->shutdown();
      return r.error();
    }
  }
  return vfs::FsRef(fs.get());
}

Result<void> mount_boot(vfs::Vfs& v, const vfs::PathContext& pc) {
  CreateArgs d;
  d.mode = vfs::MODE_DIR | 0755;
  if (auto r = v.mkdir(pc, "/dev", d); !r.ok() && r.error() != Error::Exists) return r.error();
  vfs::FsRef dev = TRY(create());
  TRY(v.mount(dev, pc, "/dev"));
  ramfs::Options o;
  o.root_mode = 01777;
  o.max_pages = ramfs::Ramfs::default_max_pages();  // tmpfs's default size
  RefPtr<ramfs::Ramfs> shm = TRY(ramfs::Ramfs::create(o));
  TRY(v.mount(vfs::FsRef(shm.get()), pc, "/dev/shm"));
  return {};
}

}  // namespace capsule::devfs
