// ramfs: data in pages (sparse, truncate, holes), names (rename over an open
// file, unlink while open, hard links), attributes, limits, concurrency,
// and population from cpio archives including zero-copy and bad input.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "lib/format.h"
#include "vfs_test_util.h"

using namespace vfs_test;

namespace {

constexpr size_t PG = 4096;

std::string pread_str(OpenFile& f, uint64_t off, size_t n) {
  std::string out(n, '\0');
  KernelBuffer b(out.data(), n);
  auto r = f.pread(b, off);
  if (!r.ok()) return "<error>";
  out.resize(r.value());
  return out;
}

void pwrite_str(OpenFile& f, uint64_t off, const std::string& s) {
  KernelBuffer b(s.data(), s.size());
  auto r = f.pwrite(b, off);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value(), s.size());
}

TEST(Ramfs, WriteReadBackAcrossPages) {
  World w;
  FileRef f = w.open("/f", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  std::string data(3 * PG + 123, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char('a' + i % 26);
  KernelBuffer b(data.data(), data.size());
  ASSERT_EQ(f->write(b).value_or(0), data.size());
  EXPECT_EQ(World::read_all(*f), data);
  EXPECT_EQ(pread_str(*f, PG - 2, 4), data.substr(PG - 2, 4));
  EXPECT_EQ(pread_str(*f, data.size(), 10), "");        // at EOF
  EXPECT_EQ(pread_str(*f, data.size() + 50, 10), "");   // past EOF
  Attr a = f->vnode().getattr().value();
  EXPECT_EQ(a.size, data.size());
  EXPECT_EQ(a.blocks, 4 * PG / 512);
  EXPECT_EQ(w.fs->pages_used(), 4u);
}

TEST(Ramfs, SparseFilesAndHoles) {
  World w;
  FileRef f = w.open("/s", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  uint64_t far = (uint64_t(1) << 40) + 7;  // 1 TiB in: a tall tree, two pages
  pwrite_str(*f, 10, "head");
  pwrite_str(*f, far, "tail");
  EXPECT_EQ(f->vnode().getattr().value().size, far + 4);
  EXPECT_EQ(w.fs->pages_used(), 2u);
  EXPECT_EQ(pread_str(*f, 0, 14), std::string(10, '\0') + "head");
  EXPECT_EQ(pread_str(*f, far - 5, 9), std::string(5, '\0') + "tail");
  EXPECT_EQ(pread_str(*f, 5 * PG, 8), std::string(8, '\0'));  // a hole
  EXPECT_EQ(f->vnode().getattr().value().blocks, 2 * PG / 512);
  // Writes at the very limit.
  KernelBuffer one("x", 1);
  EXPECT_EQ(f->pwrite(one, MAX_FILE_SIZE).error(), Error::FileTooBig);
}

TEST(Ramfs, TruncateDownAndUp) {
  World w;
  FileRef f = w.open("/t", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  pwrite_str(*f, 0, std::string(2 * PG + 100, 'z'));
  ASSERT_TRUE(f->vnode().truncate(PG + 10).ok());
  EXPECT_EQ(w.fs->pages_used(), 2u);
  ASSERT_TRUE(f->vnode().truncate(3 * PG).ok());  // up: the cut bytes read zero
  EXPECT_EQ(pread_str(*f, PG + 8, 4), std::string("zz") + std::string(2, '\0'));
  EXPECT_EQ(pread_str(*f, 2 * PG, 4), std::string(4, '\0'));
  ASSERT_TRUE(f->vnode().truncate(0).ok());
  EXPECT_EQ(w.fs->pages_used(), 0u);
  EXPECT_EQ(f->vnode().getattr().value().size, 0u);
  // Through the Vfs: truncate(2) on a directory and setattr on sizes.
  SetAttr s;
  s.mask = SetAttr::SIZE;
  s.size = 5;
  EXPECT_EQ(w.vfs.setattr(w.ctx(), "/", s, true).error(), Error::IsDir);
  ASSERT_TRUE(w.vfs.setattr(w.ctx(), "/t", s, true).ok());
  EXPECT_EQ(World::read_all(*f), std::string(5, '\0'));
}

TEST(Ramfs, RenameOverOpenFileKeepsOldContents) {
  World w;
  w.write_file("/target", "old contents");
  w.write_file("/new", "new contents");
  FileRef old = w.open("/target").release_value();
  ASSERT_EQ(w.vfs.rename(w.ctx(), "/new", "/target").error(), Error::None);
  EXPECT_EQ(World::read_all(*old), "old contents");
  EXPECT_EQ(w.read_file("/target"), "new contents");
  EXPECT_EQ(old->vnode().getattr().value().nlink, 0u);
  EXPECT_EQ(w.stat("/new").error(), Error::NotFound);
}

TEST(Ramfs, UnlinkWhileOpen) {
  World w;
  w.write_file("/u", "still here");
  FileRef f = w.open("/u", OpenHow::READ | OpenHow::WRITE).release_value();
  ASSERT_EQ(w.vfs.unlink(w.ctx(), "/u").error(), Error::None);
  EXPECT_EQ(w.stat("/u").error(), Error::NotFound);
  EXPECT_EQ(World::read_all(*f), "still here");
  pwrite_str(*f, 0, "STILL");
  EXPECT_EQ(World::read_all(*f), "STILL here");
  EXPECT_EQ(f->vnode().getattr().value().nlink, 0u);
  EXPECT_EQ(w.fs->pages_used(), 1u);
  f.reset();  // the last reference frees the data
  EXPECT_EQ(w.fs->pages_used(), 0u);
}

TEST(Ramfs, HardLinks) {
  World w;
  w.write_file("/h1", "shared");
  ASSERT_EQ(w.vfs.link(w.ctx(), "/h1", "/h2").error(), Error::None);
  ASSERT_EQ(w.mkdir("/d"), Error::None);
  ASSERT_EQ(w.vfs.link(w.ctx(), "/h1", "/d/h3").error(), Error::None);
  EXPECT_EQ(w.stat("/h1").value().nlink, 3u);
  EXPECT_EQ(w.stat("/h1").value().ino, w.stat("/d/h3").value().ino);
  w.write_file("/h2", "changed");  // O_TRUNC through another name
  EXPECT_EQ(w.read_file("/d/h3"), "changed");
  ASSERT_EQ(w.vfs.unlink(w.ctx(), "/h1").error(), Error::None);
  EXPECT_EQ(w.stat("/h2").value().nlink, 2u);
  // Renaming one name over another of the same file does nothing (POSIX).
  ASSERT_EQ(w.vfs.rename(w.ctx(), "/h2", "/d/h3").error(), Error::None);
  EXPECT_TRUE(w.stat("/h2").ok());
  EXPECT_EQ(w.stat("/h2").value().nlink, 2u);
  // Directory link counts: 2 + subdirectories.
  EXPECT_EQ(w.stat("/d").value().nlink, 2u);
  ASSERT_EQ(w.mkdir("/d/sub"), Error::None);
  EXPECT_EQ(w.stat("/d").value().nlink, 3u);
  ASSERT_EQ(w.vfs.rename(w.ctx(), "/d/sub", "/sub").error(), Error::None);
  EXPECT_EQ(w.stat("/d").value().nlink, 2u);
  EXPECT_EQ(w.stat("/sub/..").value().ino, w.stat("/").value().ino);
}

TEST(Ramfs, AttributesAndTimes) {
  World w;
  CreateArgs a;
  a.mode = 0640;
  a.uid = 1000;
  a.gid = 100;
  OpenHow h;
  h.flags = OpenHow::WRITE | OpenHow::CREATE;
  h.create = a;
  FileRef f = w.vfs.open(w.ctx(), "/m", h).release_value();
  Attr st = w.stat("/m").value();
  EXPECT_EQ(st.mode, MODE_REGULAR | 0640);
  EXPECT_EQ(st.uid, 1000u);
  EXPECT_EQ(st.gid, 100u);
  EXPECT_EQ(st.dev, w.fs->dev());
  EXPECT_GT(st.mtime_ns, 0);
  SetAttr s;
  s.mask = SetAttr::MODE | SetAttr::UID | SetAttr::ATIME | SetAttr::MTIME;
  s.mode = 07755;
  s.uid = 0;
  s.atime_ns = 111;
  s.mtime_ns = 222;
  ASSERT_TRUE(w.vfs.setattr(w.ctx(), "/m", s, true).ok());
  st = w.stat("/m").value();
  EXPECT_EQ(st.mode, MODE_REGULAR | 07755);
  EXPECT_EQ(st.uid, 0u);
  EXPECT_EQ(st.atime_ns, 111);
  EXPECT_EQ(st.mtime_ns, 222);
  EXPECT_GT(st.ctime_ns, 222);
  KernelBuffer b("x", 1);
  ASSERT_TRUE(f->write(b).ok());
  EXPECT_GT(w.stat("/m").value().mtime_ns, 222);
  // Symlinks report the target length as size.
  ASSERT_EQ(w.symlink("/some/where", "/l"), Error::None);
  EXPECT_EQ(w.stat("/l", false).value().size, 11u);
  EXPECT_EQ(w.stat("/l", false).value().mode, MODE_SYMLINK | 0777);
  // Special files.
  CreateArgs fifo;
  fifo.mode = MODE_FIFO | 0600;
  ASSERT_TRUE(w.vfs.mknod(w.ctx(), "/fifo", fifo).ok());
  EXPECT_EQ(w.stat("/fifo").value().mode, MODE_FIFO | 0600);
}

struct Collect final : DirSink {
  bool emit(StringView name, uint64_t, VType type, uint64_t) override {
    if (limit && names.size() >= limit) return false;
    names.emplace_back(name.data(), name.size());
    types.push_back(type);
    return true;
  }
  std::vector<std::string> names;
  std::vector<VType> types;
  size_t limit = 0;
};

TEST(Ramfs, ReaddirWithCookies) {
  World w;
  ASSERT_EQ(w.mkdir("/d"), Error::None);
  for (int i = 0; i < 10; ++i) w.write_file("/d/f" + std::to_string(i), "");
  ASSERT_EQ(w.mkdir("/d/sub"), Error::None);
  FileRef d = w.open("/d", OpenHow::READ | OpenHow::DIRECTORY).release_value();
  // Three entries per call, resuming where the last call stopped, with a
  // name removed and one added in between: each survivor exactly once.
  std::vector<std::string> all;
  Collect c;
  c.limit = 3;
  ASSERT_EQ(d->readdir(c).value_or(0), 3u);
  all = c.names;
  ASSERT_EQ(w.vfs.unlink(w.ctx(), "/d/f5").error(), Error::None);
  for (;;) {
    Collect more;
    more.limit = 3;
    size_t n = d->readdir(more).value_or(0);
    if (!n) break;
    all.insert(all.end(), more.names.begin(), more.names.end());
  }
  EXPECT_EQ(all.size(), 2u + 10u);  // . .. f0..f9 without f5, sub
  EXPECT_EQ(all[0], ".");
  EXPECT_EQ(all[1], "..");
  EXPECT_EQ(std::count(all.begin(), all.end(), "f5"), 0);
  EXPECT_EQ(std::count(all.begin(), all.end(), "sub"), 1);
  // Rewinding starts over.
  ASSERT_TRUE(d->seek(0, Whence::Set).ok());
  Collect again;
  ASSERT_TRUE(d->readdir(again).ok());
  EXPECT_EQ(again.names.size(), 12u);
  EXPECT_EQ(again.types.back(), VType::Dir);
}

// SEEK_DATA/SEEK_HOLE at page granularity (tmpfs), across a tall tree.
TEST(Ramfs, SeekDataAndHole) {
  World w;
  FileRef f = w.open("/s", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  const uint64_t far = uint64_t(1) << 40;
  pwrite_str(*f, 10, "a");
  pwrite_str(*f, 3 * PG, "b");
  pwrite_str(*f, 4 * PG, "c");
  pwrite_str(*f, far + 100, "d");
  Vnode& v = f->vnode();
  EXPECT_EQ(v.seek_data(0, false).value_or(1), 0u);
  EXPECT_EQ(v.seek_data(5, true).value_or(0), PG);
  EXPECT_EQ(v.seek_data(PG + 3, true).value_or(0), PG + 3);  // already in a hole
  EXPECT_EQ(v.seek_data(PG, false).value_or(0), 3 * PG);
  EXPECT_EQ(v.seek_data(3 * PG, true).value_or(0), 5 * PG);  // two data pages in a row
  EXPECT_EQ(v.seek_data(5 * PG, false).value_or(0), far);
  EXPECT_EQ(v.seek_data(far + 50, false).value_or(0), far + 50);
  EXPECT_EQ(v.seek_data(far, true).value_or(0), far + 101);  // the end
  EXPECT_EQ(v.seek_data(far + 101, false).error(), Error::NoDeviceOrAddress);
  EXPECT_EQ(v.seek_data(far + 101, true).error(), Error::NoDeviceOrAddress);
  ASSERT_TRUE(v.truncate(far + 2 * PG).ok());
  EXPECT_EQ(v.seek_data(far + PG, false).error(), Error::NoDeviceOrAddress);  // no data after
  EXPECT_EQ(v.seek_data(far + PG, true).value_or(0), far + PG);
}

// What mmap sees: the page, the zero page for a hole (a read fault), or
// nothing with the next page held (mmap's eager fill); nothing allocated.
TEST(Ramfs, PageForReadLeavesHolesEmpty) {
  World w;
  FileRef f = w.open("/m", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  pwrite_str(*f, 0, "x");
  pwrite_str(*f, 600 * PG, "y");  // another leaf node
  Vnode& v = f->vnode();
  uint64_t next = 0;
  EXPECT_EQ(v.page_for_read(0, false, &next).value_or(0), v.page(0).value_or(1));
  EXPECT_EQ(v.page_for_read(PG, true, &next).value_or(0), fs_zero_page_phys());
  EXPECT_EQ(v.page_for_read(PG, false, &next).error(), Error::NotFound);
  EXPECT_EQ(next, 600 * PG);
  EXPECT_EQ(v.page_for_read(601 * PG, false, &next).error(), Error::Range);
  EXPECT_EQ(w.fs->pages_used(), 2u);
  ASSERT_TRUE(v.truncate(700 * PG).ok());
  EXPECT_EQ(v.page_for_read(601 * PG, false, &next).error(), Error::NotFound);
  EXPECT_EQ(next, ~uint64_t(0));
  EXPECT_EQ(w.fs->pages_used(), 2u);
}

TEST(Ramfs, StatfsCountsPagesAndInodes) {
  World w(8192, /*max_pages=*/10);
  FsStat s0 = w.fs->statfs();
  EXPECT_EQ(s0.blocks, 10u);
  EXPECT_EQ(s0.bfree, 10u);
  EXPECT_EQ(s0.bavail, 10u);
  EXPECT_EQ(s0.files - s0.ffree, 1u);  // the root
  FileRef f = w.open("/f", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE).release_value();
  pwrite_str(*f, 5 * PG, "z");
  FsStat s = w.fs->statfs();
  EXPECT_EQ(s.bfree, 9u);
  EXPECT_EQ(s.ffree, s0.ffree - 1);
  EXPECT_EQ(f->vnode().allocate(0, 20 * PG, false).error(), Error::NoSpace);  // more than is left
  EXPECT_EQ(w.fs->statfs().bfree, 9u);
  ASSERT_EQ(w.vfs.unlink(w.ctx(), "/f").error(), Error::None);
  f.reset();
  s = w.fs->statfs();
  EXPECT_EQ(s.bfree, 10u);
  EXPECT_EQ(s.ffree, s0.ffree);
}

TEST(Ramfs, NoSpaceWhenFull) {
  World w(8192, /*max_pages=*/4);
  FileRef f = w.open("/big", OpenHow::WRITE | OpenHow::CREATE).release_value();
  std::string data(6 * PG, 'q');
  KernelBuffer b(data.data(), data.size());
  auto n = f->write(b);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n.value(), 4 * PG);  // short write: what fitted
  EXPECT_EQ(f->write(b).error(), Error::NoSpace);
  ASSERT_EQ(w.vfs.unlink(w.ctx(), "/big").error(), Error::None);
  f.reset();
  EXPECT_EQ(w.fs->pages_used(), 0u);
}

TEST(Ramfs, ConcurrentAppendsLoseNothing) {
  World w;
  constexpr int THREADS = 8, WRITES = 500;
  FileRef f = w.open("/log", OpenHow::WRITE | OpenHow::CREATE | OpenHow::APPEND).release_value();
  std::vector<std::thread> ts;
  for (int t = 0; t < THREADS; ++t) {
    ts.emplace_back([&, t] {
      // Each thread opens its own description: appends must still not overlap.
      FileRef mine = w.open("/log", OpenHow::WRITE | OpenHow::APPEND).release_value();
      char rec[32];
      for (int i = 0; i < WRITES; ++i) {
        std::snprintf(rec, sizeof(rec), "%02d:%08d\n", t, i);
        KernelBuffer b(rec, 12);
        ASSERT_EQ(mine->write(b).value_or(0), 12u);
      }
    });
  }
  for (auto& t : ts) t.join();
  std::string all = w.read_file("/log");
  ASSERT_EQ(all.size(), size_t(THREADS) * WRITES * 12);
  std::vector<int> next(THREADS, 0);
  for (size_t off = 0; off < all.size(); off += 12) {
    int t = std::atoi(all.substr(off, 2).c_str());
    int i = std::atoi(all.substr(off + 3, 8).c_str());
    ASSERT_EQ(all[off + 11], '\n');
    ASSERT_EQ(i, next[t]) << "record at " << off;  // each thread's records in order, none lost
    ++next[t];
  }
}

TEST(Ramfs, ConcurrentNamespaceChurn) {
  // Creates, renames and unlinks from several threads while others walk:
  // ASan/UBSan watch for lifetime bugs; the end state is checked.
  World w;
  ASSERT_EQ(w.mkdir("/a"), Error::None);
  ASSERT_EQ(w.mkdir("/b"), Error::None);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string n = std::to_string(t) + "_" + std::to_string(i);
        w.write_file("/a/" + n, n);
        ASSERT_EQ(w.vfs.rename(w.ctx(), sv("/a/" + n), sv("/b/" + n)).error(), Error::None);
        if (i % 2) {
          ASSERT_EQ(w.vfs.unlink(w.ctx(), sv("/b/" + n)).error(), Error::None);
        }
        (void)w.stat("/a/" + n);
      }
    });
  }
  for (auto& t : ts) t.join();
  Collect c;
  FileRef d = w.open("/b", OpenHow::READ).release_value();
  ASSERT_TRUE(d->readdir(c).ok());
  EXPECT_EQ(c.names.size(), 2u + 4 * 100);
  EXPECT_EQ(w.read_file("/b/3_198"), "3_198");
}

TEST(Ramfs, DeepTreeShutdownWithoutRecursion) {
  World w;
  std::string p;
  for (int i = 0; i < 2000; ++i) {
    p += "/d";
    ASSERT_EQ(w.mkdir(p), Error::None);
  }
  w.write_file(p + "/leaf", "x");
  FileRef leaf = w.open(p + "/leaf").release_value();
  // ~World shuts the file system down; the open file stays readable first.
  EXPECT_EQ(World::read_all(*leaf), "x");
}

// --- population from cpio ---------------------------------------------------

struct CpioWriter {
  std::string out;
  uint32_t ino = 1;
  void entry(const std::string& name, uint32_t mode, const std::string& data, uint32_t nlink = 1,
             uint32_t this_ino = 0, uint32_t mtime = 1700000000, uint32_t uid = 0) {
    char h[111];
    std::snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", this_ino ? this_ino : ino++,
                  mode, uid, 0u, nlink, mtime, unsigned(data.size()), 0u, 0u, 0u, 0u, unsigned(name.size() + 1), 0u);
    out.append(h, 110);
    out += name;
    out += '\0';
    while (out.size() % 4) out += '\0';
    out += data;
    while (out.size() % 4) out += '\0';
  }
  void trailer() { entry("TRAILER!!!", 0, ""); }
};

// A directory listed before what it holds keeps the archive's mtime (and
// atime), as Linux's initramfs unpacker leaves it: creating its entries
// must not leave it with the time of population.
TEST(RamfsPopulate, DirectoryTimesSurviveTheirEntries) {
  CpioWriter cw;
  cw.entry(".", 040755, "", 2, 0, 1000);
  cw.entry("d", 040750, "", 2, 0, 2000);
  cw.entry("d/sub", 040700, "", 2, 0, 3000);
  cw.entry("d/sub/f", 0100644, "data", 1, 0, 4000);
  cw.entry("d/link", 0120777, "sub", 1, 0, 5000);
  cw.trailer();
  std::vector<uint8_t> archive(cw.out.begin(), cw.out.end());
  auto fs = ramfs::Ramfs::create().release_value();
  ASSERT_TRUE(ramfs::populate(*fs, archive.data(), archive.size(), nullptr, nullptr).ok());
  Vfs vfs;
  ASSERT_TRUE(vfs.mount_root(FsRef(fs.get())).ok());
  VnodeRef root = vfs.root();
  PathContext ctx{root.get(), root.get()};
  EXPECT_EQ(vfs.stat(ctx, "/", false).value().mtime_ns, 1000ll * 1000000000);
  EXPECT_EQ(vfs.stat(ctx, "/d", false).value().mtime_ns, 2000ll * 1000000000);
  EXPECT_EQ(vfs.stat(ctx, "/d", false).value().atime_ns, 2000ll * 1000000000);
  EXPECT_EQ(vfs.stat(ctx, "/d", false).value().mode, MODE_DIR | 0750);
  EXPECT_EQ(vfs.stat(ctx, "/d/sub", false).value().mtime_ns, 3000ll * 1000000000);
  EXPECT_EQ(vfs.stat(ctx, "/d/sub/f", false).value().mtime_ns, 4000ll * 1000000000);
  EXPECT_EQ(vfs.stat(ctx, "/d/link", false).value().mtime_ns, 5000ll * 1000000000);
}

TEST(RamfsPopulate, TreeFromArchiveZeroCopy) {
  CpioWriter cw;
  cw.entry(".", 040700, "");
  cw.entry("bin", 040755, "");
  cw.entry("bin/busybox", 0100755, std::string(3 * PG + 5, 'B'), 1, 0, 1234, 1000);
  cw.entry("bin/sh", 0120777, "busybox");
  cw.entry("etc/deep/conf", 0100644, "k=v\n");  // parents missing: created
  cw.entry("hl1", 0100644, "", 2, 900);         // hard link, data on the last name (GNU)
  cw.entry("hl2", 0100644, "linked", 2, 900);
  cw.entry("dev/null", 020666, "");
  cw.trailer();
  std::vector<uint8_t> archive(cw.out.begin(), cw.out.end());

  auto fs = ramfs::Ramfs::create().release_value();
  ramfs::PopulateError err;
  ramfs::PopulateStats stats;
  ASSERT_TRUE(ramfs::populate(*fs, archive.data(), archive.size(), &err, &stats).ok());
  EXPECT_EQ(stats.files, 3u);
  EXPECT_EQ(stats.hard_links, 1u);
  EXPECT_EQ(stats.symlinks, 1u);
  EXPECT_EQ(stats.nodes, 1u);
  EXPECT_EQ(fs->pages_used(), 0u);  // nothing copied

  Vfs vfs;
  ASSERT_TRUE(vfs.mount_root(FsRef(fs.get())).ok());
  VnodeRef root = vfs.root();
  PathContext ctx{root.get(), root.get()};
  EXPECT_EQ(vfs.stat(ctx, "/", true).value().mode, MODE_DIR | 0700);
  Attr bb = vfs.stat(ctx, "/bin/sh", true).value();
  EXPECT_EQ(bb.size, 3 * PG + 5);
  EXPECT_EQ(bb.mode, MODE_REGULAR | 0755);
  EXPECT_EQ(bb.uid, 1000u);
  EXPECT_EQ(bb.mtime_ns, 1234ll * 1000000000);
  EXPECT_EQ(vfs.stat(ctx, "/hl1", true).value().nlink, 2u);
  EXPECT_EQ(vfs.stat(ctx, "/etc/deep", true).value().mode, MODE_DIR | 0755);
  EXPECT_EQ(vfs.stat(ctx, "/dev/null", true).value().mode, MODE_CHAR | 0666);

  OpenHow rw;
  rw.flags = OpenHow::READ | OpenHow::WRITE;
  FileRef f = vfs.open(ctx, "/bin/busybox", rw).release_value();
  FileRef h = vfs.open(ctx, "/hl1", rw).release_value();
  EXPECT_EQ(World::read_all(*h), "linked");
  // Copy on first write, one page only; the archive is untouched.
  pwrite_str(*f, PG + 1, "xy");
  EXPECT_EQ(fs->pages_used(), 1u);
  EXPECT_EQ(archive[cw.out.find(std::string(3 * PG + 5, 'B')) + PG + 1], 'B');
  std::string all = World::read_all(*f);
  std::string want(3 * PG + 5, 'B');
  want[PG + 1] = 'x';
  want[PG + 2] = 'y';
  EXPECT_EQ(all, want);
  // Truncate into the archive range, then grow: the cut part reads zero.
  ASSERT_TRUE(f->vnode().truncate(10).ok());
  ASSERT_TRUE(f->vnode().truncate(PG * 2).ok());
  EXPECT_EQ(World::read_all(*f), std::string(10, 'B') + std::string(2 * PG - 10, '\0'));
  EXPECT_EQ(fs->pages_used(), 0u);
  // mmap's page hook materializes a page from the archive.
  FileRef conf = vfs.open(ctx, "/etc/deep/conf", rw).release_value();
  auto page = conf->vnode().page(0);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(std::memcmp(reinterpret_cast<const char*>(page.value()), "k=v\n\0\0", 6), 0);
  EXPECT_EQ(conf->vnode().page(PG).error(), Error::Range);
}

std::string message(const ramfs::PopulateError& e) {
  char buf[256];
  BufferSink s(buf, sizeof(buf));
  format(s, "{}", e);
  return std::string(s.view().data(), s.view().size());
}

TEST(RamfsPopulate, BadArchivesNameEntryAndOffset) {
  {
    CpioWriter cw;
    cw.entry("ok", 0100644, "1");
    size_t bad_at = cw.out.size();
    cw.entry("broken", 0100644, "2");
    cw.out[bad_at + 3] = 'X';  // bad magic
    auto fs = ramfs::Ramfs::create().release_value();
    ramfs::PopulateError err;
    std::vector<uint8_t> a(cw.out.begin(), cw.out.end());
    EXPECT_EQ(ramfs::populate(*fs, a.data(), a.size(), &err).error(), Error::BadFormat);
    EXPECT_EQ(err.offset, bad_at);
    EXPECT_NE(message(err).find("at offset 0x"), std::string::npos) << message(err);
    fs->shutdown();
  }
  {
    CpioWriter cw;
    cw.entry("a/../../etc/passwd", 0100644, "evil");
    cw.trailer();
    auto fs = ramfs::Ramfs::create().release_value();
    ramfs::PopulateError err;
    std::vector<uint8_t> a(cw.out.begin(), cw.out.end());
    EXPECT_EQ(ramfs::populate(*fs, a.data(), a.size(), &err).error(), Error::BadFormat);
    EXPECT_EQ(message(err), "initrd: path leaves the root at offset 0x0 (entry 'a/../../etc/passwd')");
    fs->shutdown();
  }
  {
    CpioWriter cw;
    cw.entry("f", 0100644, "file");
    size_t at = cw.out.size();
    cw.entry("f/x", 0100644, "under a file");
    cw.trailer();
    auto fs = ramfs::Ramfs::create().release_value();
    ramfs::PopulateError err;
    std::vector<uint8_t> a(cw.out.begin(), cw.out.end());
    EXPECT_EQ(ramfs::populate(*fs, a.data(), a.size(), &err).error(), Error::BadFormat);
    EXPECT_EQ(err.offset, at);
    EXPECT_NE(message(err).find("entry 'f/x'"), std::string::npos);
    fs->shutdown();
  }
  {
    // Every truncation of a good archive fails cleanly (ASan watches).
    CpioWriter cw;
    cw.entry("d", 040755, "");
    cw.entry("d/f", 0100644, "contents");
    cw.entry("d/l", 0120777, "f");
    cw.trailer();
    for (size_t n = 1; n < cw.out.size(); ++n) {
      auto fs = ramfs::Ramfs::create().release_value();
      std::vector<uint8_t> a(cw.out.begin(), cw.out.begin() + n);
      ramfs::PopulateError err;
      EXPECT_FALSE(ramfs::populate(*fs, a.data(), a.size(), &err).ok()) << n;
      fs->shutdown();
    }
  }
}

}  // namespace
