// Host directories at boot (kernel/include/kernel/shares.h).
#include "kernel/shares.h"

#include "arch/power.h"
#include "drivers/fuse_channel.h"
#include "drivers/p9_channel.h"
#include "fs/fuse.h"
#include "fs/p9.h"
#include "fs/vfs.h"
#include "lib/log.h"
#include "linux/procfs.h"

#include <new>

namespace capsule {
namespace {

// The virtio-9p device as the 9P client's transport.
class ChannelTransport final : public p9::Transport {
 public:
  explicit ChannelTransport(virtio::P9Channel* ch) : ch_(ch) {}
  size_t max_message() const override { return ch_->max_message(); }
  p9::Request acquire() override {
    virtio::P9Slot* s = ch_->acquire();
    return {s->out, s->in, s->cap, s};
  }
  void release(p9::Request& r) override { ch_->release(static_cast<virtio::P9Slot*>(r.handle)); }
  Result<size_t> transact(p9::Request& r, size_t len) override {
    return ch_->transact(*static_cast<virtio::P9Slot*>(r.handle), len);
  }

 private:
  virtio::P9Channel* ch_;
};

// The virtio-fs device as the FUSE client's transport.
class FuseChannelTransport final : public fuse::Transport {
 public:
  explicit FuseChannelTransport(virtio::FuseChannel* ch) : ch_(ch) {}
  size_t max_message() const override { return ch_->max_message(); }
  fuse::Request acquire() override {
    virtio::FuseSlot* s = ch_->acquire();
    return {s->out, s->in, s->cap, s};
  }
  void release(fuse::Request& r) override { ch_->release(static_cast<virtio::FuseSlot*>(r.handle)); }
  Result<size_t> transact(fuse::Request& r, size_t len, size_t reply_max) override {
    return ch_->transact(*static_cast<virtio::FuseSlot*>(r.handle), len, reply_max);
  }
  Result<void> forget(fuse::Request& r, size_t len) override {
    return ch_->send_forget(*static_cast<virtio::FuseSlot*>(r.handle), len);
  }

 private:
  virtio::FuseChannel* ch_;
};

// mkdir -p: every directory along `dir` (absolute).
Result<void> make_dirs(vfs::Vfs& v, const vfs::PathContext& pc, StringView dir) {
  vfs::CreateArgs args;
  args.mode = vfs::MODE_DIR | 0755;
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    if (dir[i - 1] == '/') continue;  // "//" or a trailing slash
    auto r = v.mkdir(pc, dir.substr(0, i), args);
    if (!r.ok() && r.error() != Error::Exists) return r.error();
  }
  return {};
}

[[noreturn]] void stop(const BootSettings::Share& sh, const char* what, Error e) {
  kprint("capsule: --share {}:{}: {} ({})\n", sh.tag, sh.dir, what, error_name(e));
  power_off(2);
}

}  // namespace

void mount_shares(const BootSettings& s) {
  if (!s.share_count) return;
  vfs::Vfs& v = *vfs::kernel_vfs();
  vfs::VnodeRef root = v.root();
  vfs::PathContext pc{root.get(), root.get()};
  for (size_t i = 0; i < s.share_count; ++i) {
    const BootSettings::Share& sh = s.shares[i];
    auto connect = [&]() -> Result<vfs::FsRef> {
      if (sh.virtiofs) {
        virtio::FuseChannel* ch = virtio::find_fuse_channel(sh.tag);
        if (!ch) stop(sh, "no virtio-fs device with that tag", Error::NoDevice);
        auto* t = new (std::nothrow) FuseChannelTransport(ch);  // lives as long as the mount: for good
        if (!t) return Error::NoMemory;
        return fuse::mount_share(*t, sh.read_only);
      }
      virtio::P9Channel* ch = virtio::find_p9_channel(sh.tag);
      if (!ch) stop(sh, "no 9P device with that tag", Error::NoDevice);
      auto* t = new (std::nothrow) ChannelTransport(ch);  // lives as long as the mount: for good
      if (!t) return Error::NoMemory;
      return p9::mount_share(*t, sh.read_only);
    };
    auto fs = connect();
    if (!fs.ok()) stop(sh, "cannot connect", fs.error());
    if (auto r = make_dirs(v, pc, sh.dir); !r.ok()) stop(sh, "cannot make the directory", r.error());
    if (auto r = v.mount(static_cast<vfs::FsRef&&>(fs.value()), pc, sh.dir); !r.ok())
      stop(sh, "cannot mount", r.error());
    // /proc/mounts as Linux's v9fs and virtiofs show them.
    auto st = v.stat(pc, sh.dir, true);
    const char* opts = sh.virtiofs ? (sh.read_only ? "ro,relatime" : "rw,relatime")
                                   : (sh.read_only ? "ro,relatime,trans=virtio" : "rw,relatime,trans=virtio");
    (void)linux_abi::proc::note_mount_copy(sh.tag, sh.dir, sh.virtiofs ? "virtiofs" : "9p", opts,
                                           st.ok() ? st.value().dev : 0);
    log_info("{}: '{}' mounted on {}{}", sh.virtiofs ? "virtiofs" : "9p", sh.tag, sh.dir,
             sh.read_only ? " (read-only)" : "");
  }
}

}  // namespace capsule
