// Path walk: a table of paths with the answer or the error POSIX gives
// (path_resolution(7)), over a ramfs tree with symlinks and a second mount.
#include <string>

#include "vfs_test_util.h"

using namespace vfs_test;

namespace {

class Walk : public ::testing::Test {
 protected:
  void SetUp() override {
    // /a/b/c (dir)   /a/f (file "F")   /top (file "T")
    // /a/up -> ..    /a/abs -> /a/b    /a/rel -> b/c    /a/dangling -> nowhere
    // /loop1 -> loop2 -> loop1          /self -> self    /tofile -> a/f
    // /mnt: a second ramfs with /mnt/inner (dir) and /mnt/g (file "G")
    // /chain0 -> chain1 -> ... -> chain40 -> /a  (41 links)
    ASSERT_EQ(w.mkdir("/a"), Error::None);
    ASSERT_EQ(w.mkdir("/a/b"), Error::None);
    ASSERT_EQ(w.mkdir("/a/b/c"), Error::None);
    w.write_file("/a/f", "F");
    w.write_file("/top", "T");
    ASSERT_EQ(w.symlink("..", "/a/up"), Error::None);
    ASSERT_EQ(w.symlink("/a/b", "/a/abs"), Error::None);
    ASSERT_EQ(w.symlink("b/c", "/a/rel"), Error::None);
    ASSERT_EQ(w.symlink("nowhere", "/a/dangling"), Error::None);
    ASSERT_EQ(w.symlink("loop2", "/loop1"), Error::None);
    ASSERT_EQ(w.symlink("loop1", "/loop2"), Error::None);
    ASSERT_EQ(w.symlink("self", "/self"), Error::None);
    ASSERT_EQ(w.symlink("a/f", "/tofile"), Error::None);
    ASSERT_EQ(w.mkdir("/mnt"), Error::None);
    mnt = ramfs::Ramfs::create().release_value();
    ASSERT_TRUE(w.vfs.mount(FsRef(mnt.get()), w.ctx(), "/mnt").ok());
    ASSERT_EQ(w.mkdir("/mnt/inner"), Error::None);
    w.write_file("/mnt/g", "G");
    for (int i = 0; i <= 40; ++i) {
      std::string target = i == 40 ? "/a" : "chain" + std::to_string(i + 1);
      ASSERT_EQ(w.symlink(target, "/chain" + std::to_string(i)), Error::None);
    }
  }

  // The inode a path resolves to, or the error.
  Result<uint64_t> ino(const std::string& path, unsigned flags = WALK_FOLLOW) {
    auto v = w.vfs.resolve(w.ctx(), sv(path), flags);
    if (!v.ok()) return v.error();
    return v.value()->ino();
  }
  uint64_t ino_of(const std::string& path) { return ino(path).value_or(0); }

  RefPtr<ramfs::Ramfs> mnt;
  World w;
};

struct Case {
  const char* path;
  const char* same_as;  // resolves to the same vnode as this path (nullptr: expect an error)
  Error error;
  unsigned flags = WALK_FOLLOW;
};

TEST_F(Walk, Table) {
  std::string long_name(256, 'n');
  std::string max_name(255, 'n');
  std::string long_path = "/" + std::string(4095, 'p');  // 4096 bytes: one too many
  const Case cases[] = {
      {"/", "/", Error::None},
      {"//a///b//", "/a/b", Error::None},
      {"/a/./b/.", "/a/b", Error::None},
      {"/a/b/..", "/a", Error::None},
      {"/..", "/", Error::None},               // dotdot at the root stays there
      {"/../../a", "/a", Error::None},
      {"a/b", "/a/b", Error::None},            // relative to cwd (the root here)
      {"/a/up/a/f", "/a/f", Error::None},      // relative link climbing with ..
      {"/a/abs/c", "/a/b/c", Error::None},     // absolute link in the middle
      {"/a/rel", "/a/b/c", Error::None},       // relative link, final, followed
      {"/tofile", "/a/f", Error::None},
      {"/a/f/", nullptr, Error::NotDir},       // trailing slash on a file
      {"/a/f/.", nullptr, Error::NotDir},
      {"/a/f/x", nullptr, Error::NotDir},
      {"/tofile/", nullptr, Error::NotDir},    // through a link to a file
      {"/a/missing", nullptr, Error::NotFound},
      {"/a/missing/x", nullptr, Error::NotFound},
      {"/a/dangling", nullptr, Error::NotFound},
      {"", nullptr, Error::NotFound},
      {"/loop1", nullptr, Error::Loop},
      {"/self/x", nullptr, Error::Loop},
      {"/chain0", nullptr, Error::Loop},       // 41 links: one over the limit
      {"/chain1/b", "/a/b", Error::None},      // 40 links: fine
      {"/mnt/inner", "/mnt/inner", Error::None},
      {"/mnt/inner/../..", "/", Error::None},  // .. across the mount point
      {"/mnt/..", "/", Error::None},
      {"/mnt/../a", "/a", Error::None},
      {"/a/up/mnt/g", "/mnt/g", Error::None},
      {"/top", "/top", Error::None},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    auto got = ino(c.path, c.flags);
    if (c.same_as) {
      ASSERT_TRUE(got.ok()) << error_name(got.error());
      EXPECT_EQ(got.value(), ino_of(c.same_as));
    } else {
      EXPECT_EQ(got.error(), c.error) << error_name(got.error());
    }
  }
  EXPECT_EQ(ino("/" + long_name).error(), Error::NameTooLong);
  EXPECT_EQ(ino("/a/" + long_name + "/x").error(), Error::NameTooLong);
  EXPECT_EQ(ino("/" + max_name).error(), Error::NotFound);  // 255 is allowed
  EXPECT_EQ(ino(long_path).error(), Error::NameTooLong);
  EXPECT_EQ(ino(std::string(4095, '/')).value_or(0), ino_of("/"));  // 4095 bytes: allowed
}

TEST_F(Walk, FinalSymlinkFollowsOnlyWhenAsked) {
  auto link = w.vfs.resolve(w.ctx(), "/a/rel", 0);
  ASSERT_TRUE(link.ok());
  EXPECT_TRUE(link.value()->is_symlink());
  // A trailing slash follows regardless.
  EXPECT_EQ(ino("/a/rel/", 0).value_or(0), ino_of("/a/b/c"));
  EXPECT_EQ(ino("/a/f", WALK_DIRECTORY).error(), Error::NotDir);
  // A dangling link without following is the link itself.
  EXPECT_TRUE(w.vfs.resolve(w.ctx(), "/a/dangling", 0).ok());
}

TEST_F(Walk, RelativeToCwdAndChroot) {
  w.cwd = w.vfs.resolve(w.ctx(), "/a/b", WALK_FOLLOW).release_value();
  EXPECT_EQ(ino("c").value_or(0), ino_of("/a/b/c"));
  EXPECT_EQ(ino("../f").value_or(0), ino_of("/a/f"));
  EXPECT_EQ(ino("../../top").value_or(0), ino_of("/top"));
  // A chroot-like root: ".." and absolute links stop at it.
  VnodeRef a = w.vfs.resolve(w.ctx(), "/a", WALK_FOLLOW).release_value();
  PathContext jail{a.get(), a.get()};
  auto up = w.vfs.resolve(jail, "../../..", WALK_FOLLOW);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up.value().get(), a.get());
  auto abs = w.vfs.resolve(jail, "/b/c", WALK_FOLLOW);
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs.value()->ino(), ino_of("/a/b/c"));
  EXPECT_EQ(w.vfs.resolve(jail, "/a", WALK_FOLLOW).error(), Error::NotFound);
}

TEST_F(Walk, SymlinkExpansionTooLong) {
  // A link whose target plus the remaining path passes MAX_PATH.
  std::string target(3000, 'x');
  for (size_t i = 100; i < target.size(); i += 100) target[i] = '/';
  ASSERT_EQ(w.symlink(target, "/big"), Error::None);
  std::string rest(1200, 'y');
  for (size_t i = 100; i < rest.size(); i += 100) rest[i] = '/';
  EXPECT_EQ(ino("/big/" + rest).error(), Error::NameTooLong);
}

TEST_F(Walk, ParentPathKinds) {
  ParentPath pp;
  ASSERT_TRUE(w.vfs.resolve_parent(w.ctx(), "/a/b/new/", pp).ok());
  EXPECT_EQ(pp.kind, ParentPath::Kind::Normal);
  EXPECT_TRUE(pp.trailing_slash);
  EXPECT_TRUE(pp.name() == "new");
  EXPECT_EQ(pp.dir->ino(), ino_of("/a/b"));
  ASSERT_TRUE(w.vfs.resolve_parent(w.ctx(), "/", pp).ok());
  EXPECT_EQ(pp.kind, ParentPath::Kind::Root);
  ASSERT_TRUE(w.vfs.resolve_parent(w.ctx(), "/a/..", pp).ok());
  EXPECT_EQ(pp.kind, ParentPath::Kind::DotDot);
  EXPECT_EQ(w.vfs.resolve_parent(w.ctx(), "/a/f/x", pp).error(), Error::NotDir);
  EXPECT_EQ(w.vfs.resolve_parent(w.ctx(), "/nope/x", pp).error(), Error::NotFound);
}

TEST_F(Walk, PathOps) {
  auto ctx = w.ctx();
  CreateArgs dir;
  dir.mode = 0755;
  EXPECT_EQ(w.vfs.mkdir(ctx, "/a", dir).error(), Error::Exists);
  EXPECT_EQ(w.vfs.mkdir(ctx, "/", dir).error(), Error::Exists);
  EXPECT_EQ(w.vfs.mkdir(ctx, "/a/new/", dir).error(), Error::None);   // mkdir accepts "dir/"
  EXPECT_EQ(w.vfs.symlink("x", ctx, "/a/n2/", {}).error(), Error::NotFound);
  EXPECT_EQ(w.vfs.symlink("", ctx, "/a/n3", {}).error(), Error::NotFound);
  EXPECT_EQ(w.vfs.rmdir(ctx, "/a/b").error(), Error::NotEmpty);
  EXPECT_EQ(w.vfs.rmdir(ctx, "/a/f").error(), Error::NotDir);
  EXPECT_EQ(w.vfs.rmdir(ctx, "/a/.").error(), Error::Invalid);
  EXPECT_EQ(w.vfs.rmdir(ctx, "/a/b/..").error(), Error::NotEmpty);
  EXPECT_EQ(w.vfs.rmdir(ctx, "/").error(), Error::Busy);
  EXPECT_EQ(w.vfs.rmdir(ctx, "/mnt").error(), Error::Busy);           // a mount point
  EXPECT_EQ(w.vfs.unlink(ctx, "/a/b").error(), Error::IsDir);
  EXPECT_EQ(w.vfs.unlink(ctx, "/a/f/").error(), Error::NotDir);
  EXPECT_EQ(w.vfs.unlink(ctx, "/a/rel").error(), Error::None);         // the link, not its target
  EXPECT_TRUE(w.vfs.resolve(ctx, "/a/b/c", 0).ok());
  EXPECT_EQ(w.vfs.rename(ctx, "/a/f", "/mnt/f").error(), Error::CrossDevice);
  EXPECT_EQ(w.vfs.link(ctx, "/a/f", "/mnt/f").error(), Error::CrossDevice);
  EXPECT_EQ(w.vfs.link(ctx, "/a/b", "/a/b2").error(), Error::Permission);
  EXPECT_EQ(w.vfs.rename(ctx, "/a", "/a/b/c/a").error(), Error::Invalid);  // into its own subtree
  EXPECT_EQ(w.vfs.rename(ctx, "/a/f", "/a/b").error(), Error::IsDir);
  EXPECT_EQ(w.vfs.rename(ctx, "/a/b", "/top").error(), Error::NotDir);
  EXPECT_EQ(w.vfs.rename(ctx, "/a/f/", "/a/g").error(), Error::NotDir);
  EXPECT_EQ(w.vfs.rename(ctx, "/a/.", "/x").error(), Error::Busy);
  EXPECT_EQ(w.vfs.rename(ctx, "/a/new", "/a/b/c").error(), Error::None);   // over an empty dir
  EXPECT_EQ(w.vfs.stat(ctx, "/a/new", true).error(), Error::NotFound);
  char buf[64];
  auto n = w.vfs.readlink(ctx, "/a/abs", buf, sizeof(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, n.value()), "/a/b");
  EXPECT_EQ(w.vfs.readlink(ctx, "/a/f", buf, sizeof(buf)).error(), Error::Invalid);
}

TEST_F(Walk, OpenFlags) {
  EXPECT_EQ(w.open("/a/b", OpenHow::WRITE).error(), Error::IsDir);
  EXPECT_EQ(w.open("/a/b", OpenHow::READ | OpenHow::TRUNC).error(), Error::IsDir);
  EXPECT_EQ(w.open("/a/f", OpenHow::READ | OpenHow::DIRECTORY).error(), Error::NotDir);
  EXPECT_EQ(w.open("/tofile", OpenHow::READ | OpenHow::NOFOLLOW).error(), Error::Loop);
  EXPECT_TRUE(w.open("/tofile", OpenHow::PATH | OpenHow::NOFOLLOW).ok());
  EXPECT_EQ(w.open("/a/f", OpenHow::WRITE | OpenHow::CREATE | OpenHow::EXCL).error(), Error::Exists);
  EXPECT_EQ(w.open("/a/newfile/", OpenHow::WRITE | OpenHow::CREATE).error(), Error::IsDir);
  EXPECT_EQ(w.open("/a/b", OpenHow::READ | OpenHow::CREATE).error(), Error::IsDir);
  // O_CREAT through a dangling symlink creates its target.
  ASSERT_TRUE(w.open("/a/dangling", OpenHow::WRITE | OpenHow::CREATE).ok());
  EXPECT_TRUE(w.stat("/a/nowhere").ok());
  EXPECT_EQ(w.open("/a/dangling", OpenHow::WRITE | OpenHow::CREATE | OpenHow::EXCL).error(), Error::Exists);
  // O_TRUNC empties.
  w.write_file("/t", "hello");
  ASSERT_TRUE(w.open("/t", OpenHow::WRITE | OpenHow::TRUNC).ok());
  EXPECT_EQ(w.read_file("/t"), "");
}

TEST_F(Walk, MountAndUnmount) {
  EXPECT_EQ(w.read_file("/mnt/g"), "G");
  EXPECT_EQ(w.vfs.unmount(w.ctx(), "/a").error(), Error::Invalid);
  EXPECT_EQ(w.vfs.unmount(w.ctx(), "/").error(), Error::Busy);
  // A third mount below the second makes the second busy.
  auto third = ramfs::Ramfs::create().release_value();
  ASSERT_TRUE(w.vfs.mount(FsRef(third.get()), w.ctx(), "/mnt/inner").ok());
  EXPECT_EQ(w.vfs.stats().mounts, 3u);
  EXPECT_EQ(w.vfs.unmount(w.ctx(), "/mnt").error(), Error::Busy);
  ASSERT_TRUE(w.vfs.unmount(w.ctx(), "/mnt/inner").ok());
  // An open file survives the unmount of its file system.
  auto g = w.open("/mnt/g");
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(w.vfs.unmount(w.ctx(), "/mnt").ok());
  EXPECT_EQ(w.stat("/mnt/g").error(), Error::NotFound);  // the covered, empty directory again
  EXPECT_EQ(World::read_all(*g.value()), "G");
}

TEST_F(Walk, PathOf) {
  char buf[256];
  VnodeRef c = w.vfs.resolve(w.ctx(), "/a/b/c", WALK_FOLLOW).release_value();
  auto n = w.vfs.path_of(w.ctx(), *c, buf, sizeof(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, n.value()), "/a/b/c");
  VnodeRef inner = w.vfs.resolve(w.ctx(), "/mnt/inner", WALK_FOLLOW).release_value();
  auto n2 = w.vfs.path_of(w.ctx(), *inner, buf, sizeof(buf));
  ASSERT_TRUE(n2.ok());
  EXPECT_EQ(std::string(buf, n2.value()), "/mnt/inner");
  auto n3 = w.vfs.path_of(w.ctx(), *w.root, buf, sizeof(buf));
  ASSERT_TRUE(n3.ok());
  EXPECT_EQ(std::string(buf, n3.value()), "/");
  EXPECT_EQ(w.vfs.path_of(w.ctx(), *c, buf, 4).error(), Error::Range);
  // A removed directory has no path.
  ASSERT_EQ(w.vfs.rmdir(w.ctx(), "/a/b/c").error(), Error::None);
  EXPECT_EQ(w.vfs.path_of(w.ctx(), *c, buf, sizeof(buf)).error(), Error::NotFound);
  EXPECT_EQ(c->lookup("..").error(), Error::NotFound);
}

}  // namespace
