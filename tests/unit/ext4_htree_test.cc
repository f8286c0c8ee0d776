// htree directories written (fs/ext4/htree_write.cc, docs/ext4.md
// "Directories"): the name hashes against e2fsprogs' own (`debugfs
// dx_hash`), then directories indexed by `e2fsck -D` over a tree that
// mke2fs -d made, given 20,000 names, half removed, some renamed; `e2fsck
// -fn` (which checks every index entry, hash range and dx checksum) must
// be clean and `debugfs ls` must list exactly the expected names.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include "fs/ext4/dirhash.h"
#include "fs/ext4/layout.h"
#include "tests/fuzz/ext4_harness.h"
#include "tests/unit/e2fs_tools.h"

using namespace capsule;
using ext4_harness::MemIo;
using namespace e2fs_tools;

namespace {

// Names of many lengths, some with bytes past 0x7f (where signed and
// unsigned hashes part).
std::string name_of(int i) {
  std::string n = "f" + std::to_string(i);
  if (i % 3 == 0) n += "_\xc3\xa9t\xc3\xa9";
  if (i % 7 == 0) n += std::string(size_t(i % 200), 'x');
  return n;
}

// The names `debugfs ls -p` lists in a directory ("/ino/mode/uid/gid/name/size/"),
// deleted ones left out.
std::set<std::string> debugfs_names(const std::string& img, const std::string& dir) {
  std::string out = run("debugfs -R 'ls -p " + dir + "' " + img);
  std::set<std::string> names;
  size_t pos = 0;
  while ((pos = out.find('\n', pos)) != std::string::npos) {
    ++pos;
    if (pos >= out.size() || out[pos] != '/') continue;
    size_t slash = pos;
    for (int k = 0; k < 4 && slash != std::string::npos; ++k) slash = out.find('/', slash + 1);
    if (slash == std::string::npos) break;
    size_t end = out.find('/', slash + 1);
    std::string name = out.substr(slash + 1, end - slash - 1);
    // Inode 0: a deleted entry (first in its block), which ls -p shows.
    if (name != "." && name != ".." && out.compare(pos, 3, "/0/") != 0) names.insert(name);
  }
  return names;
}

}  // namespace

// Every hash version, signed and unsigned, against e2fsprogs.
TEST(Ext4Htree, HashesAreE2fsprogs) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  TempDir t;
  std::string img = t.path + "/img";
  ASSERT_NE(run("mke2fs -q -F -t ext4 " + img + " 2M").find("rc=0"), std::string::npos);
  const uint32_t seed[4] = {0x12345678, 0x9abcdef0, 0x0badf00d, 0xdeadbeef};
  const char* seed_uuid = "78563412-f0de-bc9a-0df0-ad0befbeadde";  // the same words, as a UUID's bytes
  const uint32_t zero[4] = {};
  int checked = 0;
  for (int v = 0; v < 6; ++v) {
    for (int i = 0; i < 40; i += 3) {
      std::string name = name_of(i * 37) + (i % 2 ? "\xff\x80" : "");
      for (bool seeded : {true, false}) {
        std::string cmd = "debugfs -R \"dx_hash -h " + std::to_string(v) + (seeded ? std::string(" -s ") + seed_uuid : "") +
                          " " + name + "\" " + img;
        std::string out = run(cmd);
        size_t at = out.find(" is 0x");
        ASSERT_NE(at, std::string::npos) << out;
        uint32_t want = uint32_t(strtoul(out.c_str() + at + 4, nullptr, 16)) & ~1u;
        uint32_t got = ext4::dx_hash(ext4::DxHash(v), seeded ? seed : zero, name.data(), name.size());
        EXPECT_EQ(got, want) << "version " << v << " name " << name;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 6 * 14 * 2);
}

namespace {

// mke2fs -d of a tree whose "big" holds 400 names, indexed by e2fsck -D;
// `tune` runs debugfs -w on it first (the hash and its signedness).
std::vector<uint8_t> htree_image(const std::string& opts, const std::string& tune) {
  TempDir t;
  std::string tree = t.path + "/tree";
  mkdir(tree.c_str(), 0755);
  mkdir((tree + "/big").c_str(), 0755);
  mkdir((tree + "/other").c_str(), 0755);
  for (int i = 0; i < 400; ++i) std::ofstream(tree + "/big/old" + std::to_string(i) + "_padding_padding") << i;
  std::ofstream(tree + "/other/outside") << "o";
  std::string img = t.path + "/img";
  std::string cmd = "mke2fs -q -F " + opts + " -d " + tree + " " + img + " 64M";
  if (run(cmd).find("rc=0") == std::string::npos) return {};
  if (!tune.empty()) run("debugfs -w -R '" + tune + "' " + img);
  run("e2fsck -fyD " + img);
  std::string htree = run("debugfs -R 'htree /big' " + img);
  if (htree.find("Root node dump") == std::string::npos) return {};
  return load(img);
}

}  // namespace

TEST(Ext4Htree, TwentyThousandNamesHalfRemovedSomeRenamed) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  struct Case {
    const char* opts;
    const char* tune;
    uint32_t want_levels;  // indirect levels after the names: 1 KiB blocks need a second
  };
  for (const Case& c : {Case{"-t ext4 -b 1024 -N 32768", "", 1},
                        Case{"-t ext4 -b 4096 -N 32768", "ssv flags 2", 0},
                        Case{"-t ext4 -b 1024 -N 32768 -O ^metadata_csum,^has_journal", "ssv def_hash_version tea", 1}}) {
    std::string label = std::string(c.opts) + " " + c.tune;
    if (std::string(c.tune).find("tea") != std::string::npos) label += " (tea)";
    std::vector<uint8_t> img = htree_image(c.opts, c.tune);
    ASSERT_FALSE(img.empty()) << label;
    MemIo io(img, true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << label << ": " << mr.note;
    ASSERT_FALSE(mr.read_only) << label << ": " << mr.note;
    std::set<std::string> want, other_want = {"outside"};
    for (int i = 0; i < 400; ++i) want.insert("old" + std::to_string(i) + "_padding_padding");
    {
      vfs::VnodeRef root = mr.fs->root();
      vfs::VnodeRef big = root->lookup("big").value();
      vfs::VnodeRef other = root->lookup("other").value();
      constexpr int N = 20000;
      for (int i = 0; i < N; ++i) {
        std::string n = name_of(i);
        // As the VFS does: looked up first (by hash), then made.
        ASSERT_EQ(big->lookup(StringView(n.data(), n.size())).error(), Error::NotFound) << label << " " << n;
        auto r = i % 500 == 7 ? big->mkdir(StringView(n.data(), n.size()), args(vfs::MODE_DIR | 0755))
                              : big->create(StringView(n.data(), n.size()), args(vfs::MODE_REGULAR | 0644));
        ASSERT_TRUE(r.ok()) << label << " " << n << " " << error_name(r.error());
        want.insert(n);
      }
      // Every name is found again by its hash.
      for (int i = 0; i < N; i += 97) {
        std::string n = name_of(i);
        EXPECT_TRUE(big->lookup(StringView(n.data(), n.size())).ok()) << label << " " << n;
      }
      for (int i = 0; i < N; i += 2) {
        std::string n = name_of(i);
        auto r = i % 500 == 7 ? big->rmdir(StringView(n.data(), n.size())) : big->unlink(StringView(n.data(), n.size()));
        ASSERT_TRUE(r.ok()) << label << " " << n;
        want.erase(n);
      }
      // Renames: within (to a new name, over an existing one), out of it,
      // into it, and a directory in it moved out (its "..").
      for (int i = 1; i < 2000; i += 10) {
        std::string from = name_of(i), to = "renamed_" + std::to_string(i);
        ASSERT_TRUE(big->rename(StringView(from.data(), from.size()), *big, StringView(to.data(), to.size()), false).ok())
            << label << " " << from;
        want.erase(from);
        want.insert(to);
      }
      ASSERT_TRUE(big->rename("renamed_11", *big, "renamed_21", false).ok());
      want.erase("renamed_11");
      ASSERT_TRUE(big->rename("renamed_31", *other, "moved_out", false).ok());
      want.erase("renamed_31");
      other_want.insert("moved_out");
      ASSERT_TRUE(other->rename("outside", *big, "moved_in", false).ok());
      other_want.erase("outside");
      want.insert("moved_in");
      std::string d = name_of(507);  // a directory made above
      ASSERT_TRUE(big->rename(StringView(d.data(), d.size()), *other, "dir_out", false).ok());
      want.erase(d);
      other_want.insert("dir_out");
      // The index big itself has moves under another parent (its ".." in
      // the index root).
      ASSERT_TRUE(root->rename("big", *other, "big", false).ok());
      other_want.insert("big");
      EXPECT_EQ(big->lookup("..").value()->ino(), other->ino());
      EXPECT_EQ(big->lookup("missing_name").error(), Error::NotFound);
    }
    mr.fs->shutdown();
    TempDir t;
    save(io.bytes_, t.path + "/img");
    std::string fsck = run("e2fsck -fn " + t.path + "/img");
    EXPECT_NE(fsck.find("rc=0"), std::string::npos) << label << "\n" << fsck;
    std::string htree = run("debugfs -R 'htree /other/big' " + t.path + "/img");
    EXPECT_NE(htree.find("Indirect levels: " + std::to_string(c.want_levels)), std::string::npos)
        << label << "\n" << htree.substr(0, 400);
    {
      std::set<std::string> got = debugfs_names(t.path + "/img", "/other/big");
      std::string diff;
      for (auto& n : got)
        if (!want.count(n) && diff.size() < 600) diff += "extra " + n + "\n";
      for (auto& n : want)
        if (!got.count(n) && diff.size() < 1200) diff += "missing " + n + "\n";
      EXPECT_TRUE(got == want) << label << "\n" << diff;
    }
    EXPECT_EQ(debugfs_names(t.path + "/img", "/other/big").size(), want.size()) << label;
    EXPECT_TRUE(debugfs_names(t.path + "/img", "/other") == other_want) << label;
  }
}
