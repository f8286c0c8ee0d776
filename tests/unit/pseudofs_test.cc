// Host tests of the pseudo file systems' pure parts (docs/pseudo-fs.md):
// the maps line and CPU list formats, the generated file system (snapshots
// at open, writes, magic links, numbered children, no cached names), devfs's
// tree and memory devices, sysfs's CPU files.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "fs/devfs/devfs.h"
#include "fs/procfs/maps_format.h"
#include "fs/procfs/procfs.h"
#include "fs/procfs/write_value.h"
#include "fs/sysfs/cpulist.h"
#include "fs/sysfs/sysfs.h"
#include "vfs_test_util.h"

namespace {

using namespace vfs_test;
using capsule::procfs::Entry;
using capsule::procfs::Text;

class StringSink final : public capsule::Sink {
 public:
  void put(char c) override { s.push_back(c); }
  std::string s;
};

std::string maps(const capsule::procfs::MapsLine& l) {
  StringSink s;
  capsule::procfs::format_maps_line(s, l);
  return s.s;
}

TEST(MapsFormat, AnonymousLineEndsWithASpace) {
  capsule::procfs::MapsLine l;
  l.start = 0x400000;
  l.end = 0x401000;
  l.read = l.exec = true;
  EXPECT_EQ(maps(l), "00400000-00401000 r-xp 00000000 00:00 0 \n");
}

TEST(MapsFormat, NamesStartAtColumn73) {
  capsule::procfs::MapsLine l;
  l.start = 0x7ffc82f96000;
  l.end = 0x7ffc82fb7000;
  l.read = l.write = true;
  l.name = "[stack]";
  EXPECT_EQ(maps(l), "7ffc82f96000-7ffc82fb7000 rw-p 00000000 00:00 0                          [stack]\n");
  l.start = 0x401000;
  l.end = 0x415000;
  l.write = false;
  l.exec = l.shared = true;
  l.offset = 0x1000;
  l.major = 0xfe;
  l.minor = 1;
  l.ino = 10953657;
  l.name = "/bin/prog";
  std::string s = maps(l);
  EXPECT_EQ(s, "00401000-00415000 r-xs 00001000 fe:01 10953657                           /bin/prog\n");
  EXPECT_EQ(s.find("/bin/prog"), 73u);
}

std::string cpus(std::initializer_list<bool> set) {
  StringSink s;
  std::vector<char> v(set.begin(), set.end());
  bool b[64];
  for (size_t i = 0; i < v.size(); ++i) b[i] = v[i];
  capsule::sysfs::format_cpu_list(s, b, v.size());
  return s.s;
}

TEST(CpuList, RangesAndSingles) {
  EXPECT_EQ(cpus({true}), "0");
  EXPECT_EQ(cpus({true, true, true, true}), "0-3");
  EXPECT_EQ(cpus({true, false, true, true, false, true}), "0,2-3,5");
  EXPECT_EQ(cpus({false, true, true}), "1-2");
  EXPECT_EQ(cpus({false, false}), "");
}

// --- a generated tree --------------------------------------------------------------

int g_value = 1;
std::set<uint64_t> g_items;
std::string g_stored;
VnodeRef g_target;

Result<void> show_value(uint64_t, Text& o) {
  o.f("value {}\n", g_value);
  return {};
}
Result<void> store_value(uint64_t, StringView d) {
  g_stored.assign(d.data(), d.size());
  if (d == "bad") return Error::Invalid;
  return {};
}
Result<void> show_item(uint64_t n, Text& o) {
  o.f("item {}\n", n);
  return {};
}
Result<void> show_big(uint64_t, Text& o) {
  for (int i = 0; i < 10000; ++i) o.f("{:05}\n", i);
  return {};
}
Result<void> link_text(uint64_t, Text& o) {
  o.str("not-a-path:[7]");
  return {};
}
Result<VnodeRef> follow(uint64_t) { return g_target; }
size_t list_items(uint64_t, uint64_t from, uint64_t* out, size_t cap) {
  size_t k = 0;
  for (auto it = g_items.lower_bound(from); it != g_items.end() && k < cap; ++it) out[k++] = *it;
  return k;
}
bool item_exists(uint64_t, uint64_t n) { return g_items.count(n); }

const Entry ITEM[] = {{.name = "data", .mode = MODE_REGULAR | 0444, .show = show_item}};
const Entry ITEM_DIR = {.mode = MODE_DIR | 0555, .children = ITEM, .nchildren = 1};
const Entry TOP[] = {
    {.name = "value", .mode = MODE_REGULAR | 0644, .show = show_value, .store = store_value},
    {.name = "ro", .mode = MODE_REGULAR | 0444, .show = show_value},
    {.name = "sysctl", .mode = MODE_REGULAR | 0444, .show = show_value, .deny_write_open = true},
    {.name = "big", .mode = MODE_REGULAR | 0444, .show = show_big},
    {.name = "magic", .mode = MODE_SYMLINK | 0777, .link = link_text, .follow = follow},
    {.name = "plain", .mode = MODE_SYMLINK | 0777, .link = [](uint64_t, Text& o) -> Result<void> {
       o.str("items/3");
       return {};
     }},
    {.name = "items", .mode = MODE_DIR | 0555, .numbered = &ITEM_DIR, .list = list_items, .exists = item_exists},
};
const Entry ROOT = {.mode = MODE_DIR | 0555, .children = TOP, .nchildren = std::size(TOP)};

struct GenWorld : World {
  GenWorld() {
    EXPECT_EQ(mkdir("/gen"), Error::None);
    gen = capsule::procfs::GenFs::create("gen", &ROOT).release_value();
    EXPECT_TRUE(vfs.mount(FsRef(gen.get()), ctx(), "/gen").ok());
    g_items = {3, 10, 200};
    g_value = 1;
  }
  ~GenWorld() { g_target.reset(); }
  RefPtr<capsule::procfs::GenFs> gen;
};

class Names final : public DirSink {
 public:
  bool emit(StringView n, uint64_t, VType, uint64_t next) override {
    if (limit && names.size() == limit) return false;
    names.emplace_back(n.data(), n.size());
    cookie = next;
    return true;
  }
  std::vector<std::string> names;
  uint64_t cookie = 0;
  size_t limit = 0;
};

TEST(GenFs, FilesAreSnapshotsTakenAtOpen) {
  GenWorld w;
  auto f = w.open("/gen/value");
  ASSERT_TRUE(f.ok());
  g_value = 2;
  EXPECT_EQ(World::read_all(*f.value()), "value 1\n");
  EXPECT_EQ(w.read_file("/gen/value"), "value 2\n");
  // Reads at offsets walk one snapshot.
  auto b = w.open("/gen/big");
  ASSERT_TRUE(b.ok());
  char buf[7] = {};
  KernelBuffer kb(buf, 6);
  ASSERT_TRUE(b.value()->read(kb).ok());
  EXPECT_EQ(std::string(buf), "00000\n");
  ASSERT_TRUE(b.value()->seek(6 * 9999, Whence::Set).ok());
  ASSERT_TRUE(b.value()->read(kb).ok());
  EXPECT_EQ(std::string(buf), "09999\n");
  EXPECT_EQ(b.value()->read(kb).value(), 0u);
  // stat: size 0 as Linux's proc files.
  EXPECT_EQ(w.stat("/gen/big").value().size, 0u);
  EXPECT_EQ(w.stat("/gen/big").value().mode, MODE_REGULAR | 0444);
}

TEST(GenFs, WritesGoToStore) {
  GenWorld w;
  auto f = w.open("/gen/value", OpenHow::WRITE | OpenHow::TRUNC);
  ASSERT_TRUE(f.ok());
  KernelBuffer b("42\n", 3);
  EXPECT_EQ(f.value()->write(b).value(), 3u);
  EXPECT_EQ(g_stored, "42\n");
  KernelBuffer bad("bad", 3);
  EXPECT_EQ(f.value()->write(bad).error(), Error::Invalid);
  // Read-only: the open succeeds and writes fail with Io (EIO), or the
  // open is refused (EACCES) for sysctl-like files.
  auto ro = w.open("/gen/ro", OpenHow::WRITE);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(ro.value()->write(b).error(), Error::Io);
  EXPECT_EQ(w.open("/gen/sysctl", OpenHow::WRITE).error(), Error::AccessDenied);
  EXPECT_TRUE(w.open("/gen/sysctl").ok());
}

TEST(GenFs, NumberedChildrenComeAndGoUncached) {
  GenWorld w;
  EXPECT_EQ(w.read_file("/gen/items/10/data"), "item 10\n");
  g_items.erase(10);
  EXPECT_EQ(w.open("/gen/items/10/data").error(), Error::NotFound);
  EXPECT_EQ(w.open("/gen/items/11/data").error(), Error::NotFound);
  g_items.insert(11);
  EXPECT_EQ(w.read_file("/gen/items/11/data"), "item 11\n");
  EXPECT_EQ(w.open("/gen/items/011/data").error(), Error::NotFound);
  auto d = w.open("/gen/items");
  ASSERT_TRUE(d.ok());
  Names n;
  ASSERT_TRUE(d.value()->readdir(n).ok());
  EXPECT_EQ(n.names, (std::vector<std::string>{".", "..", "3", "11", "200"}));
  // Resuming from a cookie continues after the last name given.
  auto d2 = w.open("/gen/items");
  Names first;
  first.limit = 3;
  ASSERT_TRUE(d2.value()->readdir(first).ok());
  g_items.insert(5);
  Names rest;
  ASSERT_TRUE(d2.value()->readdir(rest).ok());
  EXPECT_EQ(rest.names, (std::vector<std::string>{"5", "11", "200"}));
}

TEST(GenFs, LinksPlainAndMagic) {
  GenWorld w;
  char buf[64];
  auto n = w.vfs.readlink(w.ctx(), "/gen/magic", buf, sizeof(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, n.value()), "not-a-path:[7]");
  w.write_file("/target", "the target");
  g_target = w.vfs.resolve(w.ctx(), "/target", 0).release_value();
  // The walk lands on the vnode, not on the text.
  EXPECT_EQ(w.read_file("/gen/magic"), "the target");
  EXPECT_EQ(w.stat("/gen/magic").value().ino, g_target->ino());
  EXPECT_EQ(w.stat("/gen/magic", false).value().mode & MODE_TYPE, MODE_SYMLINK);
  // Even once the name is gone.
  ASSERT_TRUE(w.vfs.unlink(w.ctx(), "/target").ok());
  EXPECT_EQ(w.read_file("/gen/magic"), "the target");
  EXPECT_EQ(w.open("/gen/magic", OpenHow::READ | OpenHow::NOFOLLOW).error(), Error::Loop);
  // An ordinary link is walked as text, relative to its directory.
  EXPECT_EQ(w.read_file("/gen/plain/data"), "item 3\n");
}

TEST(GenFs, NoNamesMadeByUsers) {
  GenWorld w;
  EXPECT_EQ(w.mkdir("/gen/new"), Error::Permission);
  EXPECT_EQ(w.open("/gen/new", OpenHow::WRITE | OpenHow::CREATE).error(), Error::Permission);
  EXPECT_EQ(w.vfs.unlink(w.ctx(), "/gen/value").error(), Error::Permission);
  EXPECT_EQ(w.open("/gen/value/x").error(), Error::NotDir);
  // ".." leaves the mount.
  auto up = w.vfs.resolve(w.ctx(), "/gen/items/..", 0);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up.value(), w.vfs.resolve(w.ctx(), "/gen", 0).value());
  char path[64];
  auto items = w.vfs.resolve(w.ctx(), "/gen/items/3", 0).release_value();
  auto len = w.vfs.path_of(w.ctx(), *items, path, sizeof(path));
  ASSERT_TRUE(len.ok());
  EXPECT_EQ(std::string(path), "/gen/items/3");
}

// --- devfs, sysfs --------------------------------------------------------------------

struct DevWorld : World {
  DevWorld() {
    EXPECT_EQ(mkdir("/dev"), Error::None);
    EXPECT_TRUE(vfs.mount(capsule::devfs::create().release_value(), ctx(), "/dev").ok());
  }
};

TEST(Devfs, NodesAndLinks) {
  DevWorld w;
  struct {
    const char* path;
    uint64_t rdev;
    uint32_t perm;
  } nodes[] = {{"/dev/null", capsule::devfs::DEV_NULL, 0666},     {"/dev/zero", capsule::devfs::DEV_ZERO, 0666},
               {"/dev/full", capsule::devfs::DEV_FULL, 0666},     {"/dev/urandom", capsule::devfs::DEV_URANDOM, 0666},
               {"/dev/console", capsule::devfs::DEV_CONSOLE, 0620}, {"/dev/tty", capsule::devfs::DEV_TTY, 0666},
               {"/dev/ptmx", capsule::devfs::DEV_PTMX, 0666}};
  for (auto& n : nodes) {
    auto a = w.stat(n.path, false);
    ASSERT_TRUE(a.ok()) << n.path;
    EXPECT_EQ(a.value().mode, MODE_CHAR | n.perm) << n.path;
    EXPECT_EQ(a.value().rdev, n.rdev) << n.path;
  }
  char buf[64];
  auto k = w.vfs.readlink(w.ctx(), "/dev/stdout", buf, sizeof(buf));
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(std::string(buf, k.value()), "/proc/self/fd/1");
  EXPECT_EQ(w.stat("/dev/shm").value().mode, MODE_DIR | 01777);
  EXPECT_EQ(w.stat("/dev/pts").value().mode, MODE_DIR | 0755);
  // Users add to it (devtmpfs).
  EXPECT_EQ(w.mkdir("/dev/mine"), Error::None);
  EXPECT_TRUE(w.open("/dev/mine/file", OpenHow::WRITE | OpenHow::CREATE).ok());
}

TEST(Devfs, MemoryDevicesOpenByNumberAnywhere) {
  DevWorld w;
  std::string zeros(100, '\0');
  auto zf = w.open("/dev/zero");
  ASSERT_TRUE(zf.ok());
  EXPECT_EQ(World::read_all(*zf.value(), 100), zeros);
  auto full = w.open("/dev/full", OpenHow::READ | OpenHow::WRITE);
  ASSERT_TRUE(full.ok());
  KernelBuffer b("x", 1);
  EXPECT_EQ(full.value()->write(b).error(), Error::NoSpace);
  auto rf = w.open("/dev/urandom");
  ASSERT_TRUE(rf.ok());
  std::string r1 = World::read_all(*rf.value(), 64), r2 = World::read_all(*rf.value(), 64);
  EXPECT_EQ(r1.size(), 64u);
  EXPECT_NE(r1, r2);
  // A node made in another file system with the same number is the device.
  CreateArgs a;
  a.mode = MODE_CHAR | 0600;
  a.rdev = capsule::devfs::DEV_ZERO;
  ASSERT_TRUE(w.vfs.mknod(w.ctx(), "/myzero", a).ok());
  auto z = w.open("/myzero", OpenHow::READ | OpenHow::WRITE);
  ASSERT_TRUE(z.ok());
  char buf[8];
  std::memset(buf, 1, sizeof(buf));
  KernelBuffer kb(buf, sizeof(buf));
  EXPECT_EQ(z.value()->read(kb).value(), 8u);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(z.value()->write(b).value(), 1u);
}

// Values written to procfs files, as Linux answered the same writes on the
// host (/proc/self/timerslack_ns: kstrtoull; /proc/self/oom_score_adj:
// kstrtoint after strstrip).
TEST(ProcWrite, TimerslackAsKstrtoull) {
  using capsule::procfs::parse_write_u64;
  EXPECT_EQ(parse_write_u64("50000").value(), 50000u);
  EXPECT_EQ(parse_write_u64("50000\n").value(), 50000u);
  EXPECT_EQ(parse_write_u64("+5").value(), 5u);
  EXPECT_EQ(parse_write_u64("18446744073709551615").value(), ~uint64_t(0));
  EXPECT_EQ(parse_write_u64("18446744073709551616").error(), Error::Range);   // ERANGE
  EXPECT_EQ(parse_write_u64("99999999999999999999").error(), Error::Range);
  for (const char* bad : {"50000 ", " 50000", "0x10", "", "5\n\n", "-1", "+"})
    EXPECT_EQ(parse_write_u64(StringView(bad, std::strlen(bad))).error(), Error::Invalid) << bad;
}

TEST(ProcWrite, OomScoreAdjAsKstrtoint) {
  using capsule::procfs::parse_write_int;
  EXPECT_EQ(parse_write_int(" 5 ").value(), 5);
  EXPECT_EQ(parse_write_int("+5").value(), 5);
  EXPECT_EQ(parse_write_int("0000001000").value(), 512);  // base 0: octal
  EXPECT_EQ(parse_write_int("0x10").value(), 16);
  EXPECT_EQ(parse_write_int("010").value(), 8);
  EXPECT_EQ(parse_write_int("-0").value(), 0);
  EXPECT_EQ(parse_write_int(" \n 5 \n").value(), 5);
  EXPECT_EQ(parse_write_int("\v5\f").value(), 5);
  EXPECT_EQ(parse_write_int("-2147483648").value(), INT32_MIN);
  EXPECT_EQ(parse_write_int("99999999999").error(), Error::Range);  // ERANGE
  EXPECT_EQ(parse_write_int("2147483648").error(), Error::Range);
  for (const char* bad : {"0x", "08", "5x", "-", "", "- 5", "-+5"})
    EXPECT_EQ(parse_write_int(StringView(bad, std::strlen(bad))).error(), Error::Invalid) << bad;
}

TEST(ProcWrite, SysctlUnsigned) {
  using capsule::procfs::parse_write_sysctl_uint;
  EXPECT_EQ(parse_write_sysctl_uint("2\n", 2).value(), 2u);
  EXPECT_EQ(parse_write_sysctl_uint("8192 \n", 0x7fffffff).value(), 8192u);
  EXPECT_EQ(parse_write_sysctl_uint("3", 2).error(), Error::Invalid);
  EXPECT_EQ(parse_write_sysctl_uint("2147483648", 0x7fffffff).error(), Error::Invalid);
  EXPECT_EQ(parse_write_sysctl_uint("99999999999999999999999", 0x7fffffff).error(), Error::Invalid);
  EXPECT_EQ(parse_write_sysctl_uint("", 2).error(), Error::Invalid);
  EXPECT_EQ(parse_write_sysctl_uint("1x", 2).error(), Error::Invalid);
}

TEST(Sysfs, CpuFiles) {
  World w;
  ASSERT_EQ(w.mkdir("/sys"), Error::None);
  ASSERT_TRUE(w.vfs.mount(capsule::sysfs::create().release_value(), w.ctx(), "/sys").ok());
  // The host build models a 4-CPU machine.
  EXPECT_EQ(w.read_file("/sys/devices/system/cpu/online"), "0-3\n");
  EXPECT_EQ(w.read_file("/sys/devices/system/cpu/possible"), "0-3\n");
  EXPECT_EQ(w.read_file("/sys/devices/system/cpu/cpu3/online"), "1\n");
  EXPECT_EQ(w.stat("/sys/devices/system/cpu/cpu4").error(), Error::NotFound);
  EXPECT_EQ(w.stat("/sys/devices/system/cpu/cpu").error(), Error::NotFound);
  EXPECT_EQ(w.read_file("/sys/kernel/mm/transparent_hugepage/enabled"), "always madvise [never]\n");
  EXPECT_EQ(w.stat("/sys/fs/cgroup").error(), Error::NotFound);
  EXPECT_EQ(w.open("/sys/devices/system/cpu/online", OpenHow::WRITE).error(), Error::AccessDenied);
  auto d = w.open("/sys/devices/system/cpu");
  ASSERT_TRUE(d.ok());
  Names n;
  ASSERT_TRUE(d.value()->readdir(n).ok());
  EXPECT_EQ(n.names, (std::vector<std::string>{".", "..", "online", "possible", "present", "kernel_max", "cpu0",
                                               "cpu1", "cpu2", "cpu3"}));
}

}  // namespace
