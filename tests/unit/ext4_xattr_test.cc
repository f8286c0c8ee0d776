// Extended attributes on ext4 (fs/ext4/xattr.cc, docs/ext4.md "Extended
// attributes"): the ones mke2fs -d copied from the host read back (in the
// inode and in a block), then set, replaced and removed through the
// vnode with Linux's errors; e2fsck -fn must be clean (it checks entries,
// hashes, the block's checksum and refcount, i_blocks) and debugfs
// `ea_get` must give every value; a file's attribute block is freed with
// the file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
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

std::string value_of(int seed, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + (i * 7 + size_t(seed)) % 26);
  return s;
}

std::string get(vfs::Vnode& v, const std::string& name) {
  char buf[8192];
  auto r = v.getxattr(StringView(name.data(), name.size()), buf, sizeof buf);
  return r.ok() ? std::string(buf, r.value()) : "<" + std::string(error_name(r.error())) + ">";
}

Result<void> set(vfs::Vnode& v, const std::string& name, const std::string& value,
                 vfs::XattrSet how = vfs::XattrSet::Any) {
  return v.setxattr(StringView(name.data(), name.size()), value.data(), value.size(), how);
}

}  // namespace

TEST(Ext4Xattr, ReadWhatMke2fsCopiedThenChange) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  for (const char* opts : {"-t ext4", "-t ext4 -b 1024 -I 128 -O ^metadata_csum"}) {
    TempDir t;
    std::string tree = t.path + "/tree";
    mkdir(tree.c_str(), 0755);
    std::ofstream(tree + "/small") << "s";
    std::ofstream(tree + "/big") << "b";
    std::ofstream(tree + "/gone") << "g";
    if (setxattr((tree + "/small").c_str(), "user.colour", "blue", 4, 0) != 0) GTEST_SKIP() << "no user xattrs in /tmp";
    std::string big = value_of(1, 700);
    ASSERT_EQ(setxattr((tree + "/big").c_str(), "user.big", big.data(), big.size(), 0), 0);
    ASSERT_EQ(setxattr((tree + "/big").c_str(), "user.small", "x", 1, 0), 0);
    ASSERT_EQ(setxattr((tree + "/gone").c_str(), "user.big", big.data(), big.size(), 0), 0);
    std::string img = t.path + "/img";
    ASSERT_NE(run(std::string("mke2fs -q -F ") + opts + " -d " + tree + " " + img + " 8M").find("rc=0"),
              std::string::npos);
    std::string raw = slurp(img);
    MemIo io(std::vector<uint8_t>(raw.begin(), raw.end()), true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    ASSERT_FALSE(mr.read_only) << mr.note;
    std::map<std::string, std::map<std::string, std::string>> want;
    uint64_t free_before_gone;
    {
      vfs::VnodeRef root = mr.fs->root();
      vfs::VnodeRef s = root->lookup("small").value(), b = root->lookup("big").value();
      // What mke2fs copied.
      EXPECT_EQ(get(*s, "user.colour"), "blue") << opts;
      EXPECT_EQ(get(*b, "user.big"), big) << opts;
      EXPECT_EQ(get(*b, "user.small"), "x") << opts;
      char list[256];
      auto n = b->listxattr(list, sizeof list, false);
      ASSERT_TRUE(n.ok());
      std::string names(list, n.value());
      EXPECT_NE(names.find(std::string("user.big\0", 9)), std::string::npos) << opts;
      EXPECT_NE(names.find(std::string("user.small\0", 11)), std::string::npos) << opts;
      EXPECT_EQ(b->listxattr(nullptr, 0, false).value(), n.value());
      EXPECT_EQ(b->listxattr(list, 5, false).error(), Error::Range);
      // Linux's answers.
      EXPECT_EQ(get(*s, "user.none"), "<" + std::string(error_name(Error::NoData)) + ">");
      char tiny[2];
      EXPECT_EQ(s->getxattr("user.colour", tiny, 2).error(), Error::Range);
      EXPECT_EQ(s->getxattr("user.colour", nullptr, 0).value(), 4u);
      EXPECT_EQ(set(*s, "user.colour", "red", vfs::XattrSet::Create).error(), Error::Exists);
      EXPECT_EQ(set(*s, "user.none", "red", vfs::XattrSet::Replace).error(), Error::NoData);
      EXPECT_EQ(s->removexattr("user.none").error(), Error::NoData);
      EXPECT_EQ(set(*s, "system.posix_acl_access", "x").error(), Error::OpNotSupported);
      EXPECT_EQ(set(*s, "user.huge", std::string(5000, 'h')).error(), Error::NoSpace);
      // Changes: replaced, added (small ones in the inode where it has
      // room, large ones in the block), an empty value, trusted.* hidden
      // from an unprivileged list, removed.
      ASSERT_TRUE(set(*s, "user.colour", "red", vfs::XattrSet::Replace).ok());
      ASSERT_TRUE(set(*s, "user.shape", "round").ok());
      ASSERT_TRUE(set(*s, "user.empty", "").ok());
      ASSERT_TRUE(set(*s, "trusted.secret", "t").ok());
      std::string big2 = value_of(2, 600);
      ASSERT_TRUE(set(*s, "user.large", big2).ok());
      ASSERT_TRUE(b->removexattr("user.big").ok());
      for (int i = 0; i < 16; ++i) {
        auto r = set(*b, "user.n" + std::to_string(i), value_of(i, 10 + i));
        ASSERT_TRUE(r.ok()) << opts << " " << i << " " << error_name(r.error());
      }
      EXPECT_EQ(get(*s, "user.colour"), "red");
      EXPECT_EQ(get(*s, "user.large"), big2);
      EXPECT_EQ(get(*s, "user.empty"), "");
      size_t plain = s->listxattr(list, sizeof list, false).value();
      EXPECT_EQ(std::string(list, plain).find("trusted."), std::string::npos);
      size_t all = s->listxattr(list, sizeof list, true).value();
      EXPECT_NE(std::string(list, all).find("trusted.secret"), std::string::npos);
      want["/small"] = {{"user.colour", "red"}, {"user.shape", "round"}, {"user.empty", ""},
                        {"trusted.secret", "t"}, {"user.large", big2}};
      want["/big"]["user.small"] = "x";
      for (int i = 0; i < 16; ++i) want["/big"]["user.n" + std::to_string(i)] = value_of(i, 10 + i);
      free_before_gone = mr.fs->statfs().bfree;
      ASSERT_TRUE(root->unlink("gone").ok());
    }
    mr.fs->shutdown();
    // The file's data block and its attribute block are back.
    EXPECT_EQ(mr.fs->statfs().bfree, free_before_gone + 2) << opts;
    std::ofstream(img, std::ios::binary).write(reinterpret_cast<const char*>(io.bytes_.data()),
                                               std::streamsize(io.bytes_.size()));
    std::string fsck = run("e2fsck -fn " + img);
    EXPECT_NE(fsck.find("rc=0"), std::string::npos) << opts << "\n" << fsck;
    for (auto& [path, attrs] : want) {
      for (auto& [name, value] : attrs) {
        std::string out = t.path + "/value";
        unlink(out.c_str());
        run("debugfs -R 'ea_get -f " + out + " " + path + " " + name + "' " + img);
        EXPECT_EQ(slurp(out), value) << opts << " " << path << " " << name;
      }
    }
    EXPECT_EQ(run("debugfs -R 'ea_list /big' " + img).find("user.big ("), std::string::npos) << opts;
  }
}

// A block three files share (refcount 3, as Linux's mbcache makes for
// equal attribute sets; made here with debugfs over an image without
// metadata_csum, so the refcount can be set by hand): one file's change
// gives it a copy (the shared block's refcount 2), another's deletion
// leaves the block to the third (refcount 1); e2fsck counts the holders.
TEST(Ext4Xattr, SharedBlocksAreCopiedAndKept) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  TempDir t;
  std::string tree = t.path + "/tree";
  mkdir(tree.c_str(), 0755);
  for (const char* n : {"a", "b", "c"}) std::ofstream(tree + "/" + n) << n;
  std::string big = value_of(3, 600);
  if (setxattr((tree + "/a").c_str(), "user.big", big.data(), big.size(), 0) != 0) GTEST_SKIP() << "no user xattrs";
  std::string img = t.path + "/img";
  ASSERT_NE(run("mke2fs -q -F -t ext4 -b 1024 -I 128 -O ^metadata_csum,^has_journal -d " + tree + " " + img + " 8M")
                .find("rc=0"),
            std::string::npos);
  std::string st = run("debugfs -R 'stat /a' " + img);
  size_t at = st.find("File ACL: ");
  ASSERT_NE(at, std::string::npos) << st;
  uint64_t acl = strtoull(st.c_str() + at + 10, nullptr, 10);
  ASSERT_GT(acl, 0u);
  // b and c point at a's block too: i_file_acl, and i_blocks counts it.
  for (const char* n : {"b", "c"}) {
    run("debugfs -w -R 'sif /" + std::string(n) + " file_acl " + std::to_string(acl) + "' " + img);
    run("debugfs -w -R 'sif /" + std::string(n) + " blocks 4' " + img);
  }
  std::string raw = slurp(img);
  ext4::put32(reinterpret_cast<uint8_t*>(&raw[acl * 1024 + 4]), 3);  // h_refcount
  std::ofstream(img, std::ios::binary) << raw;
  std::string pre = run("e2fsck -fn " + img);
  ASSERT_NE(pre.find("rc=0"), std::string::npos) << "the shared block as made\n" << pre;

  MemIo io(std::vector<uint8_t>(raw.begin(), raw.end()), true);
  ext4::MountResult mr;
  ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
  ASSERT_FALSE(mr.read_only) << mr.note;
  {
    vfs::VnodeRef root = mr.fs->root();
    vfs::VnodeRef b = root->lookup("b").value(), c = root->lookup("c").value();
    EXPECT_EQ(get(*b, "user.big"), big);
    ASSERT_TRUE(set(*b, "user.own", "mine").ok());
    EXPECT_EQ(ext4::le32(io.bytes_.data() + acl * 1024 + 4), 2u) << "b let go of the shared block";
    ASSERT_TRUE(root->unlink("a").ok());
    EXPECT_EQ(ext4::le32(io.bytes_.data() + acl * 1024 + 4), 1u) << "a let go; c keeps it";
    EXPECT_EQ(get(*c, "user.big"), big);
    EXPECT_EQ(get(*b, "user.big"), big);
    EXPECT_EQ(get(*b, "user.own"), "mine");
  }
  mr.fs->shutdown();
  std::ofstream(img, std::ios::binary) << std::string(io.bytes_.begin(), io.bytes_.end());
  std::string fsck = run("e2fsck -fn " + img);
  EXPECT_NE(fsck.find("rc=0"), std::string::npos) << fsck;
  std::string out = t.path + "/value";
  run("debugfs -R 'ea_get -f " + out + " /c user.big' " + img);
  EXPECT_EQ(slurp(out), big);
  run("debugfs -R 'ea_get -f " + out + " /b user.own' " + img);
  EXPECT_EQ(slurp(out), "mine");
}
