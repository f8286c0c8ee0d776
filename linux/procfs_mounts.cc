// /proc/<pid>/mounts and mountinfo (linux/procfs.h): the file systems boot
// and mount(2) mounted, in the formats of fstab(5) and proc(5)'s mountinfo.
// Boot's records point at string literals; mount(2)'s own heap copies.
#include <new>

#include "arch/spinlock.h"
#include "linux/procfs.h"

namespace capsule::linux_abi::proc {
namespace {

struct MountRecord {
  const char* source;
  const char* path;
  const char* type;
  const char* opts;
  uint64_t dev;
  char* owned = nullptr;  // mount(2)'s strings, one allocation
};

constexpr size_t MAX_MOUNTS = 64;
MountRecord g_mounts[MAX_MOUNTS];
size_t g_count;
SpinLock g_lock;

}  // namespace

void note_mount(const char* source, const char* path, const char* type, const char* opts, uint64_t dev) {
  SpinGuard g(g_lock);
  if (g_count < MAX_MOUNTS) g_mounts[g_count++] = {source, path, type, opts, dev};
}

Result<void> note_mount_copy(StringView source, StringView path, const char* type, StringView opts,
                             uint64_t dev) {
  size_t n = source.size() + path.size() + opts.size() + 3;
  char* buf = new (std::nothrow) char[n];
  if (!buf) return Error::NoMemory;
  char* p = buf;
  auto put = [&p](StringView s) {
    const char* start = p;
    __builtin_memcpy(p, s.data(), s.size());
    p += s.size();
    *p++ = 0;
    return start;
  };
  MountRecord r{put(source), put(path), type, put(opts), dev, buf};
  {
    SpinGuard g(g_lock);
    if (g_count < MAX_MOUNTS) {
      g_mounts[g_count++] = r;
      return {};
    }
  }
  delete[] buf;
  return Error::NoSpace;
}

void forget_mount(StringView path) {
  char* owned = nullptr;
  {
    SpinGuard g(g_lock);
    for (size_t i = g_count; i-- > 0;) {
      if (StringView(g_mounts[i].path) != path) continue;
      owned = g_mounts[i].owned;
      for (size_t j = i + 1; j < g_count; ++j) g_mounts[j - 1] = g_mounts[j];
      --g_count;
      break;
    }
  }
  delete[] owned;
}

Result<void> show_mounts(uint64_t, Text& out) {
  MountRecord m[MAX_MOUNTS];
  size_t n;
  {
    SpinGuard g(g_lock);
    n = g_count;
    for (size_t i = 0; i < n; ++i) m[i] = g_mounts[i];
  }
  for (size_t i = 0; i < n; ++i) out.f("{} {} {} {} 0 0\n", m[i].source, m[i].path, m[i].type, m[i].opts);
  return {};
}

// "36 35 0:3 / /proc rw,relatime - proc proc rw": mount id, parent id,
// st_dev major:minor, root within the FS, mount point, per-mount options,
// separator, type, source, super-block options.
Result<void> show_mountinfo(uint64_t, Text& out) {
  MountRecord m[MAX_MOUNTS];
  size_t n;
  {
    SpinGuard g(g_lock);
    n = g_count;
    for (size_t i = 0; i < n; ++i) m[i] = g_mounts[i];
  }
  for (size_t i = 0; i < n; ++i) {
    // The parent: the latest earlier mount whose path is a prefix.
    size_t parent = 0;
    StringView p(m[i].path);
    for (size_t j = 1; j < i; ++j) {
      StringView q(m[j].path);
      if (p.starts_with(q) && p.size() > q.size() && p[q.size()] == '/') parent = j;
    }
    out.f("{} {} 0:{} / {} {} - {} {} rw\n", 20 + i, i ? 20 + parent : 1, m[i].dev, m[i].path, m[i].opts,
          m[i].type, m[i].source);
  }
  return {};
}

}  // namespace capsule::linux_abi::proc
