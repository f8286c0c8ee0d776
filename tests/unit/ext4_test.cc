// ext4 over the block cache on the host (fs/ext4, fs/block; docs/ext4.md):
// images made by Debian's mke2fs at test time, mounted from memory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

#include "fs/ext4/layout.h"
#include "lib/crc32c.h"
#include "fs/vfs/page_cache.h"
#include "tests/fuzz/ext4_harness.h"

using namespace capsule;
using ext4_harness::MemIo;

namespace {

bool have_mke2fs() { return system("command -v mke2fs >/dev/null 2>&1 || test -x /usr/sbin/mke2fs") == 0; }

// A small tree and its image; "" if mke2fs failed.
std::vector<uint8_t> make_image(const std::string& options, const char* size = "16M") {
  char dir[] = "/tmp/capsule-ext4-test-XXXXXX";
  if (!mkdtemp(dir)) return {};
  std::string d = dir;
  std::string tree = d + "/tree";
  mkdir(tree.c_str(), 0755);
  mkdir((tree + "/sub").c_str(), 0750);
  { std::ofstream(tree + "/a.txt") << "hello ext4\n"; }
  {
    std::ofstream f(tree + "/sub/big", std::ios::binary);
    for (int i = 0; i < 300000; ++i) f.put(char(i * 7));
  }
  {
    std::ofstream f(tree + "/sparse", std::ios::binary);
    f << "x";
    f.seekp(5 << 20);
    f << "y";
  }
  (void)symlink("a.txt", (tree + "/fast").c_str());
  (void)symlink(std::string(100, 'z').c_str(), (tree + "/slow").c_str());
  std::string img = d + "/img";
  std::string cmd = "PATH=$PATH:/usr/sbin mke2fs -q -F " + options + " -d " + tree + " " + img + " " + size + " >/dev/null 2>&1";
  std::vector<uint8_t> bytes;
  if (system(cmd.c_str()) == 0) {
    std::ifstream f(img, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  system(("rm -rf " + d).c_str());
  return bytes;
}

uint64_t fnv(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string expected_listing() {
  std::string big;
  for (int i = 0; i < 300000; ++i) big.push_back(char(i * 7));
  std::string sparse = "x" + std::string((5 << 20) - 1, '\0') + "y";
  std::string t;
  t += "/a.txt f 11 " + std::to_string(fnv("hello ext4\n")) + "\n";
  t += "/fast -> a.txt\n";
  t += "/slow -> " + std::string(100, 'z') + "\n";
  t += "/sparse f " + std::to_string(sparse.size()) + " " + std::to_string(fnv(sparse)) + "\n";
  t += "/sub d\n";
  t += "/sub/big f 300000 " + std::to_string(fnv(big)) + "\n";
  return t;
}

// walk() lists in directory order; sort the lines for the comparison.
std::string sorted_lines(const std::string& s) {
  std::vector<std::string> v;
  size_t p = 0;
  while (p < s.size()) {
    size_t e = s.find('\n', p);
    std::string line = s.substr(p, e - p);
    if (line.rfind("/lost+found", 0) != 0) v.push_back(line);
    p = e + 1;
  }
  std::sort(v.begin(), v.end());
  std::string out;
  for (auto& l : v) out += l + "\n";
  return out;
}

// Sets a superblock field and recomputes the metadata_csum checksum.
void patch_super(std::vector<uint8_t>& img, size_t off, uint32_t value) {
  uint8_t* sb = img.data() + 1024;
  for (int i = 0; i < 4; ++i) sb[off + i] = uint8_t(value >> (8 * i));
  uint32_t c = crc32c(~0u, sb, 0x3FC);
  for (int i = 0; i < 4; ++i) sb[0x3FC + i] = uint8_t(c >> (8 * i));
}

}  // namespace

TEST(Crc32c, KnownValue) {
  // The CRC-32C check value (RFC 3720 B.4): "123456789" -> 0xE3069283
  // with the usual inversions.
  EXPECT_EQ(~crc32c(~0u, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(~0u, "", 0), ~0u);
}

TEST(Ext4, ReadsWhatMke2fsWrote) {
  if (!have_mke2fs()) GTEST_SKIP() << "no mke2fs (apt-get install e2fsprogs)";
  for (const char* opts : {"-t ext4", "-t ext4 -b 4096", "-t ext2", "-t ext4 -O ^metadata_csum,^64bit"}) {
    std::vector<uint8_t> img = make_image(opts);
    ASSERT_FALSE(img.empty()) << opts;
    MemIo io(img);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << opts << ": " << mr.note;
    EXPECT_TRUE(mr.read_only);
    size_t errors = 0;
    std::string text;
    vfs::VnodeRef root = mr.fs->root();
    ext4_harness::walk(*root, 4, &errors, &text);
    EXPECT_EQ(errors, 0u) << opts;
    EXPECT_EQ(sorted_lines(text), expected_listing()) << opts;
    // statfs: ext4's magic and figures that add up.
    vfs::FsStat st = mr.fs->statfs();
    EXPECT_EQ(st.magic, 0xEF53u);
    EXPECT_GT(st.blocks, st.bfree);
    EXPECT_GT(st.files, st.ffree);
    // Attributes: the sparse file holds far fewer blocks than its size.
    vfs::VnodeRef sparse = root->lookup("sparse").value();
    vfs::Attr a = sparse->getattr().value();
    EXPECT_EQ(a.size, uint64_t(5 << 20) + 1);
    EXPECT_LT(a.blocks * 512, a.size / 4) << opts;
    EXPECT_EQ(root->lookup("nope").error(), Error::NotFound);
    EXPECT_EQ(sparse->lookup("x").error(), Error::NotDir);
    root = vfs::VnodeRef();
    sparse = vfs::VnodeRef();
    mr.fs->shutdown();
  }
}

TEST(Ext4, EveryChangeIsReadOnly) {
  if (!have_mke2fs()) GTEST_SKIP() << "no mke2fs";
  MemIo io(make_image("-t ext4"));
  ext4::MountResult mr;
  ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
  vfs::VnodeRef root = mr.fs->root();
  vfs::VnodeRef file = root->lookup("a.txt").value();
  vfs::CreateArgs args;
  args.mode = vfs::MODE_REGULAR | 0644;
  EXPECT_EQ(root->create("new", args).error(), Error::ReadOnly);
  EXPECT_EQ(root->mkdir("new", args).error(), Error::ReadOnly);
  EXPECT_EQ(root->unlink("a.txt").error(), Error::ReadOnly);
  EXPECT_EQ(root->rmdir("sub").error(), Error::ReadOnly);
  EXPECT_EQ(root->symlink("l", "a.txt", args).error(), Error::ReadOnly);
  EXPECT_EQ(file->open_as(vfs::OpenHow::WRITE).error(), Error::ReadOnly);
  EXPECT_TRUE(file->open_as(vfs::OpenHow::READ).ok());
  EXPECT_EQ(file->truncate(0).error(), Error::ReadOnly);
  vfs::SetAttr sa;
  sa.mask = vfs::SetAttr::MODE;
  EXPECT_EQ(file->setattr(sa).error(), Error::ReadOnly);
  uint64_t off = 0;
  char c = 'x';
  KernelBuffer kb(&c, 1);
  EXPECT_EQ(file->write(&off, kb, false).error(), Error::ReadOnly);
  root = vfs::VnodeRef();
  file = vfs::VnodeRef();
  mr.fs->shutdown();
}

TEST(Ext4, RefusesWhatItCannotRead) {
  if (!have_mke2fs()) GTEST_SKIP() << "no mke2fs";
  std::vector<uint8_t> good = make_image("-t ext4");
  ASSERT_FALSE(good.empty());
  {  // Not ext4 at all.
    MemIo io(std::vector<uint8_t>(1 << 20, 0x5a));
    ext4::MountResult mr;
    EXPECT_EQ(ext4::mount(io, mr).error(), Error::BadFormat);
    EXPECT_NE(std::string(mr.note).find("magic"), std::string::npos) << mr.note;
  }
  {  // An incompatible feature it does not read (inline_data), checksum right.
    std::vector<uint8_t> img = good;
    uint32_t incompat = ext4::le32(img.data() + 1024 + 0x60);
    patch_super(img, 0x60, incompat | ext4::INCOMPAT_INLINE_DATA);
    MemIo io(img);
    ext4::MountResult mr;
    EXPECT_EQ(ext4::mount(io, mr).error(), Error::NotSupported);
    EXPECT_NE(std::string(mr.note).find("inline_data"), std::string::npos) << mr.note;
  }
  {  // A flipped byte: the superblock checksum no longer holds.
    std::vector<uint8_t> img = good;
    img[1024 + 0x10] ^= 1;
    MemIo io(img);
    ext4::MountResult mr;
    EXPECT_EQ(ext4::mount(io, mr).error(), Error::Io);
    EXPECT_NE(std::string(mr.note).find("checksum"), std::string::npos) << mr.note;
  }
  {  // Impossible figures with a valid checksum.
    std::vector<uint8_t> img = good;
    patch_super(img, 0x28, 0);  // s_inodes_per_group
    MemIo io(img);
    ext4::MountResult mr;
    EXPECT_EQ(ext4::mount(io, mr).error(), Error::Io);
  }
  {  // A renamed entry (structure intact): the directory block's checksum catches it.
    std::vector<uint8_t> img = good;
    // name_len 5, type 1 (regular), the name: the root's entry (the fast
    // symlink's inode holds "a.txt" too).
    static const char entry[] = "\x05\x01" "a.txt";
    auto it = std::search(img.begin() + 4096, img.end(), entry, entry + 7);
    ASSERT_NE(it, img.end());
    it[2] = 'b';
    MemIo io(img);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    ext4_harness::Names names;
    vfs::VnodeRef root = mr.fs->root();
    EXPECT_EQ(root->readdir(0, names).error(), Error::Io);
    EXPECT_EQ(root->lookup("a.txt").error(), Error::Io);
    root = vfs::VnodeRef();
    mr.fs->shutdown();
  }
  {  // The device is smaller than the file system says.
    std::vector<uint8_t> img(good.begin(), good.begin() + good.size() / 2);
    MemIo io(img);
    ext4::MountResult mr;
    EXPECT_EQ(ext4::mount(io, mr).error(), Error::Io);
    EXPECT_NE(std::string(mr.note).find("larger than the disk"), std::string::npos) << mr.note;
  }
}

// Random damage to the metadata at the start of an image without checksums
// (so that it reaches the inode, extent and directory parsers): errors,
// never a crash (ASan and UBSan watch). Deterministic; tests/fuzz goes
// further with libFuzzer.
TEST(Ext4, DamagedImagesNeverCrash) {
  if (!have_mke2fs()) GTEST_SKIP() << "no mke2fs";
  std::vector<uint8_t> good = make_image("-t ext4 -O ^metadata_csum,^has_journal,^resize_inode -N 64", "1M");
  ASSERT_FALSE(good.empty());
  std::mt19937 rng(14);
  size_t mounted = 0;
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> img = good;
    size_t span = 64 * 1024;  // superblock, descriptors, bitmaps, inode table, first directories
    for (int k = 0; k < 1 + round % 8; ++k) img[1024 + rng() % span] ^= uint8_t(1 + rng() % 255);
    MemIo io(img);
    ext4::MountResult mr;
    if (!ext4::mount(io, mr).ok()) continue;
    ++mounted;
    size_t errors = 0;
    vfs::VnodeRef root = mr.fs->root();
    ext4_harness::walk(*root, 3, &errors);
    root = vfs::VnodeRef();
    mr.fs->shutdown();
    // Read-write over the same damage: the writers must not crash either.
    MemIo rw(img, true);
    ext4::MountResult mw;
    if (!ext4::mount(rw, mw).ok()) continue;
    root = mw.fs->root();
    if (!mw.read_only) ext4_harness::change(*root);
    root = vfs::VnodeRef();
    mw.fs->shutdown();
  }
  EXPECT_GT(mounted, 40u);  // most damage is past the superblock: the walk ran
}

// Clean pages of a disk file go under memory pressure (vfs::page_cache_reclaim)
// and are read again from the disk: the bytes do not change, and a file
// another thread is using is left alone.
TEST(Ext4, EvictedPagesReadAgain) {
  if (!have_mke2fs()) GTEST_SKIP() << "no mke2fs";
  std::vector<uint8_t> img = make_image("-t ext4");
  ASSERT_FALSE(img.empty());
  MemIo io(img);
  ext4::MountResult mr;
  ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
  vfs::VnodeRef root = mr.fs->root();
  vfs::VnodeRef sub = root->lookup("sub").value();
  vfs::VnodeRef big = sub->lookup("big").value();
  auto hash = [&] {
    std::vector<uint8_t> buf(300000 + 10);
    KernelBuffer kb(buf.data(), buf.size());
    auto n = big->read(0, kb);
    EXPECT_TRUE(n.ok());
    EXPECT_EQ(n.value(), 300000u);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n.value(); ++i) {
      EXPECT_EQ(buf[i], uint8_t(i * 7)) << i;
      if (buf[i] != uint8_t(i * 7)) break;
      h = (h ^ buf[i]) * 0x100000001b3ull;
    }
    return h;
  };
  while (vfs::page_cache_reclaim(1 << 30)) {
  }
  uint64_t first = hash();
  // 300000 bytes: 74 pages; the tree's other files were not read.
  EXPECT_EQ(vfs::page_cache_reclaim(30), 30u);
  EXPECT_EQ(vfs::page_cache_reclaim(1000), 44u);
  EXPECT_EQ(vfs::page_cache_reclaim(1000), 0u);
  EXPECT_EQ(hash(), first);
  // mmap's page() reads an evicted page again too.
  EXPECT_GT(vfs::page_cache_reclaim(1000), 0u);
  auto pa = big->page(4096);
  ASSERT_TRUE(pa.ok());
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(pa.value())[5], uint8_t((4096 + 5) * 7));
  // mmap fills with cached pages only: the others are NotFound with the
  // next cached one.
  uint64_t next = 0;
  EXPECT_EQ(big->page_for_read(0, false, &next).error(), Error::NotFound);
  EXPECT_EQ(next, 4096u);
  EXPECT_TRUE(big->page_for_read(4096, false, &next).ok());
  EXPECT_TRUE(big->page_for_read(8192, true, &next).ok());  // a read fault reads it
  big = sub = root = vfs::VnodeRef();
  mr.fs->shutdown();
}

TEST(BlockCache, HitsEvictsAndPassesErrorsUp) {
  std::vector<uint8_t> bytes(64 * 1024);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i / 1024);
  MemIo io(bytes);
  bcache::BlockCache cache(io, 1024, 4);
  {
    bcache::BlockRef a = cache.get(3).release_value();
    EXPECT_EQ(a.data()[0], 3);
    bcache::BlockRef b = cache.get(3).release_value();
    EXPECT_EQ(a.data(), b.data());  // one copy, two holders
  }
  EXPECT_EQ(cache.stats().hits, 1u);
  for (uint64_t i = 10; i < 20; ++i) EXPECT_EQ(cache.get(i).value().data()[5], uint8_t(i));
  EXPECT_LE(cache.stats().cached, 4u);
  EXPECT_GT(cache.stats().evictions, 0u);
  EXPECT_EQ(cache.get(64).error(), Error::Range);  // past the end
  // Held blocks are never evicted, even past the capacity.
  std::vector<bcache::BlockRef> held;
  for (uint64_t i = 30; i < 40; ++i) held.push_back(cache.get(i).release_value());
  for (uint64_t i = 30; i < 40; ++i) EXPECT_EQ(held[i - 30].data()[0], uint8_t(i));
}
