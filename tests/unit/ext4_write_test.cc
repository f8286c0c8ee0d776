// ext4 written on the host (fs/ext4 "Writing", docs/ext4.md): images made by
// Debian's mke2fs, mounted read-write from memory, changed through the
// vnode interface, then judged by e2fsprogs' own tools: `e2fsck -fn` must
// find nothing and `debugfs -R cat` must show each file's exact bytes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "fs/ext4/layout.h"
#include "tests/fuzz/ext4_harness.h"
#include "tests/unit/e2fs_tools.h"

using namespace capsule;
using ext4_harness::MemIo;
using namespace e2fs_tools;

namespace {

// An image with a.txt ("hello ext4\n") and sub/ in it.
std::vector<uint8_t> make_image(const std::string& options, const std::string& size) {
  TempDir t;
  std::string tree = t.path + "/tree";
  mkdir(tree.c_str(), 0755);
  mkdir((tree + "/sub").c_str(), 0755);
  { std::ofstream(tree + "/a.txt") << "hello ext4\n"; }
  std::string img = t.path + "/img";
  std::vector<uint8_t> bytes;
  if (system(("PATH=$PATH:/usr/sbin mke2fs -q -F " + options + " -d " + tree + " " + img + " " + size +
              " >/dev/null 2>&1").c_str()) == 0) {
    std::ifstream f(img, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  return bytes;
}

// What the test expects each file to hold, by path, for debugfs.
using Expect = std::map<std::string, std::string>;

// Set by the crash test's second pass: every write is fsync'd, so the
// script is many small transactions instead of a few large ones.
bool g_fsync_each_write = false;

void write_at(Expect& e, const std::string& path, vfs::Vnode& f, uint64_t off, const std::string& data) {
  auto r = put(f, off, data);
  if (r.ok() && g_fsync_each_write) ASSERT_TRUE(f.fsync().ok()) << path;
  ASSERT_TRUE(r.ok()) << path << " " << error_name(r.error());
  ASSERT_EQ(r.value(), data.size()) << path;
  std::string& s = e[path];
  if (s.size() < off + data.size()) s.resize(off + data.size(), '\0');
  s.replace(off, data.size(), data);
}

// The whole change script: every operation the writer has, over a tree.
void change_everything(vfs::Vnode& root, Expect& e, uint32_t bs) {
  e["/a.txt"] = "hello ext4\n";
  vfs::VnodeRef a = root.lookup("a.txt").value();
  write_at(e, "/a.txt", *a, 0, "HELLO");
  write_at(e, "/a.txt", *a, 11, " and more\n");

  vfs::VnodeRef d1 = root.mkdir("d1", args(vfs::MODE_DIR | 0755)).value();
  vfs::VnodeRef f1 = d1->create("f1", args(vfs::MODE_REGULAR | 0644)).value();
  write_at(e, "/d1/f1", *f1, 0, pattern(300000, 1));
  vfs::VnodeRef f2 = d1->create("f2", args(vfs::MODE_REGULAR | 0644)).value();
  write_at(e, "/d1/f2", *f2, 0, "x");
  write_at(e, "/d1/f2", *f2, (3 << 20) + 5, "y");

  // A fragmented file: every other block, so each block is an extent of
  // its own: the root's four fill, the tree grows a level, leaves split.
  vfs::VnodeRef frag = root.create("frag", args(vfs::MODE_REGULAR | 0600)).value();
  for (int i = 0; i < 300; ++i) write_at(e, "/frag", *frag, uint64_t(2 * i) * bs, pattern(bs, i));

  // Many names: the directory grows blocks; half of them go again.
  vfs::VnodeRef d2 = root.mkdir("d2", args(vfs::MODE_DIR | 0700)).value();
  for (int i = 0; i < 150; ++i) {
    char name[48];
    snprintf(name, sizeof name, "file_%03d_with_a_longer_name", i);
    vfs::VnodeRef f = d2->create(StringView(name), args(vfs::MODE_REGULAR | 0644)).value();
    write_at(e, std::string("/d2/") + name, *f, 0, std::string(name) + "\n");
  }
  for (int i = 0; i < 150; i += 2) {
    char name[48];
    snprintf(name, sizeof name, "file_%03d_with_a_longer_name", i);
    ASSERT_TRUE(d2->unlink(name).ok()) << name;
    e.erase(std::string("/d2/") + name);
  }
  // Renames: across directories, in one, over an existing file.
  ASSERT_TRUE(d2->rename("file_001_with_a_longer_name", *d1, "moved", false).ok());
  e["/d1/moved"] = e["/d2/file_001_with_a_longer_name"];
  e.erase("/d2/file_001_with_a_longer_name");
  ASSERT_TRUE(d1->rename("f1", *d1, "f1b", false).ok());
  e["/d1/f1b"] = e["/d1/f1"];
  e.erase("/d1/f1");
  {
    vfs::VnodeRef v = d1->create("victim", args(vfs::MODE_REGULAR | 0644)).value();
    write_at(e, "/d1/victim", *v, 0, std::string(5000, 'v'));
  }
  ASSERT_TRUE(d1->rename("moved", *d1, "victim", false).ok());
  e["/d1/victim"] = e["/d1/moved"];
  e.erase("/d1/moved");
  EXPECT_EQ(d1->rename("f2", *d1, "victim", true).error(), Error::Exists);
  // A directory moves to another parent: its ".." and both link counts.
  vfs::VnodeRef sub = d1->mkdir("sub", args(vfs::MODE_DIR | 0755)).value();
  {
    vfs::VnodeRef in = sub->create("inside", args(vfs::MODE_REGULAR | 0644)).value();
    write_at(e, "/d1/sub/inside", *in, 0, "inside\n");
  }
  EXPECT_EQ(d1->rename("sub", *sub, "loop", false).error(), Error::Invalid);
  ASSERT_TRUE(d1->rename("sub", *d2, "sub2", false).ok());
  e["/d2/sub2/inside"] = e["/d1/sub/inside"];
  e.erase("/d1/sub/inside");
  EXPECT_EQ(sub->lookup("..").value()->ino(), d2->ino());
  // Hard link, symlinks, a FIFO.
  vfs::VnodeRef f1b = d1->lookup("f1b").value();
  ASSERT_TRUE(root.link("hard", *f1b).ok());
  ASSERT_TRUE(root.symlink("fast", "a.txt", args(0)).ok());
  std::string zs(100, 'z');
  ASSERT_TRUE(root.symlink("slow", StringView(zs.data(), zs.size()), args(0)).ok());
  ASSERT_TRUE(root.create("fifo", args(vfs::MODE_FIFO | 0644)).ok());
  // Truncation: shrink (blocks freed, the tail zeroed), then grow (a hole).
  ASSERT_TRUE(f1b->truncate(5000).ok());
  e["/d1/f1b"].resize(5000);
  write_at(e, "/d1/f1b", *f1b, 9000, "after a hole");
  e["/hard"] = e["/d1/f1b"];
  ASSERT_TRUE(f2->truncate(10).ok());
  e["/d1/f2"].resize(10);
  ASSERT_TRUE(f2->truncate(20000).ok());
  e["/d1/f2"].resize(20000);
  ASSERT_TRUE(frag->truncate(uint64_t(bs) * 101).ok());  // into the middle of the tree
  e["/frag"].resize(size_t(bs) * 101);
  // mkdir + rmdir; rmdir of a non-empty directory.
  ASSERT_TRUE(root.mkdir("gone", args(vfs::MODE_DIR | 0755)).ok());
  ASSERT_TRUE(root.rmdir("gone").ok());
  EXPECT_EQ(root.rmdir("d2").error(), Error::NotEmpty);
  EXPECT_EQ(root.unlink("d1").error(), Error::IsDir);
  // Attributes.
  vfs::SetAttr sa;
  sa.mask = vfs::SetAttr::MODE | vfs::SetAttr::UID | vfs::SetAttr::GID | vfs::SetAttr::MTIME;
  sa.mode = 0600;
  sa.uid = 1000;
  sa.gid = 100;
  sa.mtime_ns = 1234567890123456789;
  ASSERT_TRUE(a->setattr(sa).ok());
  vfs::Attr at = a->getattr().value();
  EXPECT_EQ(at.mode, vfs::MODE_REGULAR | 0600);
  EXPECT_EQ(at.uid, 1000u);
  EXPECT_EQ(at.mtime_ns, 1234567890123456789);
  // A file unlinked while open: freed when its last reference goes.
  {
    vfs::VnodeRef t = root.create("open_unlinked", args(vfs::MODE_REGULAR | 0644)).value();
    ASSERT_TRUE(put(*t, 0, pattern(50000, 9)).ok());
    ASSERT_TRUE(root.unlink("open_unlinked").ok());
    char c;
    KernelBuffer one(&c, 1);
    EXPECT_EQ(t->read(49999, one).value(), 1u);  // still readable while held
  }
  // Reads through the driver see what was written.
  std::string back(300, '\0');
  KernelBuffer kb(back.data(), back.size());
  ASSERT_EQ(frag->read(uint64_t(bs) * 100, kb).value(), 300u);
  EXPECT_EQ(back, e["/frag"].substr(size_t(bs) * 100, 300));
}

void check_with_e2fsprogs(const std::vector<uint8_t>& img, const Expect& e, const std::string& label) {
  std::string out = fsck(img);
  EXPECT_NE(out.find("rc=0"), std::string::npos) << label << "\n" << out;
  TempDir t;
  save(img, t.path + "/img");
  for (auto& [path, want] : e) {
    std::string got = run("sh -c \"debugfs -R 'cat " + path + "' " + t.path + "/img 2>/dev/null\"");
    got = got.substr(0, got.rfind("\nrc="));
    EXPECT_EQ(got.size(), want.size()) << label << " " << path;
    EXPECT_TRUE(got == want) << label << " " << path;
  }
  if (e.count("/a.txt")) {
    std::string links = run("debugfs -R 'stat /fast' " + t.path + "/img");
    EXPECT_NE(links.find("Fast link dest: \"a.txt\""), std::string::npos) << links;
  }
}

}  // namespace

TEST(Ext4Write, ChangesPassE2fsckAndDebugfsShowsTheBytes) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  for (const char* opts : {"-t ext4 -b 4096", "-t ext4 -b 1024", "-t ext4 -b 4096 -O ^has_journal,^metadata_csum"}) {
    std::vector<uint8_t> img = make_image(opts, "32M");
    ASSERT_FALSE(img.empty()) << opts;
    MemIo io(img, true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << opts << ": " << mr.note;
    ASSERT_FALSE(mr.read_only) << opts << ": " << mr.note;
    // Mounted read-write: the superblock says "not clean" until unmounted.
    EXPECT_EQ(ext4::le16(io.bytes_.data() + 1024 + 0x3A) & ext4::STATE_VALID, 0) << opts;
    uint32_t bs = uint32_t(mr.fs->statfs().bsize);
    Expect e;
    {
      vfs::VnodeRef root = mr.fs->root();
      change_everything(*root, e, bs);
    }
    EXPECT_GT(io.flushes, 0u);
    mr.fs->shutdown();
    EXPECT_EQ(ext4::le16(io.bytes_.data() + 1024 + 0x3A) & ext4::STATE_VALID, ext4::STATE_VALID) << opts;
    check_with_e2fsprogs(io.bytes_, e, opts);
    // And this driver reads it all back.
    MemIo again(io.bytes_);
    ext4::MountResult mr2;
    ASSERT_TRUE(ext4::mount(again, mr2).ok()) << mr2.note;
    size_t errors = 0;
    vfs::VnodeRef root = mr2.fs->root();
    ext4_harness::walk(*root, 4, &errors);
    EXPECT_EQ(errors, 0u) << opts;
    root = vfs::VnodeRef();
    mr2.fs->shutdown();
  }
}

TEST(Ext4Write, FullDiskIsNoSpaceAndStaysConsistent) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  std::vector<uint8_t> img = make_image("-t ext4 -b 4096 -O ^has_journal -N 64", "4M");
  ASSERT_FALSE(img.empty());
  MemIo io(img, true);
  ext4::MountResult mr;
  ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
  ASSERT_FALSE(mr.read_only) << mr.note;
  vfs::FsStat before = mr.fs->statfs();
  {
    vfs::VnodeRef root = mr.fs->root();
    vfs::VnodeRef fill = root->create("fill", args(vfs::MODE_REGULAR | 0644)).value();
    std::string chunk = pattern(65536, 3);
    uint64_t off = 0;
    Error last = Error::None;
    for (int i = 0; i < 200; ++i) {
      auto r = put(*fill, off, chunk);
      if (!r.ok()) {
        last = r.error();
        break;
      }
      off += r.value();
      if (r.value() < chunk.size()) continue;  // short: the next one fails
    }
    EXPECT_EQ(last, Error::NoSpace);
    vfs::FsStat full = mr.fs->statfs();
    EXPECT_EQ(full.bfree, 0u);
    EXPECT_LE(full.bfree, full.blocks);
    // No block left for a new directory either; inodes run out too.
    EXPECT_EQ(root->mkdir("nodir", args(vfs::MODE_DIR | 0755)).error(), Error::NoSpace);
    int made = 0;
    for (; made < 200; ++made) {
      char name[16];
      snprintf(name, sizeof name, "e%d", made);
      auto r = root->create(name, args(vfs::MODE_REGULAR | 0644));
      if (!r.ok()) {
        EXPECT_EQ(r.error(), Error::NoSpace);
        break;
      }
    }
    EXPECT_LT(made, 200);
    std::string mid = fsck(io.bytes_);
    EXPECT_NE(mid.find("rc=0"), std::string::npos) << "full:\n" << mid;
    ASSERT_TRUE(root->unlink("fill").ok());
    fill = vfs::VnodeRef();
  }
  mr.fs->shutdown();
  vfs::FsStat after = mr.fs->statfs();
  EXPECT_GE(after.bfree + 2, before.bfree);  // back, less what the names took
  std::string out = fsck(io.bytes_);
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
}

TEST(Ext4Write, ReadOnlyWhereItMustBe) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  {  // ext2: block maps are not written.
    MemIo io(make_image("-t ext2", "8M"), true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    EXPECT_TRUE(mr.read_only);
    EXPECT_NE(std::string(mr.note).find("extents"), std::string::npos) << mr.note;
    vfs::VnodeRef root = mr.fs->root();
    EXPECT_EQ(root->create("x", args(vfs::MODE_REGULAR | 0644)).error(), Error::ReadOnly);
    root = vfs::VnodeRef();
    mr.fs->shutdown();
  }
  {  // Left by a crash while mounted read-write, with a journal: a writable
     // disk replays it and mounts read-write; `:ro` mounts read-only with
     // the note "needs recovery".
    std::vector<uint8_t> img = make_image("-t ext4", "8M");
    MemIo io(img, true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    ASSERT_FALSE(mr.read_only);
    MemIo crashed_ro(io.bytes_, false);  // the image as it is before any unmount
    ext4::MountResult mr2;
    ASSERT_TRUE(ext4::mount(crashed_ro, mr2).ok()) << mr2.note;
    EXPECT_TRUE(mr2.read_only);
    EXPECT_NE(std::string(mr2.note).find("recovery"), std::string::npos) << mr2.note;
    mr2.fs->shutdown();
    MemIo crashed(io.bytes_, true);
    ext4::MountResult mr3;
    ASSERT_TRUE(ext4::mount(crashed, mr3).ok()) << mr3.note;
    EXPECT_FALSE(mr3.read_only) << mr3.note;
    mr3.fs->shutdown();
    EXPECT_NE(fsck(crashed.bytes_).find("rc=0"), std::string::npos);
    mr.fs->shutdown();
  }
  {  // Without a journal: read-only until e2fsck.
    std::vector<uint8_t> img = make_image("-t ext4 -O ^has_journal", "8M");
    MemIo io(img, true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    ASSERT_FALSE(mr.read_only);
    MemIo crashed(io.bytes_, true);
    ext4::MountResult mr2;
    ASSERT_TRUE(ext4::mount(crashed, mr2).ok()) << mr2.note;
    EXPECT_TRUE(mr2.read_only);
    EXPECT_NE(std::string(mr2.note).find("e2fsck"), std::string::npos) << mr2.note;
    mr2.fs->shutdown();
    mr.fs->shutdown();
  }
  {  // A read-only disk (`:ro`): read-only, no note needed.
    MemIo io(make_image("-t ext4", "8M"), false);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    EXPECT_TRUE(mr.read_only);
    mr.fs->shutdown();
  }
}

// (Many more names: tests/unit/ext4_htree_test.cc.)
TEST(Ext4Write, HtreeDirectoriesLoseAndTakeNames) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  TempDir t;
  std::string tree = t.path + "/tree";
  mkdir(tree.c_str(), 0755);
  mkdir((tree + "/big").c_str(), 0755);
  for (int i = 0; i < 400; ++i) std::ofstream(tree + "/big/n" + std::to_string(i) + "_padding_padding") << i;
  std::ofstream(tree + "/a_file") << "a";
  std::string img = t.path + "/img";
  ASSERT_EQ(system(("PATH=$PATH:/usr/sbin mke2fs -q -F -t ext4 -b 1024 -d " + tree + " " + img +
                    " 8M >/dev/null 2>&1 && PATH=$PATH:/usr/sbin e2fsck -fyD " + img + " >/dev/null 2>&1; true")
                       .c_str()),
            0);
  std::ifstream f(img, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
  MemIo io(bytes, true);
  ext4::MountResult mr;
  ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
  ASSERT_FALSE(mr.read_only) << mr.note;
  {
    vfs::VnodeRef root = mr.fs->root();
    vfs::VnodeRef big = root->lookup("big").value();
    // Entries added by their hash, removed and replaced in their leaves.
    EXPECT_TRUE(big->create("new", args(vfs::MODE_REGULAR | 0644)).ok());
    EXPECT_TRUE(root->rename("a_file", *big, "elsewhere", false).ok());
    EXPECT_TRUE(big->lookup("elsewhere").ok());
    EXPECT_TRUE(big->unlink("n1_padding_padding").ok());
    EXPECT_EQ(big->lookup("n1_padding_padding").error(), Error::NotFound);
    EXPECT_TRUE(big->rename("n3_padding_padding", *big, "n4_padding_padding", false).ok());
    EXPECT_TRUE(big->rename("n5_padding_padding", *root, "out_of_htree", false).ok());
    EXPECT_TRUE(root->lookup("out_of_htree").ok());
    for (int i = 100; i < 300; ++i) EXPECT_TRUE(big->unlink(("n" + std::to_string(i) + "_padding_padding").c_str()).ok());
    // Files in it can still be written.
    vfs::VnodeRef n = big->lookup("n2_padding_padding").value();
    EXPECT_TRUE(put(*n, 0, "22").ok());
  }
  mr.fs->shutdown();
  std::string out = fsck(io.bytes_);
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
}

// Groups whose block bitmap mke2fs left unwritten (BLOCK_UNINIT: most of
// them with flex_bg) get it built on first use: a file larger than group
// 0 spills into them and e2fsck agrees with every bitmap.
TEST(Ext4Write, UninitializedGroupsAreUsed) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  std::vector<uint8_t> img = make_image("-t ext4 -b 1024", "64M");
  ASSERT_FALSE(img.empty());
  MemIo io(img, true);
  ext4::MountResult mr;
  ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
  ASSERT_FALSE(mr.read_only) << mr.note;
  Expect e;
  {
    vfs::VnodeRef root = mr.fs->root();
    vfs::VnodeRef f = root->create("big", args(vfs::MODE_REGULAR | 0644)).value();
    std::string chunk = pattern(1 << 20, 4);
    for (int i = 0; i < 24; ++i) write_at(e, "/big", *f, uint64_t(i) << 20, chunk);
    vfs::FsStat st = mr.fs->statfs();
    EXPECT_LT(st.bfree, st.blocks - 24 * 1024);
  }
  mr.fs->shutdown();
  check_with_e2fsprogs(io.bytes_, e, "uninit groups");
}

// The file's mtime as the disk has it: a copy of the image mounted read-only.
int64_t disk_mtime(const std::vector<uint8_t>& bytes, const char* name) {
  MemIo copy(bytes);
  ext4::MountResult mr;
  if (!ext4::mount(copy, mr).ok()) return -1;
  int64_t t = -1;
  {
    vfs::VnodeRef root = mr.fs->root();
    auto f = root->lookup(name);
    if (f.ok()) t = f.value()->getattr().value().mtime_ns;
  }
  mr.fs->shutdown();
  return t;
}

// `n` bytes of the file at `off` as the disk has them (a read-only copy).
std::string io_file_bytes(const std::vector<uint8_t>& bytes, const char* name, uint64_t off, size_t n) {
  MemIo copy(bytes);
  ext4::MountResult mr;
  if (!ext4::mount(copy, mr).ok()) return "(no mount)";
  std::string s(n, '\0');
  {
    vfs::VnodeRef root = mr.fs->root();
    auto f = root->lookup(name);
    KernelBuffer kb(s.data(), s.size());
    auto r = f.ok() ? f.value()->read(off, kb) : Result<size_t>(Error::NotFound);
    s.resize(r.ok() ? r.value() : 0);
  }
  mr.fs->shutdown();
  return s;
}

// What an overwrite in place, a large write and a file's fsync cost the
// device, and where the times go. An overwrite that allocates nothing and
// does not grow the file writes nothing: its pages wait (write-back) for
// fsync, fdatasync, sync, the flusher or the unmount, and are then its data
// blocks only (no journal transaction); its times reach the disk at fsync,
// at the last reference, or at unmount (Linux's lazy inode times). fsync is
// the dirty blocks, the inode's transaction if its times are pending, and a
// flush (it once also journaled the superblock).
TEST(Ext4Write, OverwriteWaitsForFsyncAndIsItsDataThen) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  std::vector<uint8_t> img = make_image("-t ext4 -b 4096", "32M");
  ASSERT_FALSE(img.empty());
  MemIo io(img, true);
  ext4::MountResult mr;
  ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
  ASSERT_FALSE(mr.read_only) << mr.note;
  Expect e;
  const int64_t old_time = 1000000000123456789;
  {
    vfs::VnodeRef root = mr.fs->root();
    vfs::VnodeRef f = root->create("t", args(vfs::MODE_REGULAR | 0644)).value();
    write_at(e, "/t", *f, 0, pattern(8192, 1));
    vfs::SetAttr sa;
    sa.mask = vfs::SetAttr::MTIME;
    sa.mtime_ns = old_time;
    ASSERT_TRUE(f->setattr(sa).ok());
    // The create, the write and the setattr are one running transaction:
    // nothing of their metadata on the disk until a commit (fsync here:
    // two flushes).
    EXPECT_NE(disk_mtime(io.bytes_, "t"), old_time);
    size_t w0 = io.writes, f0 = io.flushes;
    ASSERT_TRUE(f->fsync().ok());
    EXPECT_GT(io.writes - w0, 0u);
    EXPECT_EQ(io.flushes - f0, 2u);
    ASSERT_EQ(disk_mtime(io.bytes_, "t"), old_time);
    // Nothing pending: fsync is one flush, no write.
    w0 = io.writes, f0 = io.flushes;
    ASSERT_TRUE(f->fsync().ok());
    EXPECT_EQ(io.writes - w0, 0u);
    EXPECT_EQ(io.flushes - f0, 1u);
    // An overwrite inside the file: nothing written (write-back: the page
    // is dirty), the disk still has the old bytes.
    const std::string before = io_file_bytes(io.bytes_, "t", 100, 11);
    w0 = io.writes, f0 = io.flushes;
    write_at(e, "/t", *f, 100, "overwritten");
    EXPECT_EQ(io.writes - w0, 0u);
    EXPECT_EQ(io.flushes - f0, 0u);
    EXPECT_EQ(io_file_bytes(io.bytes_, "t", 100, 11), before);
    int64_t now = f->getattr().value().mtime_ns;
    EXPECT_GT(now, old_time);
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), old_time);  // not yet on the disk
    // fdatasync: the dirty block, then the flush; the times are not its
    // business.
    w0 = io.writes, f0 = io.flushes;
    ASSERT_TRUE(f->fdatasync().ok());
    EXPECT_EQ(io.writes - w0, 1u);
    EXPECT_EQ(io.flushes - f0, 1u);
    EXPECT_EQ(io_file_bytes(io.bytes_, "t", 100, 11), "overwritten");
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), old_time);
    // Nothing dirty any more: fdatasync is the flush alone.
    w0 = io.writes, f0 = io.flushes;
    ASSERT_TRUE(f->fdatasync().ok());
    EXPECT_EQ(io.writes - w0, 0u);
    EXPECT_EQ(io.flushes - f0, 1u);
    // A chown to the owner it has (sqlite's fchown of its journal): only
    // the ctime changes, and it waits with the mtime.
    vfs::SetAttr same;
    same.mask = vfs::SetAttr::UID | vfs::SetAttr::GID;
    same.uid = f->getattr().value().uid;
    same.gid = f->getattr().value().gid;
    w0 = io.writes, f0 = io.flushes;
    ASSERT_TRUE(f->setattr(same).ok());
    EXPECT_EQ(io.writes - w0, 0u);
    EXPECT_EQ(io.flushes - f0, 0u);
    // fsync: the inode's transaction committed (journal, two flushes).
    w0 = io.writes, f0 = io.flushes;
    ASSERT_TRUE(f->fsync().ok());
    EXPECT_GT(io.writes - w0, 0u);
    EXPECT_EQ(io.flushes - f0, 2u);
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), now);
    // Appending grows the file: its data at once, the inode in the running
    // transaction, on the disk at the next commit.
    w0 = io.writes;
    write_at(e, "/t", *f, 8192, "appended");
    EXPECT_EQ(io.writes - w0, 1u);
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), now);
    ASSERT_TRUE(f->fdatasync().ok());
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), f->getattr().value().mtime_ns);
    // An overwrite, then the last reference: the dirty list holds one
    // more until the write-back (the flusher's, here called directly);
    // then the data and the times are written.
    ASSERT_TRUE(f->setattr(sa).ok());
    ASSERT_TRUE(f->fsync().ok());  // the old time on the disk
    write_at(e, "/t", *f, 0, "again");
    now = f->getattr().value().mtime_ns;
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), old_time);
    f = vfs::VnodeRef();
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), old_time);
    ext4::writeback_all();
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), now);
    EXPECT_EQ(io_file_bytes(io.bytes_, "t", 0, 5), "again");
    // An overwrite, then the unmount.
    f = root->lookup("t").value();
    ASSERT_TRUE(f->setattr(sa).ok());
    ASSERT_TRUE(f->fsync().ok());
    write_at(e, "/t", *f, 4096, "last");
    now = f->getattr().value().mtime_ns;
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), old_time);
    // 1 MiB in one write() to a new file: contiguous blocks go out in
    // 64 KiB requests (16; it was one request per page, 256), its metadata
    // waits in the running transaction (committed by the fsync).
    vfs::VnodeRef big = root->create("big", args(vfs::MODE_REGULAR | 0644)).value();
    w0 = io.writes;
    write_at(e, "/big", *big, 0, pattern(1 << 20, 9));
    EXPECT_GE(io.writes - w0, 16u);
    EXPECT_LE(io.writes - w0, 17u);
    ASSERT_TRUE(big->fsync().ok());
    // And overwritten whole: nothing at the write; at fdatasync the data
    // requests alone (16, one more where the allocator had to split the
    // file).
    w0 = io.writes;
    write_at(e, "/big", *big, 0, pattern(1 << 20, 10));
    EXPECT_EQ(io.writes - w0, 0u);
    ASSERT_TRUE(big->fdatasync().ok());
    EXPECT_GE(io.writes - w0, 16u);
    EXPECT_LE(io.writes - w0, 17u);
    big = vfs::VnodeRef();
    root = vfs::VnodeRef();
    mr.fs->shutdown();
    EXPECT_EQ(disk_mtime(io.bytes_, "t"), now);
  }
  check_with_e2fsprogs(io.bytes_, e, "overwrites");
}

// A large read() of a file nothing has cached: whole pages that follow
// each other on the disk come in requests of up to 64 KiB, not one per
// page; a hole, the partial last page and a second extent read right.
TEST(Ext4Write, LargeReadsGoInFewRequests) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  for (const char* opts : {"-t ext4 -b 4096", "-t ext4 -b 1024"}) {
    std::vector<uint8_t> img = make_image(opts, "32M");
    ASSERT_FALSE(img.empty());
    MemIo io(img, true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    Expect e;
    {
      vfs::VnodeRef root = mr.fs->root();
      vfs::VnodeRef f = root->create("f", args(vfs::MODE_REGULAR | 0644)).value();
      write_at(e, "/f", *f, 0, pattern(1 << 20, 3));                // 256 pages in a row
      write_at(e, "/f", *f, (1 << 20) + 40000, pattern(70001, 4));  // after a hole, ends inside a page
    }
    mr.fs->shutdown();
    MemIo again(io.bytes_);
    ext4::MountResult mr2;
    ASSERT_TRUE(ext4::mount(again, mr2).ok()) << mr2.note;
    {
      vfs::VnodeRef f = mr2.fs->root()->lookup("f").value();
      const std::string& want = e["/f"];
      std::string got(want.size() + 100, 'x');
      size_t r0 = again.reads;
      KernelBuffer kb(got.data(), got.size());
      ASSERT_EQ(f->read(0, kb).value(), want.size()) << opts;
      got.resize(want.size());
      EXPECT_TRUE(got == want) << opts;
      // 16 requests for the first MiB, a few for the rest and the extent tree; was 256+.
      EXPECT_LT(again.reads - r0, 40u) << opts;
    }
    mr2.fs->shutdown();
  }
}

// A crash (the writes after the k-th lost) at many points of the change
// script: e2fsck -fy replays the journal and must then find nothing else
// to fix, except what an unlinked-but-open file leaves (no orphan list).
// Twice: the script as it comes (its changes batched into the few
// transactions the size limit and the unmount commit), and with every write
// fsync'd (a commit each: the log then holds two transactions at times, and
// the cuts fall between many commits and checkpoints).
class Ext4Crash : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { g_fsync_each_write = GetParam(); }
  void TearDown() override { g_fsync_each_write = false; }
};
INSTANTIATE_TEST_SUITE_P(Ext4Write, Ext4Crash, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "FsyncEach" : "Batched"; });

TEST_P(Ext4Crash, CrashAtAnyPointIsWholeAfterJournalReplay) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  std::vector<uint8_t> img = make_image("-t ext4 -b 4096", "32M");
  ASSERT_FALSE(img.empty());
  size_t total;
  {
    MemIo io(img, true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    Expect e;
    {
      vfs::VnodeRef root = mr.fs->root();
      change_everything(*root, e, 4096);
    }
    mr.fs->shutdown();
    total = io.writes;
  }
  int checked = 0;
  for (size_t cut = 7; cut < total; cut += total / 61 + 1) {
    MemIo io(img, true);
    io.cut_after = cut;
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    Expect e;
    {
      vfs::VnodeRef root = mr.fs->root();
      change_everything(*root, e, 4096);
    }
    mr.fs->shutdown();
    // This driver's own mount replays the journal and frees the orphans:
    // then clean for e2fsck with nothing to replay or fix.
    {
      MemIo again(io.bytes_, true);
      ext4::MountResult m2;
      ASSERT_TRUE(ext4::mount(again, m2).ok()) << m2.note;
      EXPECT_FALSE(m2.read_only) << "cut " << cut << ": " << m2.note;
      m2.fs->shutdown();
      std::string own = fsck(again.bytes_);
      EXPECT_NE(own.find("rc=0"), std::string::npos) << "cut " << cut << " (replayed here)\n" << own;
    }
    TempDir t;
    save(io.bytes_, t.path + "/img");
    std::string fix = run("e2fsck -fy " + t.path + "/img");
    std::string after = run("e2fsck -fn " + t.path + "/img");
    EXPECT_NE(after.find("rc=0"), std::string::npos) << "cut " << cut << "\n" << fix << after;
    // Nothing but the replay: every "Fix?" is a failure of the journal.
    size_t fixes = 0;
    for (size_t p = fix.find("Fix? yes"); p != std::string::npos; p = fix.find("Fix? yes", p + 1)) ++fixes;
    EXPECT_EQ(fixes, 0u) << "cut " << cut << " of " << total << "\n" << fix;
    ++checked;
  }
  EXPECT_GT(checked, 55);
}
