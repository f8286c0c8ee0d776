// fallocate on ext4 (fs/ext4/node_space.cc, extent_range.cc, docs/ext4.md
// "fallocate"): ranges backed by unwritten extents (read as zeros,
// converted block by block when written), KEEP_SIZE's blocks past the
// end, holes punched (partial blocks zeroed, whole ones freed, extents
// split), and a range larger than the disk (NoSpace, nothing leaked).
// Judged by e2fsck -fn, debugfs cat (the bytes), debugfs stat (the block
// count) and ex (the unwritten flags), and statfs's free blocks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "fs/ext4/layout.h"
#include "tests/fuzz/ext4_harness.h"
#include "tests/unit/e2fs_tools.h"

using namespace capsule;
using ext4_harness::MemIo;
using namespace e2fs_tools;

namespace {

std::vector<uint8_t> make_image(const std::string& opts, const std::string& size) {
  TempDir t;
  std::string img = t.path + "/img";
  if (run("mke2fs -q -F " + opts + " " + img + " " + size).find("rc=0") == std::string::npos) return {};
  std::ifstream f(img, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), {});
}

// Runs debugfs `req` over the image.
std::string debugfs(const std::vector<uint8_t>& img, const std::string& req) {
  TempDir t;
  {
    std::ofstream f(t.path + "/img", std::ios::binary);
    f.write(reinterpret_cast<const char*>(img.data()), std::streamsize(img.size()));
  }
  std::string out = run("sh -c \"debugfs -R '" + req + "' " + t.path + "/img 2>/dev/null\"");
  return out.substr(0, out.rfind("\nrc="));
}

uint64_t blockcount(const std::vector<uint8_t>& img, const std::string& path) {
  std::string st = debugfs(img, "stat " + path);
  size_t at = st.find("Blockcount: ");
  return at == std::string::npos ? ~0ull : strtoull(st.c_str() + at + 12, nullptr, 10);
}

std::string get(vfs::Vnode& f, uint64_t off, size_t n) {
  std::string s(n, '\0');
  KernelBuffer kb(s.data(), s.size());
  auto r = f.read(off, kb);
  s.resize(r.ok() ? r.value() : 0);
  return s;
}

vfs::CreateArgs regular() {
  vfs::CreateArgs a;
  a.mode = vfs::MODE_REGULAR | 0644;
  return a;
}

void splice(std::string& s, uint64_t off, const std::string& data) {
  if (s.size() < off + data.size()) s.resize(off + data.size(), '\0');
  s.replace(off, data.size(), data);
}

}  // namespace

TEST(Ext4Fallocate, UnwrittenExtentsAndPunchedHoles) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  for (const char* opts : {"-t ext4 -b 4096", "-t ext4 -b 1024 -O ^metadata_csum,^has_journal"}) {
    MemIo io(make_image(opts, "32M"), true);
    ASSERT_FALSE(io.bytes_.empty()) << opts;
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    ASSERT_FALSE(mr.read_only) << mr.note;
    const uint32_t bs = uint32_t(mr.fs->statfs().bsize);
    const uint64_t free0 = mr.fs->statfs().bfree;
    std::string pre, keep, punched;
    {
      vfs::VnodeRef root = mr.fs->root();
      // Mode 0: 1 MiB of unwritten blocks, the size covers them.
      vfs::VnodeRef f = root->create("pre", regular()).value();
      ASSERT_TRUE(f->allocate(0, 1 << 20, false).ok()) << opts;
      EXPECT_EQ(f->getattr().value().size, uint64_t(1) << 20);
      pre.assign(1 << 20, '\0');
      EXPECT_TRUE(get(*f, 0, 1 << 20) == pre) << opts << ": unwritten blocks read as zeros";
      // The data blocks, and perhaps an extent tree block (1 KiB blocks:
      // the range crosses group metadata, more than the root's 4 extents).
      const uint64_t after_alloc = mr.fs->statfs().bfree;
      EXPECT_LE(after_alloc, free0 - (1u << 20) / bs) << opts;
      EXPECT_GE(after_alloc + 1, free0 - (1u << 20) / bs) << opts;
      // Written in the middle of a block (split in three), then a run in
      // order (joining one written extent), then the last block.
      std::string a = pattern(100, 1), b = pattern(10 * bs, 2), c = pattern(bs, 3);
      ASSERT_TRUE(put(*f, 5 * bs + 17, a).ok());
      splice(pre, 5 * bs + 17, a);
      ASSERT_TRUE(put(*f, 20 * bs, b).ok());
      splice(pre, 20 * bs, b);
      ASSERT_TRUE(put(*f, (1 << 20) - bs, c).ok());
      splice(pre, (1 << 20) - bs, c);
      EXPECT_TRUE(get(*f, 0, 1 << 20) == pre) << opts;
      // The writes used the allocated blocks (a split may take a tree block).
      const uint64_t after_write = mr.fs->statfs().bfree;
      EXPECT_GE(after_write + 1, after_alloc) << opts;
      // Again over what is there: nothing more is allocated.
      ASSERT_TRUE(f->allocate(0, 1 << 20, false).ok());
      EXPECT_EQ(mr.fs->statfs().bfree, after_write) << opts;

      // KEEP_SIZE: blocks past the end, the size unchanged.
      vfs::VnodeRef k = root->create("keep", regular()).value();
      keep = pattern(3000, 4);
      ASSERT_TRUE(put(*k, 0, keep).ok());
      ASSERT_TRUE(k->allocate(0, 256 * 1024, true).ok());
      EXPECT_EQ(k->getattr().value().size, 3000u);
      // Appended into them: converted.
      std::string more = pattern(5000, 5);
      ASSERT_TRUE(put(*k, 3000, more).ok());
      keep += more;

      // Punched: a written file loses the middle; a partial block at each
      // end is zeroed, the whole blocks between are freed.
      vfs::VnodeRef p = root->create("punched", regular()).value();
      punched = pattern(300000, 6);
      ASSERT_TRUE(put(*p, 0, punched).ok());
      uint64_t before = mr.fs->statfs().bfree;
      ASSERT_TRUE(p->punch_hole(5000, 200000).ok());
      std::fill(punched.begin() + 5000, punched.begin() + 205000, '\0');
      EXPECT_EQ(p->getattr().value().size, 300000u);
      EXPECT_TRUE(get(*p, 0, 300000) == punched) << opts;
      uint64_t whole = (205000 / bs) - (5000 + bs - 1) / bs;
      EXPECT_EQ(mr.fs->statfs().bfree, before + whole) << opts;
      // Within one block; past the end (nothing); the unwritten file's
      // middle (an unwritten extent split in two).
      ASSERT_TRUE(p->punch_hole(250001, 10).ok());
      std::fill(punched.begin() + 250001, punched.begin() + 250011, '\0');
      ASSERT_TRUE(p->punch_hole(400000, 1000).ok());
      EXPECT_TRUE(get(*p, 0, 300000) == punched) << opts;
      ASSERT_TRUE(f->punch_hole(100 * bs, 50 * bs).ok());
      pre.replace(100 * bs, 50 * bs, std::string(50 * bs, '\0'));
      EXPECT_TRUE(get(*f, 0, 1 << 20) == pre) << opts;
      // Bad input: a zero length is EINVAL, a directory EISDIR.
      EXPECT_EQ(f->allocate(0, 0, false).error(), Error::Invalid);
      EXPECT_EQ(root->allocate(0, 10, false).error(), Error::IsDir);
    }
    mr.fs->shutdown();
    std::string out = fsck(io.bytes_);
    EXPECT_NE(out.find("rc=0"), std::string::npos) << opts << "\n" << out;
    EXPECT_TRUE(debugfs(io.bytes_, "cat /pre") == pre) << opts;
    EXPECT_TRUE(debugfs(io.bytes_, "cat /keep") == keep) << opts;
    EXPECT_TRUE(debugfs(io.bytes_, "cat /punched") == punched) << opts;
    EXPECT_NE(debugfs(io.bytes_, "ex /pre").find("Uninit"), std::string::npos) << opts;
    // Block counts in 512-byte units: every allocated block counted (e2fsck
    // checked them against the tree), plus a tree block or two.
    const uint64_t tree = 2 * bs / 512;
    EXPECT_GE(blockcount(io.bytes_, "/pre"), uint64_t((1 << 20) - 50 * bs) / 512) << opts;
    EXPECT_LE(blockcount(io.bytes_, "/pre"), uint64_t((1 << 20) - 50 * bs) / 512 + tree) << opts;
    EXPECT_GE(blockcount(io.bytes_, "/keep"), uint64_t(256 * 1024) / 512) << opts;
    EXPECT_LE(blockcount(io.bytes_, "/keep"), uint64_t(256 * 1024) / 512 + tree) << opts;
  }
}

TEST(Ext4Fallocate, LargerThanTheDiskIsNoSpaceAndLeaksNothing) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  MemIo io(make_image("-t ext4 -b 4096 -O ^has_journal", "8M"), true);
  ASSERT_FALSE(io.bytes_.empty());
  ext4::MountResult mr;
  ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
  const uint64_t free0 = mr.fs->statfs().bfree;
  {
    vfs::VnodeRef root = mr.fs->root();
    vfs::VnodeRef f = root->create("big", regular()).value();
    EXPECT_EQ(f->allocate(0, 64 << 20, false).error(), Error::NoSpace);
    EXPECT_EQ(f->getattr().value().size, 0u);  // the size only for a whole range
    EXPECT_LT(mr.fs->statfs().bfree, 8u);
    std::string mid = fsck(io.bytes_);
    EXPECT_NE(mid.find("rc=0"), std::string::npos) << mid;
    f = vfs::VnodeRef();
    ASSERT_TRUE(root->unlink("big").ok());
  }
  EXPECT_EQ(mr.fs->statfs().bfree, free0);
  mr.fs->shutdown();
  std::string out = fsck(io.bytes_);
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
}
