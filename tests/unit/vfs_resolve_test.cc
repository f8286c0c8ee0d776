// The walk's restriction flags (openat2's RESOLVE_*), O_TMPFILE files and
// the ramfs operations the rest of the file family added: allocate,
// punch_hole, seals, statfs (docs/vfs.md).
#include <string>

#include "vfs_test_util.h"

namespace {

using namespace vfs_test;

struct Resolve : ::testing::Test {
  void SetUp() override {
    ASSERT_EQ(w.mkdir("/d"), Error::None);
    ASSERT_EQ(w.mkdir("/d/sub"), Error::None);
    w.write_file("/d/f", "F");
    w.write_file("/top", "T");
    ASSERT_EQ(w.symlink("f", "/d/rel"), Error::None);
    ASSERT_EQ(w.symlink("/top", "/d/abs"), Error::None);
    ASSERT_EQ(w.symlink("../top", "/d/up"), Error::None);
    ASSERT_EQ(w.symlink("../d/m", "/d/tomnt"), Error::None);
    ASSERT_EQ(w.mkdir("/d/m"), Error::None);
    mnt = ramfs::Ramfs::create().release_value();
    ASSERT_TRUE(w.vfs.mount(FsRef(mnt.get()), w.ctx(), "/d/m").ok());
    w.write_file("/d/m/g", "G");
    dir = w.vfs.resolve(w.ctx(), "/d", WALK_FOLLOW).release_value();
  }
  void TearDown() override { dir.reset(); }

  // Walks `path` from /d with `flags`.
  Error walk(const std::string& path, unsigned flags) {
    PathContext c{w.root.get(), dir.get()};
    return w.vfs.resolve(c, sv(path), WALK_FOLLOW | flags).error();
  }

  World w;
  RefPtr<ramfs::Ramfs> mnt;
  VnodeRef dir;
};

TEST_F(Resolve, NoSymlinks) {
  EXPECT_EQ(walk("f", WALK_NO_SYMLINKS), Error::None);
  EXPECT_EQ(walk("rel", WALK_NO_SYMLINKS), Error::Loop);
  EXPECT_EQ(walk("rel", 0), Error::None);
  // Not following the last one is allowed: it is not traversed.
  PathContext c{w.root.get(), dir.get()};
  EXPECT_TRUE(w.vfs.resolve(c, "rel", WALK_NO_SYMLINKS).ok());
}

TEST_F(Resolve, Beneath) {
  EXPECT_EQ(walk("f", WALK_BENEATH), Error::None);
  EXPECT_EQ(walk("sub/../f", WALK_BENEATH), Error::None);
  EXPECT_EQ(walk("../top", WALK_BENEATH), Error::CrossDevice);
  EXPECT_EQ(walk("sub/../../top", WALK_BENEATH), Error::CrossDevice);
  EXPECT_EQ(walk("/top", WALK_BENEATH), Error::CrossDevice);
  EXPECT_EQ(walk("abs", WALK_BENEATH), Error::CrossDevice);
  EXPECT_EQ(walk("up", WALK_BENEATH), Error::CrossDevice);
  EXPECT_EQ(walk("rel", WALK_BENEATH), Error::None);
  EXPECT_EQ(walk("up", 0), Error::None);
}

TEST_F(Resolve, NoXdev) {
  EXPECT_EQ(walk("f", WALK_NO_XDEV), Error::None);
  EXPECT_EQ(walk("m/g", WALK_NO_XDEV), Error::CrossDevice);
  EXPECT_EQ(walk("m", WALK_NO_XDEV), Error::CrossDevice);
  EXPECT_EQ(walk("tomnt/g", WALK_NO_XDEV), Error::CrossDevice);
  EXPECT_EQ(walk("m/g", 0), Error::None);
  EXPECT_EQ(walk("tomnt/g", 0), Error::None);
  // Starting inside the mount and climbing out of it.
  VnodeRef m = w.vfs.resolve(w.ctx(), "/d/m", WALK_FOLLOW).release_value();
  PathContext c{w.root.get(), m.get()};
  EXPECT_EQ(w.vfs.resolve(c, "g", WALK_NO_XDEV).error(), Error::None);
  EXPECT_EQ(w.vfs.resolve(c, "../f", WALK_NO_XDEV).error(), Error::CrossDevice);
}

TEST_F(Resolve, OpenCarriesTheFlags) {
  PathContext c{w.root.get(), dir.get()};
  OpenHow h;
  h.flags = OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE;
  h.create.mode = 0644;
  h.walk = WALK_BENEATH;
  EXPECT_EQ(w.vfs.open(c, "../new", h).error(), Error::CrossDevice);
  EXPECT_TRUE(w.vfs.open(c, "new", h).ok());
  h.walk = WALK_NO_SYMLINKS;
  EXPECT_EQ(w.vfs.open(c, "rel", h).error(), Error::Loop);
  h.flags = OpenHow::READ;
  EXPECT_EQ(w.vfs.open(c, "rel", h).error(), Error::Loop);
}

TEST(Tmpfile, LinkableUnlessExcl) {
  World w;
  OpenHow h;
  h.flags = OpenHow::READ | OpenHow::WRITE;
  h.create.mode = 0600;
  auto f = w.vfs.open_tmpfile(w.ctx(), "/", h);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value()->vnode().getattr().value().nlink, 0u);
  KernelBuffer b("data", 4);
  ASSERT_TRUE(f.value()->write(b).ok());
  ASSERT_TRUE(w.vfs.link_vnode(f.value()->vnode(), w.ctx(), "/named").ok());
  EXPECT_EQ(w.read_file("/named"), "data");
  EXPECT_EQ(w.stat("/named").value().nlink, 1u);

  h.flags |= OpenHow::EXCL;
  auto g = w.vfs.open_tmpfile(w.ctx(), "/", h);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(w.vfs.link_vnode(g.value()->vnode(), w.ctx(), "/other").error(), Error::NotFound);
  EXPECT_EQ(w.vfs.open_tmpfile(w.ctx(), "/named", h).error(), Error::NotDir);
}

TEST(RamfsSpace, AllocateAndPunch) {
  World w;
  auto f = w.open("/f", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  Vnode& v = f->vnode();
  ASSERT_TRUE(v.allocate(0, 10000, false).ok());
  Attr a = v.getattr().value();
  EXPECT_EQ(a.size, 10000u);
  EXPECT_EQ(a.blocks, 3u * 8);  // three pages
  ASSERT_TRUE(v.allocate(10000, 10000, true).ok());
  EXPECT_EQ(v.getattr().value().size, 10000u);
  EXPECT_EQ(v.allocate(0, 0, false).error(), Error::Invalid);
  std::string ones(3 * 4096, '\1');
  KernelBuffer b(ones.data(), ones.size());
  ASSERT_TRUE(f->pwrite(b, 0).ok());
  uint64_t before = w.fs->pages_used();
  ASSERT_TRUE(v.punch_hole(100, 4096 * 2).ok());  // page 1 whole, parts of 0 and 2
  EXPECT_EQ(w.fs->pages_used(), before - 1);
  std::string got = World::read_all(*f);
  ASSERT_EQ(got.size(), ones.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], (i >= 100 && i < 100 + 8192) ? 0 : 1) << i;
}

TEST(RamfsSpace, HugeAllocationIsRefusedAtOnce) {
  World w;
  auto f = w.open("/f", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  uint64_t before = w.fs->pages_used();
  // 1 TiB: more than half of what the page allocator has; nothing taken.
  EXPECT_EQ(f->vnode().allocate(0, uint64_t(1) << 40, false).error(), Error::NoSpace);
  EXPECT_EQ(w.fs->pages_used(), before);
  EXPECT_EQ(f->vnode().getattr().value().size, 0u);
  // The instance's own limit, page by page.
  World small(8192, 4);
  auto g = small.open("/g", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  EXPECT_EQ(g->vnode().allocate(0, 5 * 4096, false).error(), Error::NoSpace);
  EXPECT_EQ(small.fs->pages_used(), 0u);  // given back
  EXPECT_TRUE(g->vnode().allocate(0, 4 * 4096, false).ok());
  EXPECT_EQ(small.fs->pages_used(), 4u);
}

TEST(RamfsSeals, Enforced) {
  World w;
  auto f = w.open("/f", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  Vnode& v = f->vnode();
  EXPECT_EQ(v.seals().value(), SEAL_SEAL);  // tmpfs files refuse seals
  EXPECT_EQ(v.add_seals(SEAL_WRITE).error(), Error::Permission);

  CreateArgs a;
  a.mode = MODE_REGULAR | 0600;
  VnodeRef m = w.fs->create_unlinked(a, true).release_value();
  EXPECT_EQ(m->seals().value(), 0u);
  KernelBuffer b("abcdef", 6);
  uint64_t off = 0;
  ASSERT_TRUE(m->write(&off, b, false).ok());
  ASSERT_TRUE(m->add_seals(SEAL_SHRINK | SEAL_GROW).ok());
  EXPECT_EQ(m->truncate(3).error(), Error::Permission);
  EXPECT_EQ(m->truncate(9).error(), Error::Permission);
  off = 5;
  EXPECT_EQ(m->write(&off, b, false).error(), Error::Permission);  // would grow
  KernelBuffer two("XY", 2);
  off = 0;
  EXPECT_TRUE(m->write(&off, two, false).ok());
  ASSERT_TRUE(m->add_seals(SEAL_WRITE | SEAL_SEAL).ok());
  off = 0;
  EXPECT_EQ(m->write(&off, two, false).error(), Error::Permission);
  EXPECT_EQ(m->punch_hole(0, 1).error(), Error::Permission);
  EXPECT_EQ(m->add_seals(SEAL_FUTURE_WRITE).error(), Error::Permission);
}

TEST(RamfsStatfs, ReportsTmpfs) {
  World w(8192, 100);
  FsStat s = w.fs->statfs();
  EXPECT_EQ(s.magic, 0x01021994u);
  EXPECT_EQ(s.blocks, 100u);
  EXPECT_EQ(s.bfree, 100u);
  w.write_file("/f", std::string(4096 * 3, 'x'));
  s = w.fs->statfs();
  EXPECT_EQ(s.bfree, 97u);
  EXPECT_EQ(s.namelen, 255u);
}

}  // namespace
