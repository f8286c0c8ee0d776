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
constexpr uint32_t WO = vfs::MODE_REGULAR | 0200;
constexpr uint32_t PRIV = vfs::MODE_REGULAR | 0400;  // environ, auxv: the owner only
constexpr uint32_t LNK = vfs::MODE_SYMLINK | 0777;

#define CONST_TEXT(s) [](uint64_t, Text& o) -> Result<void> { \
  o.str(s);                                                     \
  return {};                                                    \
}

// --- /proc/<pid>/fd, fdinfo --------------------------------------------------------
const Entry FD_LINK = {.mode = vfs::MODE_SYMLINK | 0700, .link = proc::fd_link, .follow = proc::fd_follow};
const Entry FDINFO_FILE = {.mode = RO, .show = proc::fdinfo};

// --- /proc/<pid>/ns: the one namespace of each kind, with the inode numbers
// Linux gives its initial namespaces. A walk through a link lands on a node
// with that inode number (stat compares namespaces by it); it opens (reads
// nothing), and setns is not provided.
constexpr uint32_t NS_FILE = vfs::MODE_REGULAR | 0444;
#define NS_TARGET(var, fn) const Entry var = {.mode = NS_FILE, .ino = fn};
NS_TARGET(NS_CGROUP, proc::ns_ino_cgroup)
NS_TARGET(NS_IPC, proc::ns_ino_ipc)
NS_TARGET(NS_MNT, proc::ns_ino_mnt)
NS_TARGET(NS_NET, proc::ns_ino_net)
NS_TARGET(NS_PID, proc::ns_ino_pid)
NS_TARGET(NS_TIME, proc::ns_ino_time)
NS_TARGET(NS_USER, proc::ns_ino_user)
NS_TARGET(NS_UTS, proc::ns_ino_uts)
#define NS_LINK(n, text, t) {.name = n, .mode = LNK, .link = CONST_TEXT(text), .target = &t}
const Entry NS_DIR[] = {
    NS_LINK("cgroup", "cgroup:[4026531835]", NS_CGROUP),
    NS_LINK("ipc", "ipc:[4026531839]", NS_IPC),
    NS_LINK("mnt", "mnt:[4026531832]", NS_MNT),
    NS_LINK("net", "net:[4026531833]", NS_NET),
    NS_LINK("pid", "pid:[4026531836]", NS_PID),
    NS_LINK("pid_for_children", "pid:[4026531836]", NS_PID),
    NS_LINK("time", "time:[4026531834]", NS_TIME),
    NS_LINK("time_for_children", "time:[4026531834]", NS_TIME),
    NS_LINK("user", "user:[4026531837]", NS_USER),
    NS_LINK("uts", "uts:[4026531838]", NS_UTS),
};
const Entry ATTR_DIR[] = {
    {.name = "current", .mode = vfs::MODE_REGULAR | 0666, .show = proc::show_attr_current},
};

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
  {.name = "oom_score_adj", .mode = RW, .show = proc::show_oom_score_adj, .store = proc::store_oom_score_adj}, \
  {.name = "mem", .mode = vfs::MODE_REGULAR | 0600, .read_at = proc::mem_read, .write_at = proc::mem_write},       \
  {.name = "ns", .mode = vfs::MODE_DIR | 0511, .children = NS_DIR, .nchildren = count_of(NS_DIR)},               \
  {.name = "attr", .mode = vfs::MODE_DIR | 0555, .children = ATTR_DIR, .nchildren = count_of(ATTR_DIR)},         \
  {.name = "personality", .mode = PRIV, .show = proc::show_personality},                                          \
  {.name = "timerslack_ns", .mode = vfs::MODE_REGULAR | 0666, .show = proc::show_timerslack,                      \
   .store = proc::store_timerslack},                                                                              \
  /* No audit: the values of a process that never logged in. */                                                   \
  {.name = "loginuid", .mode = RW, .show = CONST_TEXT("4294967295"), .deny_write_open = true},                     \
  {.name = "sessionid", .mode = RO, .show = CONST_TEXT("4294967295")},                                            \
  {.name = "coredump_filter", .mode = RW, .show = CONST_TEXT("00000033\n"), .deny_write_open = true},              \
  {.name = "wchan", .mode = RO, .show = CONST_TEXT("0")},                                                         \
  {.name = "cpuset", .mode = RO, .show = CONST_TEXT("/\n")},                                                      \
  /* The initial user namespace: every id maps to itself. */                                                       \
  {.name = "uid_map", .mode = RO, .show = CONST_TEXT("         0          0 4294967295\n"), .deny_write_open = true}, \
  {.name = "gid_map", .mode = RO, .show = CONST_TEXT("         0          0 4294967295\n"), .deny_write_open = true}, \
  {.name = "setgroups", .mode = RO, .show = CONST_TEXT("allow\n"), .deny_write_open = true}

const Entry TASK_FILES[] = {PROCESS_FILES};
const Entry TASK_DIR = {.mode = DIR, .children = TASK_FILES, .nchildren = count_of(TASK_FILES)};

const Entry PID_FILES[] = {
    PROCESS_FILES,
    {.name = "task", .mode = DIR, .numbered = &TASK_DIR, .list = proc::list_tids, .exists = proc::tid_exists},
};
const Entry PID_DIR = {.mode = DIR, .owner = proc::owner, .children = PID_FILES, .nchildren = count_of(PID_FILES)};

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
    {.name = "domainname", .mode = RW, .show = proc::show_domainname, .store = proc::store_domainname},
    SYSCTL_RO("osrelease", "6.1.0-capsule\n"),
    SYSCTL_RO("ostype", "Linux\n"),
    SYSCTL_RO("version", "#1 SMP Capsule 0.1\n"),
    SYSCTL_RO("pid_max", "4194304\n"),
    SYSCTL_RO("threads-max", "126960\n"),
    SYSCTL_RO("ngroups_max", "65536\n"),
    SYSCTL_RO("cap_last_cap", "40\n"),
    {.name = "random", .mode = DIR, .children = SYS_KERNEL_RANDOM, .nchildren = count_of(SYS_KERNEL_RANDOM)},
    // System V IPC limits: the values linux/sys_ipc_*.cc enforce and
    // IPC_INFO reports.
    SYSCTL_RO("shmmax", "18446744073692774399\n"),
    SYSCTL_RO("shmall", "18446744073692774399\n"),
    SYSCTL_RO("shmmni", "4096\n"),
    SYSCTL_RO("msgmax", "8192\n"),
    SYSCTL_RO("msgmnb", "16384\n"),
    SYSCTL_RO("msgmni", "1024\n"),
    SYSCTL_RO("sem", "32000\t1024000000\t500\t1024\n"),
    SYSCTL_RO("randomize_va_space", "2\n"),
    SYSCTL_RO("core_pattern", "core\n"),
    SYSCTL_RO("perf_event_paranoid", "2\n"),
    SYSCTL_RO("tainted", "0\n"),
    SYSCTL_RO("overflowuid", "65534\n"),
    SYSCTL_RO("overflowgid", "65534\n"),
    SYSCTL_RO("kptr_restrict", "0\n"),
    SYSCTL_RO("dmesg_restrict", "1\n"),
    SYSCTL_RO("printk", "4\t4\t1\t7\n"),
};
const Entry SYS_VM[] = {
    {.name = "overcommit_memory", .mode = RW, .show = proc::show_overcommit, .store = proc::store_overcommit},
    SYSCTL_RO("max_map_count", "65530\n"),
    SYSCTL_RO("overcommit_ratio", "50\n"),
    SYSCTL_RO("mmap_min_addr", "4096\n"),
};
const Entry SYS_FS_INOTIFY[] = {
    {.name = "max_queued_events", .mode = RW, .show = proc::show_inotify_max_queued,
     .store = proc::store_inotify_max_queued},
    {.name = "max_user_instances", .mode = RW, .show = proc::show_inotify_max_instances,
     .store = proc::store_inotify_max_instances},
    {.name = "max_user_watches", .mode = RW, .show = proc::show_inotify_max_watches,
     .store = proc::store_inotify_max_watches},
};
const Entry SYS_FS_EPOLL[] = {
    {.name = "max_user_watches", .mode = RW, .show = proc::show_epoll_max_watches,
     .store = proc::store_epoll_max_watches},
};
const Entry SYS_FS[] = {
    {.name = "epoll", .mode = DIR, .children = SYS_FS_EPOLL, .nchildren = count_of(SYS_FS_EPOLL)},
    {.name = "inotify", .mode = DIR, .children = SYS_FS_INOTIFY, .nchildren = count_of(SYS_FS_INOTIFY)},
    {.name = "pipe-max-size", .mode = RW, .show = proc::show_pipe_max_size, .store = proc::store_pipe_max_size},
    {.name = "pipe-user-pages-hard", .mode = RW, .show = proc::show_pipe_user_pages_hard,
     .store = proc::store_pipe_user_pages_hard},
    {.name = "pipe-user-pages-soft", .mode = RW, .show = proc::show_pipe_user_pages_soft,
     .store = proc::store_pipe_user_pages_soft},
    SYSCTL_RO("nr_open", "1048576\n"),
    SYSCTL_RO("file-max", "9223372036854775807\n"),
};
// The listen backlog cap (linux/net: listen(2) clamps to it, as Linux 5.4+).
const Entry SYS_NET_CORE[] = {
    SYSCTL_RO("somaxconn", "4096\n"),
};
// Who may open ping sockets (linux/sys_socket.cc).
const Entry SYS_NET_IPV4[] = {
    {.name = "ping_group_range", .mode = RW, .show = proc::show_ping_group_range,
     .store = proc::store_ping_group_range},
};
const Entry SYS_NET[] = {
    {.name = "core", .mode = DIR, .children = SYS_NET_CORE, .nchildren = count_of(SYS_NET_CORE)},
    {.name = "ipv4", .mode = DIR, .children = SYS_NET_IPV4, .nchildren = count_of(SYS_NET_IPV4)},
};
const Entry SYS[] = {
    {.name = "kernel", .mode = DIR, .children = SYS_KERNEL, .nchildren = count_of(SYS_KERNEL)},
    {.name = "net", .mode = DIR, .children = SYS_NET, .nchildren = count_of(SYS_NET)},
    {.name = "vm", .mode = DIR, .children = SYS_VM, .nchildren = count_of(SYS_VM)},
    {.name = "fs", .mode = DIR, .children = SYS_FS, .nchildren = count_of(SYS_FS)},
};

// --- /proc/net -------------------------------------------------------------------------
const Entry NET[] = {
    {.name = "dev", .mode = RO, .show = proc::show_net_dev},
    {.name = "route", .mode = RO, .show = proc::show_net_route},
    {.name = "tcp", .mode = RO, .show = proc::show_net_tcp},
    {.name = "udp", .mode = RO, .show = proc::show_net_udp},
    {.name = "tcp6", .mode = RO, .show = proc::show_net_tcp6},
    {.name = "udp6", .mode = RO, .show = proc::show_net_udp6},
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
    {.name = "sysrq-trigger", .mode = WO, .store = proc::store_sysrq_trigger},
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
