#pragma once
// procfs's Linux side (docs/pseudo-fs.md): the /proc tree and the callbacks
// that read process and system state, split by family over
// linux/procfs_*.cc. The generic machinery is fs/procfs/procfs.h.
#include "fs/vfs.h"
#include "fs/procfs/procfs.h"
#include "fs/procfs/write_value.h"
#include "linux/process.h"

namespace capsule::linux_abi {

// Boot, after the root is mounted: devfs on /dev (+ tmpfs on /dev/shm),
// procfs on /proc, sysfs on /sys (each directory created if missing).
Result<void> pseudo_fs_init(vfs::Vfs& v, const vfs::PathContext& pc);

namespace proc {

using procfs::Text;

// The absolute path of `v` in the kernel's namespace (a directory through
// its parents, anything else by a search of the tree); false if it has
// none (unlinked, or not in a file system).
bool path_of_vnode(vfs::Vnode& v, Text& out);

// The process /proc/<n> names (n: its pid, or the tid of one of its
// threads), held by a reference while a callback reads it (it may exit
// meanwhile: a zombie keeps what is read here). null() if none.
class Target {
 public:
  explicit Target(uint64_t n);
  ~Target();
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;
  Process* get() const { return p_; }
  Process* operator->() const { return p_; }
  bool null() const { return !p_; }
  bool zombie() const;  // read under the table's lock

 private:
  Process* p_;
};
// fd/ and fdinfo/ entries carry (pid << 32) | descriptor (Entry::nest).
inline uint64_t fd_arg_pid(uint64_t arg) { return arg >> 32; }
inline uint64_t fd_arg_fd(uint64_t arg) { return arg & 0xffffffffu; }

// The owner of /proc/<pid> and what is under it (arg: a pid, a tid or an
// fd entry's): the process's effective ids.
void owner(uint64_t arg, uint32_t* uid, uint32_t* gid);

// linux/procfs_fd.cc: fd/, fdinfo/, exe, cwd, root.
size_t list_fds(uint64_t, uint64_t from, uint64_t* out, size_t cap);
bool fd_exists(uint64_t, uint64_t fd);
Result<void> fd_link(uint64_t fd, Text& out);
Result<vfs::VnodeRef> fd_follow(uint64_t fd);
Result<void> fdinfo(uint64_t fd, Text& out);
Result<void> exe_link(uint64_t, Text& out);
Result<vfs::VnodeRef> exe_follow(uint64_t);
Result<void> cwd_link(uint64_t, Text& out);
Result<vfs::VnodeRef> cwd_follow(uint64_t);
Result<void> root_link(uint64_t, Text& out);
Result<vfs::VnodeRef> root_follow(uint64_t);

// linux/procfs_process.cc: per-process files (arg: the pid or a tid).
Result<void> show_cmdline(uint64_t, Text& out);
Result<void> show_environ(uint64_t, Text& out);
Result<void> show_auxv(uint64_t, Text& out);
Result<void> show_comm(uint64_t, Text& out);
Result<void> store_comm(uint64_t, StringView data);
Result<void> show_stat(uint64_t tid, Text& out);
Result<void> show_statm(uint64_t, Text& out);
Result<void> show_status(uint64_t tid, Text& out);
Result<void> show_maps(uint64_t, Text& out);
Result<void> show_limits(uint64_t, Text& out);
Result<void> show_oom_score_adj(uint64_t, Text& out);
Result<void> store_oom_score_adj(uint64_t, StringView data);
Result<void> show_cgroup(uint64_t, Text& out);
size_t list_tids(uint64_t, uint64_t from, uint64_t* out, size_t cap);
bool tid_exists(uint64_t, uint64_t tid);
size_t list_pids(uint64_t, uint64_t from, uint64_t* out, size_t cap);
bool pid_exists(uint64_t, uint64_t n);
Result<void> self_link(uint64_t, Text& out);
Result<void> thread_self_link(uint64_t, Text& out);

// linux/procfs_mem.cc: mem (read/write at an address), ns/*, attributes.
Result<size_t> mem_read(uint64_t pid, uint64_t offset, IoBuffer& buf);
Result<size_t> mem_write(uint64_t pid, uint64_t offset, IoBuffer& buf);
Result<void> show_personality(uint64_t pid, Text& out);
Result<void> show_timerslack(uint64_t pid, Text& out);
Result<void> store_timerslack(uint64_t pid, StringView data);
Result<void> show_attr_current(uint64_t, Text& out);
uint64_t ns_ino_cgroup(uint64_t);
uint64_t ns_ino_ipc(uint64_t);
uint64_t ns_ino_mnt(uint64_t);
uint64_t ns_ino_net(uint64_t);
uint64_t ns_ino_pid(uint64_t);
uint64_t ns_ino_time(uint64_t);
uint64_t ns_ino_user(uint64_t);
uint64_t ns_ino_uts(uint64_t);

// linux/procfs_system.cc: global files.
Result<void> show_cpuinfo(uint64_t, Text& out);
Result<void> show_meminfo(uint64_t, Text& out);
// linux/procfs_net.cc: /proc/net.
Result<void> show_net_dev(uint64_t, Text& out);
Result<void> show_net_route(uint64_t, Text& out);
Result<void> show_net_tcp(uint64_t, Text& out);
Result<void> show_net_udp(uint64_t, Text& out);
Result<void> show_net_tcp6(uint64_t, Text& out);
Result<void> show_net_udp6(uint64_t, Text& out);
Result<void> show_sys_stat(uint64_t, Text& out);
Result<void> show_uptime(uint64_t, Text& out);
Result<void> show_loadavg(uint64_t, Text& out);
Result<void> show_filesystems(uint64_t, Text& out);
Result<void> show_version(uint64_t, Text& out);
Result<void> show_hostname(uint64_t, Text& out);
Result<void> store_hostname(uint64_t, StringView data);
Result<void> show_domainname(uint64_t, Text& out);
Result<void> store_domainname(uint64_t, StringView data);
Result<void> show_boot_id(uint64_t, Text& out);
Result<void> show_uuid(uint64_t, Text& out);
Result<void> show_overcommit(uint64_t, Text& out);
// /proc/sys/fs/pipe-max-size, pipe-user-pages-soft/-hard (linux/sys_pipe.cc).
Result<void> show_pipe_max_size(uint64_t, Text& out);
// /proc/sys/net/ipv4/ping_group_range (linux/sys_socket.cc).
Result<void> show_ping_group_range(uint64_t, Text& out);
Result<void> store_ping_group_range(uint64_t, StringView data);
Result<void> store_pipe_max_size(uint64_t, StringView data);
Result<void> show_pipe_user_pages_soft(uint64_t, Text& out);
Result<void> store_pipe_user_pages_soft(uint64_t, StringView data);
Result<void> show_pipe_user_pages_hard(uint64_t, Text& out);
Result<void> store_pipe_user_pages_hard(uint64_t, StringView data);
// /proc/sys/fs/epoll/max_user_watches (linux/sys_epoll.cc).
Result<void> show_epoll_max_watches(uint64_t, Text& out);
Result<void> store_epoll_max_watches(uint64_t, StringView data);
// /proc/sys/fs/inotify (linux/sys_inotify.cc).
Result<void> show_inotify_max_queued(uint64_t, Text& out);
Result<void> store_inotify_max_queued(uint64_t, StringView data);
Result<void> show_inotify_max_watches(uint64_t, Text& out);
Result<void> store_inotify_max_watches(uint64_t, StringView data);
Result<void> show_inotify_max_instances(uint64_t, Text& out);
Result<void> store_inotify_max_instances(uint64_t, StringView data);
Result<void> store_overcommit(uint64_t, StringView data);
// /proc/sysrq-trigger (Linux's SysRq from a program): 't' and 'w' print
// the thread dump to the kernel log; other keys are logged and ignored.
Result<void> store_sysrq_trigger(uint64_t, StringView data);

// linux/procfs_mounts.cc: the mount table as Linux prints it.
void note_mount(const char* source, const char* path, const char* type, const char* opts, uint64_t dev);
// mount(2)/umount2(2): a record with copies of the strings (NoSpace past
// 64 mounts), and removing the latest record of `path`.
Result<void> note_mount_copy(StringView source, StringView path, const char* type, StringView opts,
                             uint64_t dev);
void forget_mount(StringView path);
Result<void> show_mounts(uint64_t, Text& out);
Result<void> show_mountinfo(uint64_t, Text& out);

}  // namespace proc
}  // namespace capsule::linux_abi
