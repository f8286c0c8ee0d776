// /proc/<pid>/mounts and mountinfo (linux/procfs.h): the file systems boot
// mounted, in the formats of fstab(5) and proc(5)'s mountinfo. (The Vfs
// has no mount(2) from the application yet, so boot's list is the table.)
#include "core/sync/spinlock.h"
#include "linux/procfs.h"

namespace capsule::linux_abi::proc {
namespace {

struct MountRecord {
  const char* source;
  const char* path;
  const char* type;
  const char* opts;
  uint64_t dev;
};

constexpr size_t MAX_MOUNTS = 16;
MountRecord g_mounts[MAX_MOUNTS];
size_t g_count;
SpinLock g_lock;

}  // namespace

void note_mount(const char* source, const char* path, const char* type, const char* opts, uint64_t dev) {
  SpinGuard g(g_lock);
  if (g_count < MAX_MOUNTS) g_mounts[g_count++] = {source, path, type, opts, dev};
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
