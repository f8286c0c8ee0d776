// Extent trees deeper than one index level (fs/ext4/extent_write.cc,
// docs/ext4.md "Writing"): a file written every other block, then filled
// in, grows its tree past depth 1 (each extent its own: leaves split,
// index nodes split, the root moves down); then truncated back in steps
// to nothing. After each phase `e2fsck -fn` (which walks the whole tree)
// must be clean and `debugfs cat` must give the file's bytes; at the end
// every block is free again.
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

// Block i's bytes: its number everywhere, so a misplaced block shows.
std::string block_bytes(uint32_t bs, uint32_t i) {
  std::string s(bs, '\0');
  for (uint32_t k = 0; k < bs; k += 4) {
    uint32_t v = i * 2654435761u + k;
    __builtin_memcpy(&s[k], &v, 4);
  }
  return s;
}

// e2fsck clean, the file's bytes as debugfs reads them, and the tree's
// depth (debugfs `ex` lists every node as "level/depth").
struct Checked {
  bool clean = false, same = false;
  int depth = -1;
  std::string fsck;
};
Checked check(const std::vector<uint8_t>& img, const std::string& want) {
  Checked c;
  TempDir t;
  save(img, t.path + "/img");
  c.fsck = run("e2fsck -fn " + t.path + "/img");
  c.clean = c.fsck.find("rc=0") != std::string::npos;
  std::string got = run("sh -c \"debugfs -R 'cat /frag' " + t.path + "/img 2>/dev/null\"");
  got = got.substr(0, got.rfind("\nrc="));
  c.same = got == want;
  std::string ex = run("debugfs -R 'ex /frag' " + t.path + "/img");
  // Lines such as " 0/ 2   1/  4     0 - 4294967295  1234  ..."
  size_t at = ex.find("Level Entries");
  if (at != std::string::npos) {
    size_t line = ex.find('\n', at);
    if (line != std::string::npos) {
      unsigned lvl, max;
      if (sscanf(ex.c_str() + line + 1, " %u/ %u", &lvl, &max) == 2) c.depth = int(max);
    } else {
      c.depth = 0;
    }
  }
  if (ex.find("Level Entries") != std::string::npos && c.depth < 0) c.depth = 0;
  return c;
}

}  // namespace

TEST(Ext4Extents, DeepTreeGrowsAndShrinks) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  struct Case {
    const char* opts;
    const char* size;
    uint32_t file_mib;
    int sparse_depth, filled_depth;  // at least
  };
  for (const Case& c : {Case{"-t ext4 -b 4096", "128M", 64, 2, 2}, Case{"-t ext4 -b 1024", "96M", 32, 2, 3}}) {
    TempDir t;
    std::string img = t.path + "/img";
    ASSERT_NE(run(std::string("mke2fs -q -F ") + c.opts + " " + img + " " + c.size).find("rc=0"), std::string::npos);
    std::vector<uint8_t> bytes;
    {
      std::ifstream f(img, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(f), {});
    }
    MemIo io(bytes, true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    ASSERT_FALSE(mr.read_only) << mr.note;
    const uint32_t bs = uint32_t(mr.fs->statfs().bsize);
    const uint32_t blocks = (c.file_mib << 20) / bs;
    const uint64_t free_before = mr.fs->statfs().bfree;
    std::string want(size_t(blocks) * bs, '\0');
    vfs::VnodeRef root = mr.fs->root();
    vfs::VnodeRef f = root->create("frag", vfs::CreateArgs{vfs::MODE_REGULAR | 0644}).value();
    // Every other block: each its own extent.
    for (uint32_t i = 0; i < blocks; i += 2) {
      std::string b = block_bytes(bs, i);
      auto r = put(*f, uint64_t(i) * bs, b);
      ASSERT_TRUE(r.ok() && r.value() == bs) << c.opts << " block " << i << " " << error_name(r.error());
      want.replace(size_t(i) * bs, bs, b);
    }
    want.resize(size_t(blocks - 1) * bs);  // the file ends after its last written block
    // The metadata is batched in the running journal transaction: fsync
    // commits it before the image is read from the host.
    ASSERT_TRUE(f->fsync().ok());
    Checked k = check(io.bytes_, want);
    EXPECT_TRUE(k.clean) << c.opts << " sparse\n" << k.fsck.substr(0, 2000);
    EXPECT_TRUE(k.same) << c.opts << " sparse";
    EXPECT_GE(k.depth, c.sparse_depth) << c.opts << " sparse";
    // The holes filled in.
    want.resize(size_t(blocks) * bs, '\0');
    for (uint32_t i = 1; i < blocks; i += 2) {
      std::string b = block_bytes(bs, i);
      auto r = put(*f, uint64_t(i) * bs, b);
      ASSERT_TRUE(r.ok() && r.value() == bs) << c.opts << " block " << i << " " << error_name(r.error());
      want.replace(size_t(i) * bs, bs, b);
    }
    ASSERT_TRUE(f->fsync().ok());
    k = check(io.bytes_, want);
    EXPECT_TRUE(k.clean) << c.opts << " filled\n" << k.fsck.substr(0, 2000);
    EXPECT_TRUE(k.same) << c.opts << " filled";
    EXPECT_GE(k.depth, c.filled_depth) << c.opts << " filled";
    // Read back through the driver too.
    {
      std::string back(bs, '\0');
      KernelBuffer kb(back.data(), back.size());
      uint32_t mid = blocks / 2 + 1;
      ASSERT_EQ(f->read(uint64_t(mid) * bs, kb).value(), bs);
      EXPECT_TRUE(back == block_bytes(bs, mid));
    }
    // Truncated back in steps: into the middle of a leaf, a few blocks, nothing.
    for (uint64_t size : {uint64_t(blocks / 3) * bs + 100, uint64_t(5) * bs, uint64_t(0)}) {
      ASSERT_TRUE(f->truncate(size).ok()) << size;
      ASSERT_TRUE(f->fsync().ok());
      want.resize(size);
      k = check(io.bytes_, want);
      EXPECT_TRUE(k.clean) << c.opts << " truncated to " << size << "\n" << k.fsck.substr(0, 2000);
      EXPECT_TRUE(k.same) << c.opts << " truncated to " << size;
    }
    f = vfs::VnodeRef();
    ASSERT_TRUE(root->unlink("frag").ok());
    root = vfs::VnodeRef();
    mr.fs->shutdown();
    EXPECT_EQ(mr.fs->statfs().bfree, free_before) << c.opts << ": every block back";
    k = check(io.bytes_, "");
    EXPECT_TRUE(k.clean) << c.opts << " removed\n" << k.fsck.substr(0, 2000);
  }
}
