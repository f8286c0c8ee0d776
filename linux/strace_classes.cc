// --strace-filter's classes (docs/strace.md): which system calls %file,
// %desc, %memory, %process, %signal, %network, %ipc, %creds and %clock
// name, as strace defines them (a call may be in several).
#include "linux/strace_args.h"

namespace capsule::linux_abi::strace {
namespace {

struct Class {
  const char* name;
  const char* calls;  // space-separated
};

constexpr Class CLASSES[] = {
    {"%file",
     "open openat openat2 creat stat lstat newfstatat statx statfs access faccessat faccessat2 execve execveat "
     "chdir chroot chmod fchmodat chown lchown fchownat mkdir mkdirat mknod mknodat rmdir unlink unlinkat rename "
     "renameat renameat2 link linkat symlink symlinkat readlink readlinkat truncate utime utimes utimensat "
     "futimesat mount umount2 pivot_root swapon swapoff getxattr lgetxattr setxattr lsetxattr listxattr "
     "llistxattr removexattr lremovexattr inotify_add_watch name_to_handle_at fanotify_mark acct uselib quotactl"},
    {"%desc",
     "read write open openat openat2 creat close fstat newfstatat statx poll ppoll select pselect6 lseek mmap "
     "ioctl pread64 pwrite64 readv writev preadv pwritev preadv2 pwritev2 pipe pipe2 dup dup2 dup3 sendfile fcntl "
     "flock fsync fdatasync syncfs ftruncate fallocate getdents getdents64 fchdir fchmod fchmodat fchown fchownat "
     "fstatfs readahead fadvise64 fsetxattr fgetxattr flistxattr fremovexattr epoll_create epoll_create1 "
     "epoll_ctl epoll_wait epoll_pwait epoll_pwait2 mkdirat mknodat futimesat utimensat unlinkat renameat "
     "renameat2 linkat symlinkat readlinkat faccessat faccessat2 splice tee vmsplice sync_file_range signalfd "
     "signalfd4 timerfd_create timerfd_settime timerfd_gettime eventfd eventfd2 inotify_init inotify_init1 "
     "inotify_add_watch inotify_rm_watch copy_file_range memfd_create execveat name_to_handle_at "
     "open_by_handle_at setns fanotify_init fanotify_mark close_range pidfd_open pidfd_getfd"},
    {"%memory",
     "brk mmap munmap mprotect mremap msync mincore madvise mlock mlock2 munlock mlockall munlockall "
     "remap_file_pages mbind get_mempolicy set_mempolicy migrate_pages move_pages pkey_mprotect shmat shmdt"},
    {"%process",
     "clone clone3 fork vfork execve execveat exit exit_group wait4 waitid kill tkill tgkill rt_sigqueueinfo "
     "rt_tgsigqueueinfo unshare pidfd_send_signal pidfd_open"},
    {"%signal",
     "rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_tgsigqueueinfo "
     "rt_sigsuspend sigaltstack pause kill tkill tgkill signalfd signalfd4 pidfd_send_signal"},
    {"%network",
     "socket socketpair connect accept accept4 bind listen shutdown sendto recvfrom sendmsg recvmsg sendmmsg "
     "recvmmsg getsockname getpeername setsockopt getsockopt"},
    {"%ipc", "shmget shmat shmctl shmdt semget semop semctl semtimedop msgget msgsnd msgrcv msgctl"},
    {"%creds",
     "getuid getgid geteuid getegid setuid setgid setreuid setregid setresuid getresuid setresgid getresgid "
     "getgroups setgroups setfsuid setfsgid capget capset"},
    {"%clock",
     "clock_gettime clock_settime clock_getres clock_adjtime gettimeofday settimeofday time adjtimex"},
};

}  // namespace

bool class_has(StringView cls, StringView call, bool& known) {
  known = false;
  for (const Class& c : CLASSES) {
    if (StringView(c.name) != cls) continue;
    known = true;
    StringView list(c.calls);
    while (!list.empty()) {
      size_t sp = list.find(' ');
      if (list.substr(0, sp) == call) return true;
      if (sp == StringView::npos) break;
      list = list.substr(sp + 1);
    }
    return false;
  }
  return false;
}

}  // namespace capsule::linux_abi::strace
