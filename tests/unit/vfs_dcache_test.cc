// Dentry cache: hits, negative entries, invalidation by every name change,
// eviction at capacity, and no stale answers after a racing change.
#include "fs/vfs/dcache.h"

#include "vfs_test_util.h"

using namespace vfs_test;

namespace {

TEST(Dcache, HitsAndNegativeEntries) {
  World w;
  w.write_file("/f", "x");
  w.vfs.drop_caches();
  auto before = w.vfs.stats();
  ASSERT_TRUE(w.stat("/f").ok());
  ASSERT_TRUE(w.stat("/f").ok());
  auto after = w.vfs.stats();
  EXPECT_EQ(after.dcache_misses - before.dcache_misses, 1u);
  EXPECT_EQ(after.dcache_hits - before.dcache_hits, 1u);
  // A miss is remembered as a negative entry...
  EXPECT_EQ(w.stat("/nope").error(), Error::NotFound);
  auto neg = w.vfs.stats();
  EXPECT_EQ(w.stat("/nope").error(), Error::NotFound);
  EXPECT_EQ(w.vfs.stats().dcache_hits - neg.dcache_hits, 1u);
  // ...which creating the name replaces.
  w.write_file("/nope", "now");
  EXPECT_EQ(w.read_file("/nope"), "now");
}

TEST(Dcache, EveryChangeInvalidates) {
  World w;
  w.write_file("/a", "A");
  w.write_file("/b", "B");
  ASSERT_EQ(w.read_file("/a"), "A");  // cached
  ASSERT_EQ(w.vfs.unlink(w.ctx(), "/a").error(), Error::None);
  EXPECT_EQ(w.stat("/a").error(), Error::NotFound);
  ASSERT_EQ(w.read_file("/b"), "B");
  ASSERT_EQ(w.vfs.rename(w.ctx(), "/b", "/a").error(), Error::None);
  EXPECT_EQ(w.read_file("/a"), "B");
  EXPECT_EQ(w.stat("/b").error(), Error::NotFound);
  ASSERT_EQ(w.mkdir("/d"), Error::None);
  EXPECT_EQ(w.stat("/d/x").error(), Error::NotFound);  // negative entry under /d
  ASSERT_EQ(w.vfs.rmdir(w.ctx(), "/d").error(), Error::None);
  EXPECT_EQ(w.stat("/d").error(), Error::NotFound);
  ASSERT_EQ(w.mkdir("/d"), Error::None);
  EXPECT_EQ(w.stat("/d/x").error(), Error::NotFound);
  ASSERT_EQ(w.vfs.link(w.ctx(), "/a", "/d/x").error(), Error::None);
  EXPECT_EQ(w.read_file("/d/x"), "B");
}

TEST(Dcache, EvictsAtCapacity) {
  World w(/*dcache=*/8);
  for (int i = 0; i < 50; ++i) w.write_file("/f" + std::to_string(i), std::to_string(i));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(w.read_file("/f" + std::to_string(i)), std::to_string(i));
  EXPECT_LE(w.vfs.stats().dcache_entries, 8u);
}

TEST(Dcache, RacingChangeIsNotCached) {
  // Drive the cache directly: a lookup that started before a change in the
  // same directory must not insert its (possibly stale) answer.
  // A file system of its own: a directory's entries belong to one cache.
  auto fs = ramfs::Ramfs::create().release_value();
  DentryCache dc(16);
  Vnode& dir = *fs->root();
  CreateArgs a;
  a.mode = MODE_REGULAR | 0644;
  VnodeRef f = dir.create("f", a).release_value();
  VnodeRef out;
  auto t = dc.begin_lookup(dir);
  dc.begin_change(dir);
  dc.end_change(dir, "f");
  dc.insert(t, dir, "f", f.get());
  EXPECT_EQ(dc.lookup(dir, "f", &out), DentryCache::Hit::Miss);
  // During a change, not even a fresh ticket is good.
  dc.begin_change(dir);
  auto t2 = dc.begin_lookup(dir);
  dc.insert(t2, dir, "f", f.get());
  EXPECT_EQ(dc.lookup(dir, "f", &out), DentryCache::Hit::Miss);
  dc.end_change(dir, "f");
  auto t3 = dc.begin_lookup(dir);
  dc.insert(t3, dir, "f", f.get());
  EXPECT_EQ(dc.lookup(dir, "f", &out), DentryCache::Hit::Positive);
  EXPECT_EQ(out.get(), f.get());
  dc.insert(dc.begin_lookup(dir), dir, "g", nullptr);
  EXPECT_EQ(dc.lookup(dir, "g", &out), DentryCache::Hit::Negative);
  EXPECT_EQ(dc.size(), 2u);
  dc.purge_dir(dir);
  EXPECT_EQ(dc.size(), 0u);
  fs->shutdown();
}

TEST(Dcache, ReferencesDropWithEntries) {
  World w;
  w.write_file("/f", "x");
  VnodeRef f = w.vfs.resolve(w.ctx(), "/f", 0).release_value();
  uint32_t cached = f->ref_count();  // ours + the directory entry + the dentry
  w.vfs.drop_caches();
  EXPECT_EQ(f->ref_count(), cached - 1);
}

}  // namespace
