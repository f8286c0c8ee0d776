// Permissions (fs/vfs/permission.cc): the mode's classes, the capabilities
// that override them, the walk's search check, the sticky bit and the
// rules of setattr, on a ramfs namespace (the guest test abi_perm checks
// the same against Linux).
#include <gtest/gtest.h>

#include "vfs_test_util.h"

using namespace vfs_test;

namespace {

Attr file(uint32_t mode, uint32_t uid, uint32_t gid) {
  Attr a;
  a.mode = mode;
  a.uid = uid;
  a.gid = gid;
  return a;
}

bool in_100(const void*, uint32_t gid) { return gid == 100; }

Cred user(uint32_t uid = 1000, uint32_t gid = 1000) {
  Cred c;
  c.uid = uid;
  c.gid = gid;
  c.in_groups = in_100;
  return c;
}

Cred root() {
  Cred c;
  c.dac_override = c.dac_read_search = c.fowner = c.fsetid = c.chown = c.mknod = true;
  return c;
}

TEST(Permission, FirstMatchingClassDecides) {
  Cred u = user();
  EXPECT_TRUE(may_access(&u, file(MODE_REGULAR | 0600, 1000, 0), MAY_READ | MAY_WRITE).ok());
  EXPECT_EQ(may_access(&u, file(MODE_REGULAR | 0077, 1000, 1000), MAY_READ).error(), Error::AccessDenied);
  EXPECT_TRUE(may_access(&u, file(MODE_REGULAR | 0040, 0, 100), MAY_READ).ok());  // supplementary group
  EXPECT_EQ(may_access(&u, file(MODE_REGULAR | 0604, 0, 100), MAY_READ).error(), Error::AccessDenied);
  EXPECT_TRUE(may_access(&u, file(MODE_REGULAR | 0604, 0, 0), MAY_READ).ok());
  EXPECT_TRUE(may_access(nullptr, file(MODE_REGULAR, 0, 0), MAY_READ | MAY_WRITE | MAY_EXEC).ok());
}

TEST(Permission, CapabilitiesOverride) {
  Cred r = root();
  EXPECT_TRUE(may_access(&r, file(MODE_REGULAR | 0, 5, 5), MAY_READ | MAY_WRITE).ok());
  EXPECT_EQ(may_access(&r, file(MODE_REGULAR | 0644, 5, 5), MAY_EXEC).error(), Error::AccessDenied);
  EXPECT_TRUE(may_access(&r, file(MODE_REGULAR | 0100, 5, 5), MAY_EXEC).ok());
  EXPECT_TRUE(may_access(&r, file(MODE_DIR | 0, 5, 5), MAY_EXEC | MAY_WRITE).ok());
  r.dac_override = false;  // CAP_DAC_READ_SEARCH only
  EXPECT_TRUE(may_access(&r, file(MODE_REGULAR | 0, 5, 5), MAY_READ).ok());
  EXPECT_EQ(may_access(&r, file(MODE_REGULAR | 0, 5, 5), MAY_WRITE).error(), Error::AccessDenied);
  EXPECT_TRUE(may_access(&r, file(MODE_DIR | 0, 5, 5), MAY_READ | MAY_EXEC).ok());
  EXPECT_EQ(may_access(&r, file(MODE_DIR | 0, 5, 5), MAY_WRITE).error(), Error::AccessDenied);
}

struct PermWorld : World {
  Cred u = user();
  PathContext as_user() { return {root.get(), root.get(), &u}; }
  void chmod(const char* p, uint32_t mode, uint32_t uid = 0) {
    SetAttr s;
    s.mask = SetAttr::MODE | SetAttr::UID;
    s.mode = mode;
    s.uid = uid;
    ASSERT_TRUE(vfs.setattr(ctx(), p, s, false).ok());
  }
};

TEST(Permission, WalkNeedsSearch) {
  PermWorld w;
  ASSERT_EQ(w.mkdir("/d", 0700), Error::None);
  ASSERT_TRUE(w.open("/d/f", OpenHow::WRITE | OpenHow::CREATE).ok());
  EXPECT_EQ(w.vfs.stat(w.as_user(), "/d/f", true).error(), Error::AccessDenied);
  EXPECT_EQ(w.vfs.stat(w.as_user(), "/d/missing", true).error(), Error::AccessDenied);
  EXPECT_TRUE(w.vfs.stat(w.as_user(), "/d", true).ok());
  w.chmod("/d", 0711);
  EXPECT_TRUE(w.vfs.stat(w.as_user(), "/d/f", true).ok());
}

TEST(Permission, StickyDirectory) {
  PermWorld w;
  ASSERT_EQ(w.mkdir("/t", 01777), Error::None);
  ASSERT_TRUE(w.open("/t/roots", OpenHow::WRITE | OpenHow::CREATE, 0666).ok());
  EXPECT_EQ(w.vfs.unlink(w.as_user(), "/t/roots").error(), Error::Permission);
  OpenHow h;
  h.flags = OpenHow::WRITE | OpenHow::CREATE;
  h.create.mode = 0600;
  h.create.uid = 1000;
  ASSERT_TRUE(w.vfs.open(w.as_user(), "/t/mine", h).ok());
  EXPECT_TRUE(w.vfs.unlink(w.as_user(), "/t/mine").ok());
}

TEST(Permission, SetattrRules) {
  PermWorld w;
  ASSERT_TRUE(w.open("/f", OpenHow::WRITE | OpenHow::CREATE, 0644).ok());
  SetAttr s;
  s.mask = SetAttr::MODE;
  s.mode = 0600;
  EXPECT_EQ(w.vfs.setattr(w.as_user(), "/f", s, true).error(), Error::Permission);
  w.chmod("/f", 06755, 1000);  // now the user's, set-id
  s.mode = 02755;              // group 0 is not the user's: the bit goes
  EXPECT_TRUE(w.vfs.setattr(w.as_user(), "/f", s, true).ok());
  EXPECT_EQ(w.vfs.stat(w.ctx(), "/f", true).value().mode & 07777, 0755u);
  SetAttr g;
  g.mask = SetAttr::GID;
  g.gid = 100;  // one of its groups
  EXPECT_TRUE(w.vfs.setattr(w.as_user(), "/f", g, true).ok());
  g.gid = 0;
  EXPECT_EQ(w.vfs.setattr(w.as_user(), "/f", g, true).error(), Error::Permission);
  SetAttr t;
  t.mask = SetAttr::MTIME;
  EXPECT_TRUE(w.vfs.setattr(w.as_user(), "/f", t, true).ok());
  w.chmod("/f", 0666, 0);  // root's, writable by all
  EXPECT_EQ(w.vfs.setattr(w.as_user(), "/f", t, true).error(), Error::Permission);
  t.mask = SetAttr::ATIME_NOW | SetAttr::MTIME_NOW;
  EXPECT_TRUE(w.vfs.setattr(w.as_user(), "/f", t, true).ok());
}

}  // namespace
