// The union file system (fs/overlay, docs/overlay.md): a ramfs upper tree
// over a lower tree (a ramfs here, standing in for the read-only ext4
// disk: the union never writes it, and each test checks that the lower
// tree is unchanged). What a program sees must be what one writable file
// system shows.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fs/file.h"
#include "fs/overlay.h"
#include "fs/overlay/overlay.h"
#include "fs/ramfs/ramfs.h"
#include "fs/vfs.h"

namespace {

using namespace capsule;
using namespace capsule::vfs;

StringView sv(const std::string& s) { return {s.data(), s.size()}; }
// What Ns::read gives for a name that is not there.
std::string missing() { return std::string("<") + error_name(Error::NotFound) + ">"; }

// A namespace over one root file system, with path helpers.
struct Ns {
  explicit Ns(FsRef root_fs) { EXPECT_TRUE(vfs.mount_root(root_fs).ok()); root = vfs.root(); }
  ~Ns() { root.reset(); }
  PathContext ctx() { return {root.get(), root.get()}; }
  Error mkdir(const std::string& p, uint32_t mode = 0755) {
    CreateArgs a;
    a.mode = mode;
    return vfs.mkdir(ctx(), sv(p), a).error();
  }
  Result<FileRef> open(const std::string& p, uint32_t flags = OpenHow::READ) {
    OpenHow h;
    h.flags = flags;
    h.create.mode = 0644;
    return vfs.open(ctx(), sv(p), h);
  }
  Error write(const std::string& p, const std::string& data, uint32_t extra = OpenHow::TRUNC) {
    auto f = open(p, OpenHow::WRITE | OpenHow::CREATE | extra);
    if (!f.ok()) return f.error();
    KernelBuffer b(data.data(), data.size());
    auto n = f.value()->write(b);
    return n.ok() ? Error::None : n.error();
  }
  std::string read(const std::string& p) {
    auto f = open(p);
    if (!f.ok()) return std::string("<") + error_name(f.error()) + ">";
    std::string out(1 << 20, '\0');
    KernelBuffer b(out.data(), out.size());
    auto n = f.value()->pread(b, 0);
    if (!n.ok()) return std::string("<") + error_name(n.error()) + ">";
    out.resize(n.value());
    return out;
  }
  // Sorted names of a directory, "." and ".." left out.
  std::vector<std::string> ls(const std::string& p) {
    struct Sink final : DirSink {
      std::vector<std::string> v;
      bool emit(StringView n, uint64_t, VType, uint64_t) override {
        std::string s(n.data(), n.size());
        if (s != "." && s != "..") v.push_back(s);
        return true;
      }
    } sink;
    auto d = vfs.resolve(ctx(), sv(p), WALK_FOLLOW);
    if (!d.ok()) return {std::string("<") + error_name(d.error()) + ">"};
    EXPECT_TRUE(d.value()->readdir(0, sink).ok());
    std::sort(sink.v.begin(), sink.v.end());
    return sink.v;
  }
  Error unlink(const std::string& p) { return vfs.unlink(ctx(), sv(p)).error(); }
  Error rmdir(const std::string& p) { return vfs.rmdir(ctx(), sv(p)).error(); }
  Error rename(const std::string& a, const std::string& b) { return vfs.rename(ctx(), sv(a), sv(b)).error(); }
  Result<Attr> stat(const std::string& p) { return vfs.stat(ctx(), sv(p), false); }

  Vfs vfs;
  VnodeRef root;
};

struct Union {
  Union() {
    lower_fs = ramfs::Ramfs::create().release_value();
    upper_fs = ramfs::Ramfs::create().release_value();
    lower = std::make_unique<Ns>(FsRef(lower_fs.get()));
    // The lower tree.
    EXPECT_EQ(lower->mkdir("/etc"), Error::None);
    EXPECT_EQ(lower->mkdir("/etc/conf.d"), Error::None);
    EXPECT_EQ(lower->mkdir("/lib"), Error::None);
    EXPECT_EQ(lower->mkdir("/empty"), Error::None);
    EXPECT_EQ(lower->write("/etc/hosts", "127.0.0.1 localhost\n"), Error::None);
    EXPECT_EQ(lower->write("/etc/conf.d/a", "a\n"), Error::None);
    EXPECT_EQ(lower->write("/etc/conf.d/b", "b\n"), Error::None);
    EXPECT_EQ(lower->write("/lib/libc.so", std::string(100000, 'L')), Error::None);
    std::string sparse(300000, '\0');
    sparse[0] = 's';
    sparse[299999] = 'e';
    EXPECT_EQ(lower->write("/lib/sparse", sparse), Error::None);
    EXPECT_TRUE(lower->vfs.symlink("hosts", lower->ctx(), "/etc/link", {}).ok());
    upper_root = ramfs_root(upper_fs);
    auto u = overlay::create(upper_root, lower->root);
    EXPECT_TRUE(u.ok());
    ns = std::make_unique<Ns>(u.release_value());
  }
  static VnodeRef ramfs_root(RefPtr<ramfs::Ramfs>& fs) { return fs->root(); }
  ~Union() {
    ns.reset();
    upper_root.reset();
    upper_fs->shutdown();  // never mounted in a namespace of its own
    lower.reset();
  }
  RefPtr<ramfs::Ramfs> lower_fs, upper_fs;
  std::unique_ptr<Ns> lower;
  VnodeRef upper_root;
  std::unique_ptr<Ns> ns;
};

TEST(Overlay, ReadsTheLowerTree) {
  Union u;
  EXPECT_EQ(u.ns->read("/etc/hosts"), "127.0.0.1 localhost\n");
  EXPECT_EQ(u.ns->read("/etc/link"), "127.0.0.1 localhost\n");
  EXPECT_EQ(u.ns->ls("/"), (std::vector<std::string>{"empty", "etc", "lib"}));
  EXPECT_EQ(u.ns->ls("/etc"), (std::vector<std::string>{"conf.d", "hosts", "link"}));
  EXPECT_EQ(u.ns->read("/nope"), missing());
  // Reading copied nothing up.
  auto f = u.ns->vfs.resolve(u.ns->ctx(), "/etc/hosts", 0);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(static_cast<overlay::Node&>(*f.value()).has_upper());
}

TEST(Overlay, WritesCopyUpAndLeaveTheLowerTreeAlone) {
  Union u;
  EXPECT_EQ(u.ns->write("/etc/hosts", " more\n", OpenHow::APPEND), Error::None);
  EXPECT_EQ(u.ns->read("/etc/hosts"), "127.0.0.1 localhost\n more\n");
  EXPECT_EQ(u.lower->read("/etc/hosts"), "127.0.0.1 localhost\n");
  // O_TRUNC: copied up without its data.
  EXPECT_EQ(u.ns->write("/lib/libc.so", "new"), Error::None);
  EXPECT_EQ(u.ns->read("/lib/libc.so"), "new");
  EXPECT_EQ(u.lower->read("/lib/libc.so"), std::string(100000, 'L'));
  // The parents went up too, and the listing still shows every name once.
  EXPECT_EQ(u.ns->ls("/etc"), (std::vector<std::string>{"conf.d", "hosts", "link"}));
  EXPECT_EQ(u.ns->ls("/lib"), (std::vector<std::string>{"libc.so", "sparse"}));
}

TEST(Overlay, AttributeChangesCopyUp) {
  Union u;
  SetAttr a;
  a.mask = SetAttr::MODE;
  a.mode = 0600;
  ASSERT_TRUE(u.ns->vfs.setattr(u.ns->ctx(), "/etc/conf.d/a", a, true).ok());
  EXPECT_EQ(u.ns->stat("/etc/conf.d/a").value().mode & MODE_PERM, 0600u);
  EXPECT_EQ(u.ns->read("/etc/conf.d/a"), "a\n");
  EXPECT_EQ(u.lower->stat("/etc/conf.d/a").value().mode & MODE_PERM, 0644u);
  // A sparse file keeps its holes and its bytes.
  a.mask = SetAttr::MODE;
  a.mode = 0640;
  ASSERT_TRUE(u.ns->vfs.setattr(u.ns->ctx(), "/lib/sparse", a, true).ok());
  std::string s = u.ns->read("/lib/sparse");
  ASSERT_EQ(s.size(), 300000u);
  EXPECT_EQ(s[0], 's');
  EXPECT_EQ(s[299999], 'e');
  EXPECT_LT(u.ns->stat("/lib/sparse").value().blocks * 512, 300000u / 2);
}

TEST(Overlay, UnlinkLeavesAWhiteout) {
  Union u;
  EXPECT_EQ(u.ns->unlink("/etc/hosts"), Error::None);
  EXPECT_EQ(u.ns->read("/etc/hosts"), missing());
  EXPECT_EQ(u.ns->ls("/etc"), (std::vector<std::string>{"conf.d", "link"}));
  EXPECT_EQ(u.ns->unlink("/etc/hosts"), Error::NotFound);
  EXPECT_EQ(u.lower->read("/etc/hosts"), "127.0.0.1 localhost\n");
  // A new file takes the name back.
  EXPECT_EQ(u.ns->write("/etc/hosts", "fresh\n"), Error::None);
  EXPECT_EQ(u.ns->read("/etc/hosts"), "fresh\n");
  EXPECT_EQ(u.ns->ls("/etc"), (std::vector<std::string>{"conf.d", "hosts", "link"}));
  // An upper file over a lower one: unlinking it must not bring the old back.
  EXPECT_EQ(u.ns->unlink("/etc/hosts"), Error::None);
  EXPECT_EQ(u.ns->read("/etc/hosts"), missing());
  // A file made in the upper tree only: no whiteout needed, gone for good.
  EXPECT_EQ(u.ns->write("/etc/new", "n"), Error::None);
  EXPECT_EQ(u.ns->unlink("/etc/new"), Error::None);
  EXPECT_EQ(u.ns->ls("/etc"), (std::vector<std::string>{"conf.d", "link"}));
}

TEST(Overlay, DirectoriesRemovedAndMadeAgainAreOpaque) {
  Union u;
  EXPECT_EQ(u.ns->rmdir("/etc/conf.d"), Error::NotEmpty);
  EXPECT_EQ(u.ns->unlink("/etc/conf.d/a"), Error::None);
  EXPECT_EQ(u.ns->rmdir("/etc/conf.d"), Error::NotEmpty);
  EXPECT_EQ(u.ns->unlink("/etc/conf.d/b"), Error::None);
  EXPECT_EQ(u.ns->ls("/etc/conf.d"), std::vector<std::string>{});
  EXPECT_EQ(u.ns->rmdir("/etc/conf.d"), Error::None);
  EXPECT_EQ(u.ns->ls("/etc"), (std::vector<std::string>{"hosts", "link"}));
  EXPECT_EQ(u.ns->mkdir("/etc/conf.d"), Error::None);
  EXPECT_EQ(u.ns->ls("/etc/conf.d"), std::vector<std::string>{});  // the lower a and b stay hidden
  EXPECT_EQ(u.ns->read("/etc/conf.d/a"), missing());
  EXPECT_EQ(u.ns->write("/etc/conf.d/c", "c"), Error::None);
  EXPECT_EQ(u.ns->ls("/etc/conf.d"), std::vector<std::string>{"c"});
  EXPECT_EQ(u.lower->ls("/etc/conf.d"), (std::vector<std::string>{"a", "b"}));
  // An empty lower directory goes at once.
  EXPECT_EQ(u.ns->rmdir("/empty"), Error::None);
  EXPECT_EQ(u.ns->ls("/"), (std::vector<std::string>{"etc", "lib"}));
  EXPECT_EQ(u.ns->mkdir("/etc"), Error::Exists);
}

TEST(Overlay, RenameCopiesUpAndHidesTheOldName) {
  Union u;
  EXPECT_EQ(u.ns->rename("/etc/hosts", "/lib/hosts2"), Error::None);
  EXPECT_EQ(u.ns->read("/lib/hosts2"), "127.0.0.1 localhost\n");
  EXPECT_EQ(u.ns->read("/etc/hosts"), missing());
  EXPECT_EQ(u.ns->ls("/etc"), (std::vector<std::string>{"conf.d", "link"}));
  // Over a lower file: it is replaced.
  EXPECT_EQ(u.ns->rename("/lib/hosts2", "/etc/conf.d/a"), Error::None);
  EXPECT_EQ(u.ns->read("/etc/conf.d/a"), "127.0.0.1 localhost\n");
  EXPECT_EQ(u.ns->ls("/etc/conf.d"), (std::vector<std::string>{"a", "b"}));
  // A lower directory does not move (EXDEV: mv copies it), an upper one does.
  EXPECT_EQ(u.ns->rename("/etc/conf.d", "/conf"), Error::CrossDevice);
  EXPECT_EQ(u.ns->mkdir("/new"), Error::None);
  EXPECT_EQ(u.ns->write("/new/f", "f"), Error::None);
  EXPECT_EQ(u.ns->rename("/new", "/empty"), Error::None);  // over an empty lower directory
  EXPECT_EQ(u.ns->ls("/empty"), std::vector<std::string>{"f"});
  EXPECT_EQ(u.ns->ls("/"), (std::vector<std::string>{"empty", "etc", "lib"}));
  EXPECT_EQ(u.lower->read("/etc/hosts"), "127.0.0.1 localhost\n");
}

// getcwd and /proc/self/exe find a directory's path by its inode number in
// its parent's listing: a directory keeps its number when it is copied up.
TEST(Overlay, DirectoriesKeepTheirPathAndNumberAcrossCopyUp) {
  Union u;
  auto d = u.ns->vfs.resolve(u.ns->ctx(), "/etc/conf.d", 0);
  ASSERT_TRUE(d.ok());
  auto path = [&](Vnode& v) {
    char buf[256];
    auto n = u.ns->vfs.path_of(u.ns->ctx(), v, buf, sizeof buf);
    return n.ok() ? std::string(buf, n.value()) : std::string("<") + error_name(n.error()) + ">";
  };
  EXPECT_EQ(path(*d.value()), "/etc/conf.d");
  const uint64_t ino = u.ns->stat("/etc/conf.d").value().ino;
  EXPECT_EQ(u.ns->write("/etc/conf.d/new", "n"), Error::None);  // copies etc and conf.d up
  EXPECT_TRUE(static_cast<overlay::Node&>(*d.value()).has_upper());
  EXPECT_EQ(path(*d.value()), "/etc/conf.d");
  EXPECT_EQ(u.ns->stat("/etc/conf.d").value().ino, ino);
  // A directory made in the union: found too.
  EXPECT_EQ(u.ns->mkdir("/etc/conf.d/sub"), Error::None);
  auto s = u.ns->vfs.resolve(u.ns->ctx(), "/etc/conf.d/sub", 0);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(path(*s.value()), "/etc/conf.d/sub");
}

TEST(Overlay, HardLinksOfLowerFiles) {
  Union u;
  ASSERT_TRUE(u.ns->vfs.link(u.ns->ctx(), "/etc/hosts", "/etc/hosts2").ok());
  EXPECT_EQ(u.ns->read("/etc/hosts2"), "127.0.0.1 localhost\n");
  EXPECT_EQ(u.ns->write("/etc/hosts2", "x", OpenHow::APPEND), Error::None);
  EXPECT_EQ(u.ns->read("/etc/hosts"), "127.0.0.1 localhost\nx");  // one file, two names
  EXPECT_EQ(u.ns->stat("/etc/hosts").value().nlink, 2u);
}

TEST(Overlay, ReaddirResumesAcrossBothTrees) {
  Union u;
  for (int i = 0; i < 40; ++i) EXPECT_EQ(u.ns->write("/etc/up" + std::to_string(i), "u"), Error::None);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(u.lower->write("/etc/low" + std::to_string(i), "l"), Error::None);
  // One entry per call: every cookie resumes exactly after its entry.
  struct One final : DirSink {
    std::string name;
    uint64_t next = 0;
    bool got = false;
    bool emit(StringView n, uint64_t, VType, uint64_t c) override {
      if (got) return false;
      name.assign(n.data(), n.size());
      next = c;
      got = true;
      return true;
    }
  };
  auto d = u.ns->vfs.resolve(u.ns->ctx(), "/etc", 0);
  ASSERT_TRUE(d.ok());
  std::vector<std::string> names;
  uint64_t cookie = 0;
  for (;;) {
    One o;
    ASSERT_TRUE(d.value()->readdir(cookie, o).ok());
    if (!o.got) break;
    if (o.name != "." && o.name != "..") names.push_back(o.name);
    cookie = o.next;
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names.size(), 83u);  // 40 + 40 + conf.d, hosts, link
  EXPECT_TRUE(std::adjacent_find(names.begin(), names.end()) == names.end());
}

}  // namespace
