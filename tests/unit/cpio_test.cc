// cpio newc reader: archives made here and by tools/capsule/capsule_cli/
// cpio.py, every truncation, and each malformation with its message.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fs/cpio/newc.h"
#include "lib/format.h"

using namespace capsule;
namespace C = capsule::cpio;

namespace {

std::string sv(StringView v) { return std::string(v.data(), v.size()); }

// A small independent writer (not the one under test in Python).
struct Writer {
  std::string out;
  uint32_t ino = 1;
  const char* magic = "070701";

  void entry(const std::string& name, uint32_t mode, const std::string& data, uint32_t nlink = 1,
             uint32_t check = 0, uint32_t this_ino = 0) {
    char h[111];
    std::snprintf(h, sizeof(h), "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", magic,
                  this_ino ? this_ino : ino++, mode, 0u, 0u, nlink, 1700000000u, unsigned(data.size()), 0u, 0u, 0u,
                  0u, unsigned(name.size() + 1), check);
    out.append(h, 110);
    out += name;
    out += '\0';
    pad();
    out += data;
    pad();
  }
  void trailer() { entry("TRAILER!!!", 0, ""); }
  void pad() {
    while (out.size() % 4) out += '\0';
  }
};

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

// Owns the archive so entries and error names (which point into it) stay valid.
struct Listing {
  std::vector<uint8_t> archive;
  std::vector<C::Entry> entries;
  Error err = Error::None;  // of the last next(): None at a clean end
  bool ok() const { return err == Error::None; }
  C::CpioError error;
};

Listing list(std::vector<uint8_t> bytes) {
  Listing l;
  l.archive = std::move(bytes);
  const std::vector<uint8_t>& a = l.archive;
  C::Reader r(a.data(), a.size());
  C::Entry e;
  for (;;) {
    auto n = r.next(e);
    if (!n.ok() || !*n) {
      l.err = n.error();
      break;
    }
    l.entries.push_back(e);
  }
  l.error = r.error();
  return l;
}

std::string message(const C::CpioError& e) {
  char buf[256];
  format_to(buf, sizeof(buf), "{}", e);
  return buf;
}

std::vector<uint8_t> sample() {
  Writer w;
  w.entry(".", C::TYPE_DIR | 0755, "");
  w.entry("bin", C::TYPE_DIR | 0755, "");
  w.entry("bin/hello", C::TYPE_REGULAR | 0755, "#!/bin/sh\necho hi\n");
  w.entry("bin/sh", C::TYPE_SYMLINK | 0777, "busybox");
  w.entry("etc/motd", C::TYPE_REGULAR | 0644, "x");
  w.trailer();
  return bytes(w.out);
}

}  // namespace

TEST(Cpio, ReadsEntries) {
  Listing l = list(sample());
  const std::vector<uint8_t>& a = l.archive;
  ASSERT_TRUE(l.ok()) << message(l.error);
  ASSERT_EQ(l.entries.size(), 5u);
  EXPECT_EQ(sv(l.entries[0].name), ".");
  EXPECT_TRUE(l.entries[0].is_dir());
  const C::Entry& hello = l.entries[2];
  EXPECT_EQ(sv(hello.name), "bin/hello");
  EXPECT_TRUE(hello.is_regular());
  EXPECT_EQ(hello.permissions(), 0755u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(hello.data), hello.size), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(hello.mtime, 1700000000u);
  EXPECT_GE(hello.data, a.data());
  EXPECT_LE(hello.data + hello.size, a.data() + a.size()) << "zero-copy: data points into the archive";
  EXPECT_EQ((hello.data - a.data()) % 4, 0);
  EXPECT_TRUE(l.entries[3].is_symlink());
  EXPECT_EQ(sv(l.entries[3].symlink_target()), "busybox");
  EXPECT_EQ(l.entries[4].size, 1u);
}

TEST(Cpio, EndsAfterTrailerAndStaysEnded) {
  auto a = sample();
  C::Reader r(a.data(), a.size());
  C::Entry e;
  int n = 0;
  while (r.next(e).value_or(false)) ++n;
  EXPECT_EQ(n, 5);
  auto again = r.next(e);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST(Cpio, TruncatedAtEveryOffsetIsAnError) {
  auto a = sample();
  for (size_t n = 0; n < a.size(); ++n) {
    // Exactly n bytes on the heap: ASan flags any read past the cut.
    std::vector<uint8_t> cut(a.begin(), a.begin() + n);
    Listing l = list(cut);
    if (n == 0) {
      EXPECT_TRUE(l.ok()) << "an empty initrd is empty, not broken";
      continue;
    }
    EXPECT_EQ(l.err, Error::BadFormat) << "length " << n;
    EXPECT_LE(l.error.offset, n);
    EXPECT_NE(l.error.reason, nullptr);
  }
}

TEST(Cpio, ZeroPaddingAndConcatenatedArchives) {
  Writer w1;
  w1.entry("a", C::TYPE_REGULAR | 0644, "one");
  w1.trailer();
  Writer w2;
  w2.entry("b", C::TYPE_REGULAR | 0644, "two");
  w2.trailer();
  std::string both = w1.out + std::string(512, '\0') + w2.out + std::string(100, '\0');
  Listing l = list(bytes(both));
  ASSERT_TRUE(l.ok()) << message(l.error);
  ASSERT_EQ(l.entries.size(), 2u);
  EXPECT_EQ(sv(l.entries[1].name), "b");

  // A second archive may not start off a 4-byte boundary.
  std::string skew = w1.out + std::string(2, '\0') + w2.out;
  Listing s = list(bytes(skew));
  EXPECT_EQ(s.err, Error::BadFormat);
  EXPECT_NE(message(s.error).find("4-byte boundary"), std::string::npos);
}

TEST(Cpio, ManyEmptyArchivesDoNotRecurse) {
  Writer w;
  for (int i = 0; i < 20000; ++i) w.trailer();
  Listing l = list(bytes(w.out));
  EXPECT_TRUE(l.ok());
  EXPECT_TRUE(l.entries.empty());
}

TEST(Cpio, ChecksumFormat) {
  Writer w;
  w.magic = "070702";
  w.entry("f", C::TYPE_REGULAR | 0644, "abc", 1, 'a' + 'b' + 'c');
  w.trailer();
  EXPECT_TRUE(list(bytes(w.out)).ok());
  Writer bad;
  bad.magic = "070702";
  bad.entry("f", C::TYPE_REGULAR | 0644, "abc", 1, 7);
  bad.trailer();
  Listing l = list(bytes(bad.out));
  EXPECT_EQ(l.err, Error::BadFormat);
  EXPECT_NE(message(l.error).find("checksum"), std::string::npos);
}

TEST(Cpio, MalformedEntriesNameTheEntryAndOffset) {
  struct Case {
    const char* name;
    std::string archive;
    const char* reason_part;
    const char* entry;  // expected entry in the message, or nullptr
    size_t offset;
  };
  std::vector<Case> cases;
  {
    Writer w;
    w.entry("ok", C::TYPE_REGULAR | 0644, "1");
    size_t at = w.out.size();
    w.entry("dir", C::TYPE_DIR | 0755, "data");
    w.trailer();
    cases.push_back({"dir with data", w.out, "directory entry with data", "dir", at + 6 + 6 * 8});
  }
  {
    Writer w;
    w.entry("weird", 0170000 | 0644, "");
    w.trailer();
    cases.push_back({"unknown type", w.out, "unknown file type", "weird", 6 + 8});
  }
  {
    Writer w;
    w.entry("empty-link", C::TYPE_SYMLINK | 0777, "");
    w.trailer();
    cases.push_back({"empty symlink", w.out, "symlink target", "empty-link", 6 + 6 * 8});
  }
  {
    Writer w;
    w.entry("nul-link", C::TYPE_SYMLINK | 0777, std::string("a\0b", 3));
    w.trailer();
    cases.push_back({"NUL in symlink", w.out, "NUL inside symlink", "nul-link", 120 + 1});  // data at 120 (110 + 9, padded), NUL after "a"
  }
  {
    Writer w;
    w.entry("f", C::TYPE_REGULAR | 0644, "x");
    w.out[10] = 'g';
    w.trailer();
    cases.push_back({"bad hex", w.out, "bad hex digit", nullptr, 10});
  }
  {
    Writer w;
    w.entry("f", C::TYPE_REGULAR | 0644, "x");
    w.out[3] = '8';
    cases.push_back({"bad magic", w.out, "bad magic", nullptr, 0});
  }
  {
    Writer w;
    w.entry("name", C::TYPE_REGULAR | 0644, "x");
    w.out[110 + 4] = 'X';  // the NUL of the name
    w.trailer();
    cases.push_back({"unterminated name", w.out, "not NUL-terminated", nullptr, 114});
  }
  {
    Writer w;
    w.entry("f", C::TYPE_REGULAR | 0644, "x");
    // namesize 0
    std::memcpy(&w.out[6 + 11 * 8], "00000000", 8);
    cases.push_back({"namesize 0", w.out, "name size", nullptr, 6 + 11 * 8});
  }
  {
    Writer w;
    w.entry("f", C::TYPE_REGULAR | 0644, "x");
    std::memcpy(&w.out[6 + 6 * 8], "7FFFFFFF", 8);  // file size far past the end
    cases.push_back({"huge size", w.out, "truncated file data", "f", w.out.size()});
  }
  {
    Writer w;
    w.entry("f", C::TYPE_REGULAR | 0644, "x");
    cases.push_back({"no trailer", w.out, "without TRAILER!!!", nullptr, w.out.size()});
  }
  cases.push_back({"gzip", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8), "gzip", nullptr, 0});
  cases.push_back({"zstd", std::string("\x28\xb5\x2f\xfd\x00\x00\x00\x00", 8), "zstd", nullptr, 0});

  for (const Case& c : cases) {
    Listing l = list(bytes(c.archive));
    EXPECT_EQ(l.err, Error::BadFormat) << c.name;
    std::string m = message(l.error);
    EXPECT_NE(m.find(c.reason_part), std::string::npos) << c.name << ": " << m;
    EXPECT_EQ(l.error.offset, c.offset) << c.name << ": " << m;
    if (c.entry) {
      EXPECT_NE(m.find(std::string("(entry '") + c.entry + "')"), std::string::npos) << c.name << ": " << m;
    }
    char hex[32];
    std::snprintf(hex, sizeof(hex), "offset 0x%zx", c.offset);
    EXPECT_NE(m.find(hex), std::string::npos) << c.name << ": " << m;
  }
}

TEST(Cpio, RelativePath) {
  EXPECT_EQ(sv(C::relative_path(".")), "");
  EXPECT_EQ(sv(C::relative_path("./")), "");
  EXPECT_EQ(sv(C::relative_path("./bin/sh")), "bin/sh");
  EXPECT_EQ(sv(C::relative_path("/etc/passwd")), "etc/passwd");
  EXPECT_EQ(sv(C::relative_path(".//./x")), "x");
  EXPECT_EQ(sv(C::relative_path("..")), "..");
  EXPECT_EQ(sv(C::relative_path(".hidden")), ".hidden");
}

namespace {

// The repository root, from this file's own path (tests/unit/cpio_test.cc).
std::string source_root() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind("/tests/unit/"));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& data, mode_t mode) {
  std::ofstream(path, std::ios::binary) << data;
  chmod(path.c_str(), mode);
}

}  // namespace

TEST(Cpio, RoundTripWithThePythonWriter) {
  std::string script = source_root() + "/tools/capsule/capsule_cli/cpio.py";
  if (access(script.c_str(), R_OK) != 0 || std::system("python3 -c '' 2>/dev/null") != 0)
    GTEST_SKIP() << "python3 or " << script << " missing";
  char tmpl[] = "/tmp/capsule-cpio-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string tmp = tmpl, root = tmp + "/root";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/bin").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "/empty").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((root + "/etc").c_str(), 0755), 0);
  std::string blob;
  for (int i = 0; i < 70000; ++i) blob += char(i * 7 + 3);
  write_file(root + "/bin/prog", blob, 0755);
  write_file(root + "/etc/hosts", "127.0.0.1 localhost\n", 0644);
  write_file(root + "/etc/odd", "abc", 0600);  // length not a multiple of 4
  write_file(root + "/etc/empty", "", 0644);
  ASSERT_EQ(symlink("prog", (root + "/bin/sh").c_str()), 0);
  ASSERT_EQ(link((root + "/bin/prog").c_str(), (root + "/bin/prog2").c_str()), 0);

  std::string out1 = tmp + "/a.cpio", out2 = tmp + "/b.cpio";
  std::string cmd = "python3 " + script + " --mtime 1234 " + out1 + " " + root;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  cmd = "python3 " + script + " --mtime 1234 " + out2 + " " + root;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string a = read_file(out1);
  EXPECT_EQ(a, read_file(out2)) << "output must be deterministic";
  EXPECT_EQ(a.size() % 512, 0u);

  auto archive = bytes(a);
  Listing l = list(archive);
  ASSERT_TRUE(l.ok()) << message(l.error);
  std::map<std::string, C::Entry> by;
  std::vector<std::string> order;
  for (const C::Entry& e : l.entries) {
    by[sv(e.name)] = e;
    order.push_back(sv(e.name));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"bin", "bin/prog", "bin/prog2", "bin/sh", "empty", "etc",
                                             "etc/empty", "etc/hosts", "etc/odd"}));
  for (auto& [name, e] : by) {
    struct stat st;
    ASSERT_EQ(lstat((root + "/" + name).c_str(), &st), 0) << name;
    EXPECT_EQ(e.mode, st.st_mode) << name;
    EXPECT_EQ(e.mtime, 1234u) << name;
    if (S_ISREG(st.st_mode) && !e.is_hard_link()) {
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(e.data), e.size), read_file(root + "/" + name)) << name;
    }
  }
  EXPECT_EQ(sv(by["bin/sh"].symlink_target()), "prog");
  EXPECT_TRUE(by["empty"].is_dir());
  // Hard links: one inode, nlink 2, the data carried by exactly one name.
  const C::Entry &h1 = by["bin/prog"], &h2 = by["bin/prog2"];
  EXPECT_TRUE(h1.is_hard_link());
  EXPECT_TRUE(h2.is_hard_link());
  EXPECT_EQ(h1.ino, h2.ino);
  EXPECT_EQ(h1.nlink, 2u);
  EXPECT_EQ(h1.size + h2.size, blob.size());
  const C::Entry& carrier = h1.size ? h1 : h2;
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(carrier.data), carrier.size), blob);

  // Explicit HOST=GUEST pairs get their parent directories.
  std::string out3 = tmp + "/c.cpio";
  cmd = "python3 " + script + " --mtime 0 " + out3 + " --map " + root + "/etc/hosts=/usr/share/x/hosts";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  Listing m = list(bytes(read_file(out3)));
  ASSERT_TRUE(m.ok()) << message(m.error);
  std::vector<std::string> names;
  for (const C::Entry& e : m.entries) names.push_back(sv(e.name));
  EXPECT_EQ(names, (std::vector<std::string>{"usr", "usr/share", "usr/share/x", "usr/share/x/hosts"}));

  std::system(("rm -rf " + tmp).c_str());
}
