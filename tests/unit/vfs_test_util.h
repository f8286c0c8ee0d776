#pragma once
// Helpers for the VFS and ramfs host tests: a namespace with a ramfs root.
#include <gtest/gtest.h>

#include <string>

#include "fs/file.h"
#include "fs/vfs.h"
#include "fs/ramfs/ramfs.h"

namespace vfs_test {

using namespace capsule;
using namespace capsule::vfs;

inline StringView sv(const std::string& s) { return {s.data(), s.size()}; }

struct World {
  World(size_t dcache = 8192, uint64_t max_pages = 0) : vfs(dcache) {
    ramfs::Options o;
    o.max_pages = max_pages;
    fs = ramfs::Ramfs::create(o).release_value();
    EXPECT_TRUE(vfs.mount_root(FsRef(fs.get())).ok());
    root = vfs.root();
  }
  PathContext ctx() { return {root.get(), cwd ? cwd.get() : root.get()}; }

  Error mkdir(const std::string& p, uint32_t mode = 0755) {
    CreateArgs a;
    a.mode = mode;
    return vfs.mkdir(ctx(), sv(p), a).error();
  }
  Error symlink(const std::string& target, const std::string& p) {
    return vfs.symlink(sv(target), ctx(), sv(p), {}).error();
  }
  Result<FileRef> open(const std::string& p, uint32_t flags = OpenHow::READ, uint32_t mode = 0644) {
    OpenHow h;
    h.flags = flags;
    h.create.mode = mode;
    return vfs.open(ctx(), sv(p), h);
  }
  // Creates (or truncates) a file with the given contents.
  void write_file(const std::string& p, const std::string& data) {
    auto f = open(p, OpenHow::WRITE | OpenHow::CREATE | OpenHow::TRUNC);
    ASSERT_TRUE(f.ok()) << p << ": " << error_name(f.error());
    KernelBuffer b(data.data(), data.size());
    auto n = f.value()->write(b);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(n.value(), data.size());
  }
  static std::string read_all(OpenFile& f, size_t max = 1 << 20) {
    std::string out(max, '\0');
    KernelBuffer b(out.data(), out.size());
    auto n = f.pread(b, 0);
    if (!n.ok()) return "<error " + std::string(error_name(n.error())) + ">";
    out.resize(n.value());
    return out;
  }
  std::string read_file(const std::string& p) {
    auto f = open(p);
    if (!f.ok()) return "<error " + std::string(error_name(f.error())) + ">";
    return read_all(*f.value());
  }
  Result<Attr> stat(const std::string& p, bool follow = true) { return vfs.stat(ctx(), sv(p), follow); }

  ~World() {
    root.reset();
    cwd.reset();
  }

  // Declaration order matters: the Vfs goes first (it shuts the ramfs down),
  // then our reference on the file system.
  RefPtr<ramfs::Ramfs> fs;
  Vfs vfs;
  VnodeRef root, cwd;
};

}  // namespace vfs_test
