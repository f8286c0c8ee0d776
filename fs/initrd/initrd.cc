#include "fs/initrd/initrd.h"

#include "lib/log.h"
#include "core/mm.h"
#include "fs/cpio/newc.h"

namespace capsule::initrd {
namespace {

File* g_files;
size_t g_count;

StringView strip(StringView p) {
  while (!p.empty() && p[0] == '/') p = p.substr(1);
  while (p.size() > 1 && p[p.size() - 1] == '/') p = p.substr(0, p.size() - 1);
  return p;
}

const File* find(StringView p) {
  for (size_t i = 0; i < g_count; ++i)
    if (g_files[i].path == p) return &g_files[i];
  return nullptr;
}

}  // namespace

Result<void> load(const uint8_t* data, size_t size) {
  // Two passes: count, then fill.
  size_t n = 0;
  {
    cpio::Reader r(data, size);
    cpio::Entry e;
    for (;;) {
      auto more = r.next(e);
      if (!more.ok()) {
        kprint("{}\n", r.error());
        return Error::BadFormat;
      }
      if (!more.value()) break;
      ++n;
    }
  }
  g_files = static_cast<File*>(kzalloc(n * sizeof(File) + 1));
  if (!g_files) return Error::NoMemory;
  cpio::Reader r(data, size);
  cpio::Entry e;
  while (r.next(e).value_or(false)) {
    File& f = g_files[g_count++];
    f.path = strip(cpio::relative_path(e.name));
    f.mode = e.mode;
    f.data = e.data;
    f.size = e.size;
    f.mtime = e.mtime;
  }
  log_info("initrd: {} entries, {} KiB", g_count, size / 1024);
  return {};
}

const File* lookup(StringView path) {
  StringView p = strip(path);
  char buf[512];  // a relative link target joined to its directory
  for (int depth = 0; depth < 16; ++depth) {
    const File* f = find(p);
    if (!f) return nullptr;
    if ((f->mode & 0170000) != 0120000) return f;
    StringView target(reinterpret_cast<const char*>(f->data), f->size);
    if (!target.empty() && target[0] == '/') {
      p = strip(target);
    } else {
      // Relative to the link's directory: only the simple same-directory
      // case is needed for the programs this index serves.
      size_t slash = StringView::npos;
      for (size_t i = 0; i < f->path.size(); ++i)
        if (f->path[i] == '/') slash = i;
      size_t len = 0;
      if (slash != StringView::npos)
        for (size_t i = 0; i <= slash && len < sizeof(buf); ++i) buf[len++] = f->path[i];
      for (size_t i = 0; i < target.size() && len < sizeof(buf); ++i) buf[len++] = target[i];
      p = StringView(buf, len);
    }
  }
  return nullptr;  // ELOOP
}

size_t file_count() { return g_count; }
const File* file_at(size_t i) { return i < g_count ? &g_files[i] : nullptr; }

}  // namespace capsule::initrd
