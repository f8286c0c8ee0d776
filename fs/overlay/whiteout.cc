// Whiteouts and opaque directories (fs/overlay/overlay.h, docs/overlay.md):
// the marks Linux's overlayfs leaves in its upper tree, so an upper tree
// reads the same way to either.
#include "fs/overlay/overlay.h"

namespace capsule::overlay {

const char OPAQUE_XATTR[] = "trusted.overlay.opaque";

// A character device with device number 0:0 (no driver has it).
bool is_whiteout(vfs::Vnode& v) {
  if (v.type() != vfs::VType::Char) return false;
  auto a = v.getattr();
  return a.ok() && a.value().rdev == 0;
}

bool is_opaque(vfs::Vnode& upper_dir) {
  char v[2];
  auto n = upper_dir.getxattr(OPAQUE_XATTR, v, sizeof v);
  return n.ok() && n.value() == 1 && v[0] == 'y';
}

Result<void> Node::whiteout_locked(vfs::Vnode& udir, StringView name) {
  vfs::CreateArgs c;
  c.mode = vfs::MODE_CHAR;
  c.rdev = 0;
  TRY(udir.create(name, c));
  return {};
}

Result<void> Node::drop_whiteout_locked(vfs::Vnode& udir, StringView name) {
  auto u = udir.lookup(name);
  if (!u.ok()) return u.error() == Error::NotFound ? Result<void>() : Result<void>(u.error());
  if (!is_whiteout(*u.value())) return Error::Exists;
  return udir.unlink(name);
}

// What is left in an upper directory whose merged listing is empty is
// whiteouts only.
Result<void> Node::clear_whiteouts_locked(vfs::Vnode& udir) {
  struct First final : vfs::DirSink {
    char name[vfs::MAX_NAME + 1];
    size_t len = 0;
    bool emit(StringView n, uint64_t, vfs::VType, uint64_t) override {
      if (n == "." || n == "..") return true;
      __builtin_memcpy(name, n.data(), n.size());
      len = n.size();
      return false;
    }
  };
  for (;;) {
    First f;
    TRY(udir.readdir(0, f));
    if (!f.len) return {};
    StringView n(f.name, f.len);
    auto v = udir.lookup(n);
    if (!v.ok() || !is_whiteout(*v.value())) return Error::NotEmpty;
    TRY(udir.unlink(n));
  }
}

}  // namespace capsule::overlay
