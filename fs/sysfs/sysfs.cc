// sysfs's tree (fs/sysfs/sysfs.h) on the generated file system of
// fs/procfs/procfs.h.
#include "fs/sysfs/sysfs.h"

#include "fs/procfs/procfs.h"
#include "fs/sysfs/cpulist.h"

#ifdef CAPSULE_HOST
#include <unistd.h>
#else
#include "arch/percpu.h"
#endif

namespace capsule::sysfs {
namespace {

using procfs::Entry;
using procfs::Text;

constexpr uint32_t DIR = vfs::MODE_DIR | 0755;
constexpr uint32_t RO = vfs::MODE_REGULAR | 0444;
constexpr uint32_t RW = vfs::MODE_REGULAR | 0644;

uint32_t cpus() {
#ifdef CAPSULE_HOST
  return 4;  // the host tests' model machine
#else
  return cpu_count();
#endif
}

Result<void> all_cpus(uint64_t, Text& out) {
  bool set[64];
  uint32_t n = cpus() < 64 ? cpus() : 64;
  for (uint32_t i = 0; i < n; ++i) set[i] = true;
  format_cpu_list(out, set, n);
  out.put('\n');
  return {};
}

Result<void> one(uint64_t, Text& out) {
  out.str("1\n");
  return {};
}

Result<void> kernel_max(uint64_t, Text& out) {
  out.str("63\n");
  return {};
}

Result<void> thp_enabled(uint64_t, Text& out) {
  out.str("always madvise [never]\n");
  return {};
}

Result<void> thp_defrag(uint64_t, Text& out) {
  out.str("always defer defer+madvise madvise [never]\n");
  return {};
}

size_t list_cpus(uint64_t, uint64_t from, uint64_t* out, size_t cap) {
  size_t k = 0;
  for (uint64_t i = from; i < cpus() && k < cap; ++i) out[k++] = i;
  return k;
}

bool cpu_exists(uint64_t, uint64_t n) { return n < cpus(); }

const Entry CPU_N[] = {
    {.name = "online", .mode = RO, .show = one, .deny_write_open = true},
};
const Entry CPU_DIR_N = {.mode = DIR, .children = CPU_N, .nchildren = procfs::count_of(CPU_N)};

const Entry CPU[] = {
    {.name = "online", .mode = RO, .show = all_cpus, .deny_write_open = true},
    {.name = "possible", .mode = RO, .show = all_cpus, .deny_write_open = true},
    {.name = "present", .mode = RO, .show = all_cpus, .deny_write_open = true},
    {.name = "kernel_max", .mode = RO, .show = kernel_max, .deny_write_open = true},
};
const Entry SYSTEM[] = {
    {.name = "cpu",
     .mode = DIR,
     .children = CPU,
     .nchildren = procfs::count_of(CPU),
     .numbered = &CPU_DIR_N,
     .prefix = "cpu",
     .list = list_cpus,
     .exists = cpu_exists},
};
const Entry DEVICES[] = {
    {.name = "system", .mode = DIR, .children = SYSTEM, .nchildren = procfs::count_of(SYSTEM)},
};
const Entry THP[] = {
    {.name = "enabled", .mode = RW, .show = thp_enabled, .deny_write_open = true},
    {.name = "defrag", .mode = RW, .show = thp_defrag, .deny_write_open = true},
    // Go's runtime reads it at start-up.
    {.name = "hpage_pmd_size", .mode = RO, .show = [](uint64_t, Text& o) -> Result<void> {
       o.str("2097152\n");
       return {};
     }, .deny_write_open = true},
};
const Entry MM[] = {
    {.name = "transparent_hugepage", .mode = DIR, .children = THP, .nchildren = procfs::count_of(THP)},
};
const Entry KERNEL[] = {
    {.name = "mm", .mode = DIR, .children = MM, .nchildren = procfs::count_of(MM)},
};
const Entry TOP[] = {
    {.name = "devices", .mode = DIR, .children = DEVICES, .nchildren = procfs::count_of(DEVICES)},
    {.name = "kernel", .mode = DIR, .children = KERNEL, .nchildren = procfs::count_of(KERNEL)},
    {.name = "fs", .mode = DIR},
    {.name = "class", .mode = DIR},
    {.name = "bus", .mode = DIR},
};
const Entry ROOT = {.mode = DIR, .children = TOP, .nchildren = procfs::count_of(TOP)};

}  // namespace

Result<vfs::FsRef> create() {
  RefPtr<procfs::GenFs> fs = TRY(procfs::GenFs::create("sysfs", &ROOT, 0x62656572 /* SYSFS_MAGIC */));
  return vfs::FsRef(fs.get());
}

Result<void> mount_boot(vfs::Vfs& v, const vfs::PathContext& pc) {
  vfs::CreateArgs d;
  d.mode = vfs::MODE_DIR | 0555;
  if (auto r = v.mkdir(pc, "/sys", d); !r.ok() && r.error() != Error::Exists) return r.error();
  vfs::FsRef fs = TRY(create());
  return v.mount(fs, pc, "/sys");
}

}  // namespace capsule::sysfs
