// An ext4 image in memory, mounted and read in full: what the host unit
// tests (tests/unit/ext4_test.cc) and the fuzz target (tests/fuzz/
// ext4_fuzz.cc) share. Everything the driver reads comes from the image,
// so a damaged image must give errors, never a crash (ASan watches).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fs/block_cache.h"
#include "fs/ext4.h"
#include "fs/vfs.h"

namespace ext4_harness {

using namespace capsule;

class MemIo final : public bcache::BlockIo {
 public:
  // writable: writes land in bytes_ (the fs then mounts read-write).
  explicit MemIo(std::vector<uint8_t> bytes, bool writable = false)
      : bytes_(std::move(bytes)), writable_(writable) {}
  uint64_t sectors() const override { return bytes_.size() / bcache::SECTOR_SIZE; }
  bool read_only() const override { return !writable_; }
  Result<void> read(uint64_t sector, void* buf, size_t count) override {
    if (sector > sectors() || count > sectors() - sector) return Error::Range;
    std::memcpy(buf, bytes_.data() + sector * bcache::SECTOR_SIZE, count * bcache::SECTOR_SIZE);
    ++reads;
    return {};
  }
  Result<void> write(uint64_t sector, const void* buf, size_t count) override {
    if (!writable_) return Error::ReadOnly;
    if (sector > sectors() || count > sectors() - sector) return Error::Range;
    if (writes++ >= cut_after) return {};  // the power went: later writes are lost
    std::memcpy(bytes_.data() + sector * bcache::SECTOR_SIZE, buf, count * bcache::SECTOR_SIZE);
    return {};
  }
  Result<void> flush() override {
    ++flushes;
    return {};
  }
  std::vector<uint8_t> bytes_;
  bool writable_ = false;
  size_t reads = 0, writes = 0, flushes = 0;
  size_t cut_after = SIZE_MAX;  // writes after this many are dropped (a crash)
};

// Collects readdir's names.
struct Names final : vfs::DirSink {
  std::vector<std::pair<std::string, uint64_t>> v;
  bool emit(StringView name, uint64_t ino, vfs::VType, uint64_t) override {
    v.emplace_back(std::string(name.data(), name.size()), ino);
    return v.size() < 100000;
  }
};

// Reads every file under dir (depth-bounded): contents, links, attributes.
// Returns the number of entries seen; errors are counted, not fatal.
inline size_t walk(vfs::Vnode& dir, int depth, size_t* errors, std::string* text = nullptr,
                   const std::string& path = "") {
  Names names;
  if (!dir.readdir(0, names).ok()) ++*errors;
  size_t seen = 0;
  for (auto& [name, ino] : names.v) {
    if (name == "." || name == "..") continue;
    auto child = dir.lookup(StringView(name.data(), name.size()));
    ++seen;
    if (!child.ok()) {
      ++*errors;
      if (text) *text += path + "/" + name + " error\n";
      continue;
    }
    vfs::Vnode& c = *child.value();
    auto attr = c.getattr();
    if (!attr.ok()) {
      ++*errors;
      continue;
    }
    std::string line = path + "/" + name;
    if (c.is_regular()) {
      static uint8_t buf[65536];
      uint64_t off = 0, h = 0xcbf29ce484222325ull;
      for (int i = 0; i < 128; ++i) {  // at most 8 MiB of each file
        KernelBuffer kb(buf, sizeof buf);
        auto n = c.read(off, kb);
        if (!n.ok()) {
          ++*errors;
          break;
        }
        if (!n.value()) break;
        for (size_t k = 0; k < n.value(); ++k) h = (h ^ buf[k]) * 0x100000001b3ull;
        off += n.value();
      }
      (void)c.page(0);
      line += " f " + std::to_string(off) + " " + std::to_string(h);
    } else if (c.is_symlink()) {
      char t[4096];
      auto n = c.readlink(t, sizeof t);
      if (!n.ok()) ++*errors;
      else line += " -> " + std::string(t, n.value() < sizeof t ? n.value() : sizeof t);
    } else if (c.is_dir()) {
      line += " d";
    }
    if (text) *text += line + "\n";
    if (c.is_dir() && depth > 0) seen += walk(c, depth - 1, errors, text, path + "/" + name);
  }
  return seen;
}

// Changes a (possibly damaged) read-write volume with every operation the
// writer has; errors are expected and ignored, crashes and hangs are not.
inline void change(vfs::Vnode& root) {
  vfs::CreateArgs file;
  file.mode = vfs::MODE_REGULAR | 0644;
  vfs::CreateArgs dir;
  dir.mode = vfs::MODE_DIR | 0755;
  static uint8_t data[20000];
  for (size_t i = 0; i < sizeof data; ++i) data[i] = uint8_t(i * 7);
  auto put = [&](vfs::Vnode& f, uint64_t off, size_t n) {
    KernelBuffer kb(data, n);
    (void)f.write(&off, kb, false);
  };
  Names names;
  (void)root.readdir(0, names);
  // Existing files: written over, extended, truncated; names removed.
  size_t touched = 0;
  for (auto& [name, ino] : names.v) {
    if (name == "." || name == ".." || touched >= 4) continue;
    auto c = root.lookup(StringView(name.data(), name.size()));
    if (!c.ok()) continue;
    ++touched;
    // Its attributes read, one set (the inode's area or the block as the
    // image has them) and removed.
    char xbuf[512];
    (void)c.value()->listxattr(xbuf, sizeof xbuf, true);
    (void)c.value()->getxattr("user.a", xbuf, sizeof xbuf);
    (void)c.value()->setxattr("user.fz", data, 300, vfs::XattrSet::Any);
    (void)c.value()->removexattr("user.a");
    if (c.value()->is_regular()) {
      put(*c.value(), 100, 5000);
      (void)c.value()->truncate(3000);
      put(*c.value(), 1 << 20, 100);
      // fallocate's paths: unwritten blocks, written into, punched.
      (void)c.value()->allocate(8192, 40000, false);
      put(*c.value(), 9000, 3000);
      (void)c.value()->punch_hole(4000, 20000);
    }
    if (c.value()->is_dir()) {
      // Names added to it (by hash, when the image indexed it).
      for (int i = 0; i < 40; ++i) {
        char n[32];
        __builtin_snprintf(n, sizeof n, "fz_name_%d_padding", i);
        (void)c.value()->create(n, file);
      }
    }
    (void)root.unlink(StringView(name.data(), name.size()));
    (void)root.rmdir(StringView(name.data(), name.size()));
  }
  auto f = root.create("fz_new", file);
  if (f.ok()) {
    put(*f.value(), 0, sizeof data);
    for (int i = 0; i < 8; ++i) put(*f.value(), uint64_t(i) * 16384 + 8192, 100);
    (void)f.value()->truncate(10000);
  }
  auto d = root.mkdir("fz_dir", dir);
  if (d.ok()) {
    (void)root.rename("fz_new", *d.value(), "moved", false);
    (void)d.value()->symlink("link", "../somewhere/else/entirely/far/away/from/here/and/longer/than/60", file);
    (void)d.value()->unlink("moved");
    (void)root.rmdir("fz_dir");
    (void)d.value()->unlink("link");
    (void)root.rmdir("fz_dir");
  }
  (void)root.fsync();
}

}  // namespace ext4_harness
