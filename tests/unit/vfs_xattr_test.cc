// Extended attributes (fs/vfs/xattr.cc): the store's order, flags, sizes
// and bound; the namespace rules; POSIX ACL checking and chmod.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "fs/vfs.h"

using capsule::Error;
using capsule::Result;
using capsule::StringView;
using namespace capsule::vfs;

namespace {

std::string names(const XattrStore& s, bool trusted = true) {
  char buf[512];
  auto r = s.list(buf, sizeof buf, trusted);
  EXPECT_TRUE(r.ok());
  std::string out(buf, r.value());
  for (char& c : out) if (c == '\0') c = '|';
  return out;
}

TEST(XattrStore, SetGetSizesAndRange) {
  XattrStore s;
  const char v[] = {'a', 0, 'b'};
  ASSERT_TRUE(s.set("user.x", v, 3, XattrSet::Any).ok());
  EXPECT_EQ(s.get("user.x", nullptr, 0).value(), 3u);  // size 0: the size
  char buf[8] = {};
  EXPECT_EQ(s.get("user.x", buf, sizeof buf).value(), 3u);
  EXPECT_EQ(0, std::memcmp(buf, v, 3));
  EXPECT_EQ(s.get("user.x", buf, 2).error(), Error::Range);  // too small
  EXPECT_EQ(s.get("user.y", buf, sizeof buf).error(), Error::NoData);
  EXPECT_EQ(s.remove("user.y").error(), Error::NoData);
  EXPECT_TRUE(s.set("user.e", nullptr, 0, XattrSet::Any).ok());  // empty value
  EXPECT_EQ(s.get("user.e", buf, sizeof buf).value(), 0u);
}

TEST(XattrStore, CreateReplaceAndOrder) {
  XattrStore s;
  EXPECT_EQ(s.set("user.b", "1", 1, XattrSet::Replace).error(), Error::NoData);
  ASSERT_TRUE(s.set("user.b", "1", 1, XattrSet::Create).ok());
  EXPECT_EQ(s.set("user.b", "2", 1, XattrSet::Create).error(), Error::Exists);
  ASSERT_TRUE(s.set("user.a", "1", 1, XattrSet::Any).ok());
  ASSERT_TRUE(s.set("trusted.t", "1", 1, XattrSet::Any).ok());
  EXPECT_EQ(names(s), "user.b|user.a|trusted.t|");
  ASSERT_TRUE(s.set("user.b", "22", 2, XattrSet::Replace).ok());  // keeps its place
  EXPECT_EQ(names(s), "user.b|user.a|trusted.t|");
  EXPECT_EQ(names(s, false), "user.b|user.a|");  // trusted.* hidden
  ASSERT_TRUE(s.set(ACL_DEFAULT, "x", 1, XattrSet::Any).ok());
  ASSERT_TRUE(s.set(ACL_ACCESS, "x", 1, XattrSet::Any).ok());
  EXPECT_EQ(names(s), "system.posix_acl_access|system.posix_acl_default|user.b|user.a|trusted.t|");
  ASSERT_TRUE(s.remove("user.a").ok());
  EXPECT_EQ(s.count(), 4u);
  char small[4];
  EXPECT_EQ(s.list(small, sizeof small, true).error(), Error::Range);
  EXPECT_EQ(s.list(nullptr, 0, true).value(), names(s).size());
}

TEST(XattrStore, BoundedPerFile) {
  XattrStore s;
  std::vector<char> big(MAX_XATTR_SIZE, 'v');
  size_t i = 0;
  Error last = Error::None;
  for (; i < 10; ++i) {
    auto r = s.set(("user." + std::to_string(i)).c_str(), big.data(), big.size(), XattrSet::Any);
    if (!r.ok()) {
      last = r.error();
      break;
    }
  }
  EXPECT_EQ(last, Error::NoSpace);
  EXPECT_LE(s.bytes(), XattrStore::MAX_BYTES);
  EXPECT_EQ(i, 3u);  // 4 x (64 KiB + name) is over 256 KiB
  // Replacing one by a smaller value is always possible.
  EXPECT_TRUE(s.set("user.0", "x", 1, XattrSet::Replace).ok());
  EXPECT_EQ(s.set("user.long", big.data(), big.size() + 1, XattrSet::Any).error(), Error::Invalid);
}

TEST(XattrNames, Namespaces) {
  EXPECT_EQ(xattr_namespace("user.x").value(), XattrNs::User);
  EXPECT_EQ(xattr_namespace("trusted.x").value(), XattrNs::Trusted);
  EXPECT_EQ(xattr_namespace("security.selinux").value(), XattrNs::Security);
  EXPECT_EQ(xattr_namespace("system.posix_acl_access").value(), XattrNs::AclAccess);
  EXPECT_EQ(xattr_namespace("system.posix_acl_default").value(), XattrNs::AclDefault);
  EXPECT_EQ(xattr_namespace("user.").error(), Error::Invalid);
  EXPECT_EQ(xattr_namespace("user").error(), Error::OpNotSupported);
  EXPECT_EQ(xattr_namespace("foo.bar").error(), Error::OpNotSupported);
  EXPECT_EQ(xattr_namespace("system.other").error(), Error::OpNotSupported);
  // user.* is for files and directories; trusted.* for the privileged.
  EXPECT_EQ(xattr_check("user.x", VType::Symlink, true, true).error(), Error::Permission);
  EXPECT_EQ(xattr_check("user.x", VType::Fifo, false, true).error(), Error::NoData);
  EXPECT_EQ(xattr_check("user.", VType::Symlink, true, true).error(), Error::Permission);
  EXPECT_TRUE(xattr_check("user.x", VType::Dir, true, false).ok());
  EXPECT_TRUE(xattr_check("trusted.x", VType::Symlink, true, true).ok());
  EXPECT_EQ(xattr_check("trusted.x", VType::Regular, false, false).error(), Error::Permission);
}

struct Entry {
  uint16_t tag, perm;
  uint32_t id;
};
std::vector<uint8_t> acl(std::vector<Entry> es, uint32_t version = 2) {
  std::vector<uint8_t> v(4 + es.size() * 8);
  std::memcpy(v.data(), &version, 4);
  if (!es.empty()) std::memcpy(v.data() + 4, es.data(), es.size() * 8);
  return v;
}
Result<AclInfo> check(const std::vector<uint8_t>& v, std::vector<uint8_t>* out = nullptr) {
  std::vector<uint8_t> o(v.size());
  auto r = posix_acl_check(v.data(), v.size(), o.data());
  if (out) *out = o;
  return r;
}
constexpr uint32_t NONE = ~0u;

TEST(PosixAcl, ModeAndEquivalence) {
  auto r = check(acl({{1, 7, 0}, {4, 5, 0}, {0x20, 4, 0}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().mode, 0754u);
  EXPECT_TRUE(r.value().equivalent);
  std::vector<uint8_t> norm;
  auto r2 = check(acl({{1, 6, 0}, {2, 4, 1000}, {4, 4, 0}, {0x10, 5, 9}, {0x20, 0, 0}}), &norm);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2.value().mode, 0650u);  // group bits from the mask
  EXPECT_FALSE(r2.value().equivalent);
  EXPECT_EQ(norm, acl({{1, 6, NONE}, {2, 4, 1000}, {4, 4, NONE}, {0x10, 5, NONE}, {0x20, 0, NONE}}));
  // chmod rewrites owner, mask and other.
  posix_acl_chmod(norm.data(), norm.size(), 0741);
  EXPECT_EQ(norm, acl({{1, 7, NONE}, {2, 4, 1000}, {4, 4, NONE}, {0x10, 4, NONE}, {0x20, 1, NONE}}));
  EXPECT_TRUE(check({}).value().empty);
  EXPECT_TRUE(check(acl({})).value().empty);
}

TEST(PosixAcl, Malformed) {
  EXPECT_EQ(check(acl({{1, 7, 0}, {4, 5, 0}, {0x20, 4, 0}}, 1)).error(), Error::OpNotSupported);
  EXPECT_EQ(check({2, 0}).error(), Error::Invalid);                                   // short header
  auto v = acl({{1, 7, 0}, {4, 5, 0}, {0x20, 4, 0}});
  v.pop_back();
  EXPECT_EQ(check(v).error(), Error::Invalid);                                        // partial entry
  EXPECT_EQ(check(acl({{1, 7, 0}, {4, 5, 0}})).error(), Error::Invalid);              // no OTHER
  EXPECT_EQ(check(acl({{4, 5, 0}, {1, 7, 0}, {0x20, 4, 0}})).error(), Error::Invalid);  // order
  EXPECT_EQ(check(acl({{1, 8, 0}, {4, 5, 0}, {0x20, 4, 0}})).error(), Error::Invalid);  // perm
  EXPECT_EQ(check(acl({{1, 7, 0}, {0x40, 5, 0}, {0x20, 4, 0}})).error(), Error::Invalid);  // tag
  EXPECT_EQ(check(acl({{1, 7, 0}, {2, 4, 5}, {4, 5, 0}, {0x20, 4, 0}})).error(), Error::Invalid);  // no mask
  EXPECT_EQ(check(acl({{1, 7, 0}, {2, 4, 5}, {2, 4, 5}, {4, 5, 0}, {0x10, 7, 0}, {0x20, 4, 0}})).error(),
            Error::Invalid);  // the same user twice
  EXPECT_EQ(check(acl({{1, 7, 0}, {1, 7, 0}, {4, 5, 0}, {0x20, 4, 0}})).error(), Error::Invalid);  // two owners
}

}  // namespace
