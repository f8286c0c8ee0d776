// libFuzzer target: the initrd's cpio "newc" reader (fs/cpio/newc.cc) and
// the ramfs populated from it (fs/ramfs/populate.cc), as at boot. Any
// archive must give entries that lie inside it, or BadFormat with a reason;
// populating must build a tree or fail cleanly, and the tree must be
// readable. ASan sees every read past the archive (the input is copied to
// a buffer of its exact size).
#include <cstdlib>
#include <string>
#include <vector>

#include "fs/cpio/newc.h"
#include "fs/ramfs/ramfs.h"
#include "fs/vfs.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule;

namespace {

struct Names final : vfs::DirSink {
  std::vector<std::string> v;
  bool emit(StringView name, uint64_t, vfs::VType, uint64_t) override {
    v.emplace_back(name.data(), name.size());
    return v.size() < 4096;
  }
};

// Reads everything under dir (depth-bounded).
void walk(vfs::Vnode& dir, int depth, size_t* budget) {
  Names names;
  (void)dir.readdir(0, names);
  for (auto& name : names.v) {
    if (name == "." || name == ".." || !*budget) continue;
    --*budget;
    auto child = dir.lookup(StringView(name.data(), name.size()));
    if (!child.ok()) continue;
    vfs::Vnode& c = *child.value();
    (void)c.getattr();
    if (c.is_regular()) {
      static uint8_t buf[8192];
      KernelBuffer kb(buf, sizeof buf);
      (void)c.read(0, kb);
    } else if (c.is_symlink()) {
      char t[4097];
      auto n = c.readlink(t, sizeof t);
      if (n.ok()) FUZZ_CHECK(n.value() <= sizeof t);
    } else if (c.is_dir() && depth > 0) {
      walk(c, depth - 1, budget);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return -1;
  uint8_t* copy = static_cast<uint8_t*>(std::malloc(size ? size : 1));
  __builtin_memcpy(copy, data, size);

  cpio::Reader r(copy, size);
  cpio::Entry e;
  size_t last = 0, entries = 0;
  bool failed = false;
  for (size_t i = 0; i <= size; ++i) {  // each entry takes >= 110 bytes: bounded
    Result<bool> more = r.next(e);
    if (!more.ok()) {
      failed = true;
      break;
    }
    if (!more.value()) break;
    FUZZ_CHECK(i < size);
    ++entries;
    FUZZ_CHECK(e.offset >= last && e.offset + cpio::HEADER_SIZE <= size);
    FUZZ_CHECK(e.data >= copy && e.data <= copy + size && e.size <= size_t(copy + size - e.data));
    FUZZ_CHECK(!e.name.empty() && e.name.size() <= cpio::MAX_PATH);
    FUZZ_CHECK(e.name.data() >= reinterpret_cast<const char*>(copy) &&
               e.name.data() + e.name.size() <= reinterpret_cast<const char*>(copy + size));
    FUZZ_CHECK(r.offset() <= size && r.offset() % 4 == 0);
    (void)cpio::relative_path(e.name);
    last = e.offset + 1;
  }
  // After the end or an error the answer stays the same.
  Result<bool> again = r.next(e);
  FUZZ_CHECK(again.ok() == !failed);
  if (again.ok()) FUZZ_CHECK(!again.value());
  if (failed) FUZZ_CHECK(r.error().reason != nullptr && r.error().offset <= size);
  char msg[256];
  format_to(msg, sizeof msg, "{}", r.error());

  auto fs = ramfs::Ramfs::create();
  FUZZ_CHECK(fs.ok());
  ramfs::PopulateError err;
  ramfs::PopulateStats stats;
  Result<void> p = ramfs::populate(*fs.value(), copy, size, &err, &stats);
  if (failed) FUZZ_CHECK(!p.ok());
  FUZZ_SAY("cpio: %zu entries, %s; populate %s (%zu files %zu dirs %zu symlinks %zu links %zu nodes)\n", entries,
           failed ? r.error().reason : "ok", p.ok() ? "ok" : err.reason, stats.files, stats.dirs, stats.symlinks,
           stats.hard_links, stats.nodes);
  if (p.ok()) {
    FUZZ_CHECK(stats.entries == entries);
    size_t budget = 4096;
    vfs::VnodeRef root = fs.value()->root();
    walk(*root, 16, &budget);
  } else {
    FUZZ_CHECK(err.reason != nullptr);
    format_to(msg, sizeof msg, "{}", err);
  }
  fs.value()->shutdown();
  std::free(copy);
  return 0;
}
