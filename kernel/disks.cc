// Disks at boot: --disk settings to block devices to mounted file systems
// (kernel/include/kernel/disks.h, docs/block.md).
#include "kernel/disks.h"

#include <new>

#include "core/shutdown.h"
#include "core/thread.h"
#include "drivers/block.h"
#include "fs/block_cache.h"
#include "arch/power.h"
#include "fs/ext4.h"
#include "fs/overlay.h"
#include "fs/vfs.h"
#include "lib/format.h"
#include "lib/log.h"
#include "linux/procfs.h"

namespace capsule {
namespace {

// A driver's block device as the block layer's BlockIo; `read_only` when
// the command line says so even if the device would take writes.
class DiskIo final : public bcache::BlockIo {
 public:
  DiskIo(block::Device* d, bool read_only) : d_(d), read_only_(read_only || d->read_only()) {}
  uint64_t sectors() const override { return d_->sectors(); }
  bool read_only() const override { return read_only_; }
  Result<void> read(uint64_t sector, void* buf, size_t count) override { return d_->read(sector, buf, count); }
  Result<void> write(uint64_t sector, const void* buf, size_t count) override {
    if (read_only_) return Error::ReadOnly;
    return d_->write(sector, buf, count);
  }
  Result<void> flush() override { return d_->flush(); }
  Result<void> discard(uint64_t sector, uint64_t count) override {
    if (read_only_) return Error::ReadOnly;
    return d_->discard(sector, count);
  }

 private:
  block::Device* d_;
  bool read_only_;
};

block::Device* find_disk(StringView id) {
  for (size_t i = 0; i < block::device_count(); ++i) {
    block::Device* d = block::device(i);
    char ident[24];
    if (d->identity(ident, sizeof ident).ok() && id == StringView(ident)) return d;
  }
  return block::find(id);
}

// mkdir -p in the kernel's namespace.
Result<void> make_dirs(vfs::Vfs& v, const vfs::PathContext& ctx, StringView path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    vfs::CreateArgs args;
    args.mode = vfs::MODE_DIR | 0755;
    auto r = v.mkdir(ctx, path.substr(0, i), args);
    if (!r.ok() && r.error() != Error::Exists) return r.error();
  }
  return {};
}

void mount_one(const DiskSetting& s) {
  block::Device* dev = find_disk(s.id);
  if (!dev) {
    log_warn("disk {}: no such disk", s.id);
    return;
  }
  if (s.mount.empty()) {
    log_info("disk {}: {} ({} MiB), not mounted", s.id, dev->name(), dev->sectors() >> 11);
    return;
  }
  auto* io = new (std::nothrow) DiskIo(dev, s.read_only);
  if (!io) return;
  ext4::MountResult mr;
  if (auto r = ext4::mount(*io, mr); !r.ok()) {
    const char* what = r.error() == Error::BadFormat ? "not an ext2/ext3/ext4 file system"
                       : r.error() == Error::NotSupported ? "ext4 with features this kernel does not read"
                                                          : "unusable";
    log_warn("disk {} ({}): {}: {}; {} is not mounted", s.id, dev->name(), what, mr.note, s.mount);
    delete io;
    return;
  }
  vfs::Vfs* v = vfs::kernel_vfs();
  vfs::VnodeRef root = v->root();
  vfs::PathContext ctx{root.get(), root.get()};
  if (auto r = make_dirs(*v, ctx, s.mount); !r.ok()) {
    log_warn("disk {} ({}): cannot make the mount point {}: {}", s.id, dev->name(), s.mount, error_name(r.error()));
    return;  // the file system (and io) stay: nothing else holds them, a few bytes
  }
  if (auto r = v->mount(mr.fs, ctx, s.mount); !r.ok()) {
    log_warn("disk {} ({}): cannot mount on {}: {}", s.id, dev->name(), s.mount, error_name(r.error()));
    return;
  }
  // /proc/mounts (df, findmnt): "/dev/vda /data ext4 ro 0 0".
  char source[16];
  format_to(source, sizeof source, "/dev/{}", dev->name());
  (void)linux_abi::proc::note_mount_copy(source, s.mount, "ext4", mr.read_only ? "ro,relatime" : "rw,relatime",
                                         mr.fs->dev());
  if (mr.note[0]) log_warn("disk {} ({}) on {}: {}", s.id, dev->name(), s.mount, mr.note);
  log_info("disk {}: {} mounted on {} ({})", s.id, dev->name(), s.mount, mr.read_only ? "read-only" : "read-write");
}

// --root-disk: the disk's ext4, read-only, becomes the lower layer of the
// root union. Without it the program cannot be found: the boot stops.
void mount_root_disk(StringView id) {
  block::Device* dev = find_disk(id);
  if (!dev) {
    kprint("capsule: --root-disk={}: no such disk; stopping\n", id);
    power_off(2);
  }
  auto* io = new (std::nothrow) DiskIo(dev, true);
  if (!io) power_off(2);
  ext4::MountResult mr;
  if (auto r = ext4::mount(*io, mr); !r.ok()) {
    const char* what = r.error() == Error::BadFormat ? "not an ext2/ext3/ext4 file system"
                       : r.error() == Error::NotSupported ? "ext4 with features this kernel does not read"
                                                          : "unusable";
    kprint("capsule: root disk {} ({}): {}: {}; stopping\n", id, dev->name(), what, mr.note);
    power_off(2);
  }
  vfs::Vfs* v = vfs::kernel_vfs();
  vfs::VnodeRef root = v->root();
  if (auto r = overlay::set_lower(*root->fs(), mr.fs->root()); !r.ok()) {
    kprint("capsule: root disk {} ({}): cannot be the root's lower layer: {}; stopping\n", id, dev->name(),
           error_name(r.error()));
    power_off(2);
  }
  char source[16];
  format_to(source, sizeof source, "/dev/{}", dev->name());
  (void)linux_abi::proc::note_mount_copy(source, "/", "ext4", "ro,relatime", mr.fs->dev());
  log_info("disk {}: {} is the root's lower layer (read-only)", id, dev->name());
}

// The flusher: every FLUSH_INTERVAL_NS the pages that overwrites left dirty
// go to the disk and the running journal transaction commits (docs/ext4.md
// "Write-back", "Journal"), so a VM that is killed loses at most that much
// of what no fsync asked for (Linux: 30 s for pages, 5 s for the journal).
constexpr uint64_t FLUSH_INTERVAL_NS = 5'000'000'000ull;

void flusher(void*) {
  for (;;) {
    thread_sleep_ns(FLUSH_INTERVAL_NS);
    ext4::writeback_all();
  }
}

}  // namespace

void disks_mount(const BootSettings& s) {
  if (!s.root_disk.empty()) mount_root_disk(s.root_disk);
  for (size_t i = 0; i < s.disk_count; ++i) mount_one(s.disks[i]);
  if (s.disk_count) {
    // Read-write volumes are marked clean when the program exits, their
    // dirty pages written first.
    shutdown_register([](uint64_t) { ext4::shutdown_all(); });
    if (auto t = thread_create("ext4-flush", flusher, nullptr, ThreadOptions{.detached = true}); !t.ok())
      log_warn("disks: no flusher thread ({}): dirty pages wait for fsync, sync or the exit",
               error_name(t.error()));
  }
}

}  // namespace capsule
