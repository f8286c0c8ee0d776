// devpts (fs/include/fs/devpts.h): a directory whose entries are a table
// of published slave nodes, and the ptmx node. Names are not cached by the
// dentry cache (cache_names false): they come and go with the pairs.
#include "fs/devpts.h"

#include <new>

namespace capsule::devpts {
namespace {

using vfs::Attr;
using vfs::DirSink;
using vfs::SetAttr;
using vfs::VnodeRef;
using vfs::VType;

constexpr uint32_t DEVPTS_SUPER_MAGIC = 0x1cd1;

class DevptsFs;

// /dev/pts/ptmx: a device node; the VFS's device table opens it.
class PtmxNode final : public vfs::Vnode {
 public:
  explicit PtmxNode(vfs::FileSystem* fs) : Vnode(fs, 2, vfs::MODE_CHAR) {}
  Result<Attr> getattr() override {
    Attr a;
    a.dev = fs()->dev();
    a.ino = ino();
    a.mode = vfs::MODE_CHAR;
    a.nlink = 1;
    a.rdev = PTMX_RDEV;
    return a;
  }
  Result<void> setattr(const SetAttr&) override { return Error::Permission; }
};

struct Table {
  vfs::FsMutex lock;
  bool used[MAX_PTYS] = {};
  VnodeRef nodes[MAX_PTYS];
};
Table g_table;

class Root final : public vfs::Vnode {
 public:
  explicit Root(vfs::FileSystem* fs) : Vnode(fs, 1, vfs::MODE_DIR | 0755), ptmx_(VnodeRef::adopt(new (std::nothrow) PtmxNode(fs))) {}
  bool ok() const { return ptmx_.get() != nullptr; }

  Result<VnodeRef> lookup(StringView name) override {
    if (name == "..") return VnodeRef(this);
    if (name == "ptmx") return ptmx_;
    uint32_t n = 0;
    if (name.empty() || name.size() > 4 || (name.size() > 1 && name[0] == '0')) return Error::NotFound;
    for (size_t i = 0; i < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9') return Error::NotFound;
      n = n * 10 + uint32_t(name[i] - '0');
    }
    if (n >= MAX_PTYS) return Error::NotFound;
    vfs::FsGuard g(g_table.lock);
    if (!g_table.nodes[n]) return Error::NotFound;
    return g_table.nodes[n];
  }

  // Cookies: 0 ".", 1 "..", 2 "ptmx", 3 + N slave N.
  Result<void> readdir(uint64_t cookie, DirSink& sink) override {
    if (cookie == 0 && !sink.emit(".", ino(), VType::Dir, 1)) return {};
    if (cookie <= 1 && !sink.emit("..", ino(), VType::Dir, 2)) return {};
    if (cookie <= 2 && !sink.emit("ptmx", 2, VType::Char, 3)) return {};
    for (uint32_t i = cookie > 3 ? uint32_t(cookie - 3) : 0; i < MAX_PTYS; ++i) {
      {
        vfs::FsGuard g(g_table.lock);
        if (!g_table.nodes[i]) continue;
      }
      char name[8];
      size_t len = 0;
      char rev[8];
      uint32_t v = i;
      do rev[len++] = char('0' + v % 10), v /= 10;
      while (v);
      for (size_t k = 0; k < len; ++k) name[k] = rev[len - 1 - k];
      if (!sink.emit(StringView(name, len), slave_ino(i), VType::Char, uint64_t(i) + 4)) return {};
    }
    return {};
  }

  Result<Attr> getattr() override {
    Attr a;
    a.dev = fs()->dev();
    a.ino = ino();
    a.mode = vfs::MODE_DIR | 0755;
    a.nlink = 2;
    return a;
  }
  Result<void> setattr(const SetAttr&) override { return {}; }

 private:
  VnodeRef ptmx_;
};

class DevptsFs final : public vfs::FileSystem {
 public:
  const char* name() const override { return "devpts"; }
  VnodeRef root() override { return root_; }
  bool cache_names() const override { return false; }
  vfs::FsStat statfs() override {
    vfs::FsStat s;
    s.magic = DEVPTS_SUPER_MAGIC;
    s.bsize = 4096;
    return s;
  }
  bool init() {
    auto* r = new (std::nothrow) Root(this);
    if (!r) return false;
    root_ = VnodeRef::adopt(r);
    return r->ok();
  }

 private:
  VnodeRef root_;
};

DevptsFs* g_fs;

}  // namespace

Result<vfs::FsRef> instance() {
  vfs::FsGuard g(g_table.lock);
  if (!g_fs) {
    auto* fs = new (std::nothrow) DevptsFs;
    if (!fs) return Error::NoMemory;
    if (!fs->init()) {
      fs->release();
      return Error::NoMemory;
    }
    g_fs = fs;  // keeps its first reference for the machine's life
  }
  return vfs::FsRef(g_fs);
}

Result<uint32_t> reserve() {
  vfs::FsGuard g(g_table.lock);
  for (uint32_t i = 0; i < MAX_PTYS; ++i) {
    if (g_table.used[i]) continue;
    g_table.used[i] = true;
    return i;
  }
  return Error::NoSpace;  // Linux's devpts: ENOSPC
}

void publish(uint32_t index, VnodeRef node) {
  if (index >= MAX_PTYS) return;
  vfs::FsGuard g(g_table.lock);
  g_table.nodes[index] = static_cast<VnodeRef&&>(node);
}

void remove(uint32_t index) {
  if (index >= MAX_PTYS) return;
  VnodeRef gone;  // released after the lock
  {
    vfs::FsGuard g(g_table.lock);
    gone = static_cast<VnodeRef&&>(g_table.nodes[index]);
    g_table.nodes[index] = VnodeRef();
    g_table.used[index] = false;
  }
}

}  // namespace capsule::devpts
