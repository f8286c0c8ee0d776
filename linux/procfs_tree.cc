// The /proc tree (linux/procfs.h): which entries exist, their modes, and
// the callbacks behind them; and the boot step that mounts devfs, procfs
// and sysfs.
#include "lib/log.h"
#include "fs/devfs/devfs.h"
#include "fs/sysfs/sysfs.h"
#include "linux/procfs.h"

namespace capsule::linux_abi {
namespace {

using procfs::count_of;
using procfs::Entry;
using proc::Text;

constexpr uint32_t DIR = vfs::MODE_DIR | 0555;
constexpr uint32_t RO = vfs::MODE_REGULAR | 0444;
constexpr uint32_t RW = vfs::MODE_REGULAR | 0644;
constexpr uint32_t PRIV = vfs::MODE_REGULAR | 0400;  // environ, auxv: the owner only
constexpr uint32_t LNK = vfs::MODE_SYMLINK | 0777;

#define CONST_TEXT(s) [](uint64_t, Text& o) -> Result<void> { \
  o.str(s);                                                     \
  return {};                                                    \
}

// --- /proc/<pid>/fd, fdinfo --------------------------------------------------------
const Entry FD_LINK = {.mode = vfs::MODE_SYMLINK | 0700, .link = proc::fd_link, .follow = proc::fd_follow};
const Entry FDINFO_FILE = {.mode = RO, .show = proc::fdinfo};

// --- /proc/<pid> and /proc/<pid>/task/<tid> ------------------------------------------
#define PROCESS_FILES                                                                                 \
  {.name = "exe", .mode = LNK, .link = proc::exe_link, .follow = proc::exe_follow},                    \
  {.name = "cwd", .mode = LNK, .link = proc::cwd_link, .follow = proc::cwd_follow},                    \
  {.name = "root", .mode = LNK, .link = proc::root_link, .follow = proc::root_follow},                 \
  {.name = "fd", .mode = vfs::MODE_DIR | 0500, .numbered = &FD_LINK, .list = proc::list_fds,           \
   .exists = proc::fd_exists, .nest = true},                                                                        \
  {.name = "fdinfo", .mode = vfs::MODE_DIR | 0500, .numbered = &FDINFO_FILE, .list = proc::list_fds,   \
   .exists = proc::fd_exists, .nest = true},                                                                        \
  {.name = "maps", .mode = RO, .show = proc::show_maps},                                              \
  {.name = "cmdline", .mode = RO, .show = proc::show_cmdline},                                        \
  {.name = "environ", .mode = PRIV, .show = proc::show_environ},                                      \
  {.name = "auxv", .mode = PRIV, .show = proc::show_auxv},                                            \
  {.name = "comm", .mode = RW, .show = proc::show_comm, .store = proc::store_comm},                   \
  {.name = "stat", .mode = RO, .show = proc::show_stat},                                              \
  {.name = "statm", .mode = RO, .show = proc::show_statm},                                            \
  {.name = "status", .mode = RO, .show = proc::show_status},                                          \
  {.name = "limits", .mode = RO, .show = proc::show_limits},                                          \
  {.name = "mounts", .mode = RO, .show = proc::show_mounts},                                          \
  {.name = "mountinfo", .mode = RO, .show = proc::show_mountinfo},                                    \
  {.name = "cgroup", .mode = RO, .show = proc::show_cgroup},                                          \
  {.name = "oom_score", .mode = RO, .show = CONST_TEXT("0\n")},                                       \
  {.name = "oom_score_adj", .mode = RW, .show = proc::show_oom_score_adj, .store = proc::store_oom_score_adj}

const Entry TASK_FILES[] = {PROCESS_FILES};
const Entry TASK_DIR = {.mode = DIR, .children = TASK_FILES, .nchildren = count_of(TASK_FILES)};

const Entry PID_FILES[] = {
    PROCESS_FILES,
    {.name = "task", .mode = DIR, .numbered = &TASK_DIR, .list = proc::list_tids, .exists = proc::tid_exists},
};
const Entry PID_DIR = {.mode = DIR, .children = PID_FILES, .nchildren = count_of(PID_FILES)};

// --- /proc/sys -----------------------------------------------------------------------
// sysctl files refuse a write-open when read-only (EACCES), as Linux's do.
#define SYSCTL_RO(n, s) {.name = n, .mode = RO, .show = CONST_TEXT(s), .deny_write_open = true}

const Entry SYS_KERNEL_RANDOM[] = {
    {.name = "boot_id", .mode = RO, .show = proc::show_boot_id, .deny_write_open = true},
    {.name = "uuid", .mode = RO, .show = proc::show_uuid, .deny_write_open = true},
    SYSCTL_RO("entropy_avail", "256\n"),
    SYSCTL_RO("poolsize", "256\n"),
};
const Entry SYS_KERNEL[] = {
    {.name = "hostname", .mode = RW, .show = proc::show_hostname, .store = proc::store_hostname},
    SYSCTL_RO("osrelease", "6.1.0-capsule\n"),
    SYSCTL_RO("ostype", "Linux\n"),
    SYSCTL_RO("version", "#1 SMP Capsule 0.1\n"),
    SYSCTL_RO("pid_max", "4194304\n"),
    SYSCTL_RO("threads-max", "126960\n"),
    SYSCTL_RO("ngroups_max", "65536\n"),
    SYSCTL_RO("cap_last_cap", "40\n"),
    {.name = "random", .mode = DIR, .children = SYS_KERNEL_RANDOM, .nchildren = count_of(SYS_KERNEL_RANDOM)},
};
const Entry SYS_VM[] = {
    {.name = "overcommit_memory", .mode = RW, .show = proc::show_overcommit, .store = proc::store_overcommit},
    SYSCTL_RO("max_map_count", "65530\n"),
    SYSCTL_RO("overcommit_ratio", "50\n"),
};
const Entry SYS_FS[] = {
    SYSCTL_RO("pipe-max-size", "1048576\n"),
    SYSCTL_RO("nr_open", "1048576\n"),
    SYSCTL_RO("file-max", "9223372036854775807\n"),
};
const Entry SYS[] = {
    {.name = "kernel", .mode = DIR, .children = SYS_KERNEL, .nchildren = count_of(SYS_KERNEL)},
    {.name = "vm", .mode = DIR, .children = SYS_VM, .nchildren = count_of(SYS_VM)},
    {.name = "fs", .mode = DIR, .children = SYS_FS, .nchildren = count_of(SYS_FS)},
};

// --- /proc/net -------------------------------------------------------------------------
const Entry NET[] = {
    {.name = "dev", .mode = RO, .show = proc::show_net_dev},
    {.name = "route", .mode = RO, .show = proc::show_net_route},
};

// --- /proc -----------------------------------------------------------------------------
// Global read-only files: a write-open succeeds (root) and writes fail
// with EIO, as Linux's do.
const Entry TOP[] = {
    {.name = "self", .mode = LNK, .link = proc::self_link},
    {.name = "thread-self", .mode = LNK, .link = proc::thread_self_link},
    {.name = "cpuinfo", .mode = RO, .show = proc::show_cpuinfo},
    {.name = "meminfo", .mode = RO, .show = proc::show_meminfo},
    {.name = "stat", .mode = RO, .show = proc::show_sys_stat},
    {.name = "uptime", .mode = RO, .show = proc::show_uptime},
    {.name = "loadavg", .mode = RO, .show = proc::show_loadavg},
    {.name = "mounts", .mode = LNK, .link = CONST_TEXT("self/mounts")},
    {.name = "filesystems", .mode = RO, .show = proc::show_filesystems},
    {.name = "version", .mode = RO, .show = proc::show_version},
    {.name = "cmdline", .mode = RO, .show = CONST_TEXT("capsule\n")},
    {.name = "swaps", .mode = RO, .show = CONST_TEXT("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")},
    {.name = "sys", .mode = DIR, .children = SYS, .nchildren = count_of(SYS)},
    {.name = "net", .mode = DIR, .children = NET, .nchildren = count_of(NET)},
};
const Entry ROOT = {.mode = DIR,
                    .children = TOP,
                    .nchildren = count_of(TOP),
                    .numbered = &PID_DIR,
                    .list = proc::list_pids,
                    .exists = proc::pid_exists};

}  // namespace

Result<void> pseudo_fs_init(vfs::Vfs& v, const vfs::PathContext& pc) {
  proc::note_mount("rootfs", "/", "rootfs", "rw", v.root()->fs()->dev());
  if (auto r = devfs::mount_boot(v, pc); !r.ok()) {
    log_warn("devfs: not mounted on /dev ({})", error_name(r.error()));
  } else {
    auto dev = v.stat(pc, "/dev", true);
    auto shm = v.stat(pc, "/dev/shm", true);
    proc::note_mount("devtmpfs", "/dev", "devtmpfs", "rw,relatime,mode=755", dev.ok() ? dev.value().dev : 0);
    proc::note_mount("tmpfs", "/dev/shm", "tmpfs", "rw,nosuid,nodev", shm.ok() ? shm.value().dev : 0);
  }
  vfs::CreateArgs d;
  d.mode = vfs::MODE_DIR | 0555;
  if (auto r = v.mkdir(pc, "/proc", d); !r.ok() && r.error() != Error::Exists) return r.error();
  RefPtr<procfs::GenFs> pfs = TRY(procfs::GenFs::create("proc", &ROOT, 0x9fa0 /* PROC_SUPER_MAGIC */));
  TRY(v.mount(vfs::FsRef(pfs.get()), pc, "/proc"));
  proc::note_mount("proc", "/proc", "proc", "rw,nosuid,nodev,noexec,relatime", pfs->dev());
  if (auto r = sysfs::mount_boot(v, pc); !r.ok()) {
    log_warn("sysfs: not mounted on /sys ({})", error_name(r.error()));
  } else {
    auto s = v.stat(pc, "/sys", true);
    proc::note_mount("sysfs", "/sys", "sysfs", "rw,nosuid,nodev,noexec,relatime", s.ok() ? s.value().dev : 0);
  }
  return {};
}

}  // namespace capsule::linux_abi
