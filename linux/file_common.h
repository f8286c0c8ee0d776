#pragma once
// What every file-descriptor syscall family in linux/ shares (docs/vfs.md):
// the process's fd table, root and working directory; user paths and user
// buffers at the boundary; and StreamVnode, the base of every descriptor
// object that is not a file in a file system — pipe ends, FIFOs, the
// console, eventfd, timerfd, signalfd, epoll, later sockets. These are
// streams (vfs::Vnode's stream hooks): no offset (pread/lseek get ESPIPE),
// the description's flags on each transfer (O_NONBLOCK), and a Pollable
// that poll, select and epoll wait on.
#include <cstddef>
#include <cstdint>

#include "fs/file.h"
#include "core/pipe.h"
#include "core/poll.h"
#include "linux/process.h"
#include "fs/vfs.h"
#include "linux/linux_errno.h"
#include "linux/syscall_types.h"

namespace capsule::linux_abi {

// --- Linux's constants for files -------------------------------------------------

// AT_FDCWD: linux/syscall_types.h (AtFd).
inline constexpr uint64_t AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_SYMLINK_FOLLOW = 0x400,
                          AT_NO_AUTOMOUNT = 0x800, AT_EMPTY_PATH = 0x1000, AT_EACCESS = 0x200;
inline constexpr uint64_t O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_EXCL = 0200,
                          O_NOCTTY = 0400, O_TRUNC = 01000, O_APPEND = 02000, O_NONBLOCK = 04000,
                          O_DSYNC = 010000, O_ASYNC = 020000, O_DIRECT = 040000, O_LARGEFILE = 0100000,
                          O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000, O_NOATIME = 01000000,
                          O_CLOEXEC = 02000000, O_SYNC = 04010000, O_PATH = 010000000, O_TMPFILE = 020000000;
inline constexpr size_t MAX_RW = 0x7ffff000;  // Linux's MAX_RW_COUNT
inline constexpr size_t MAX_IOV = 1024;       // UIO_MAXIOV

// --- application memory as an IoBuffer -----------------------------------

struct Iov {
  uint64_t base, len;
};

// A list of user ranges addressed as one run of bytes; a bad pointer is
// Error::Fault.
class UserRanges {
 public:
  UserRanges(const Iov* v, size_t n);
  size_t total() const { return total_; }
  // Only the first max bytes (a write cut at RLIMIT_FSIZE).
  void limit(size_t max) { total_ = total_ < max ? total_ : max; }
  Result<void> move(size_t pos, void* k, size_t n, bool to_user);
  // As move, up to the first fault: the bytes moved.
  size_t move_partial(size_t pos, void* k, size_t n, bool to_user);

 private:
  const Iov* v_;
  size_t n_;
  size_t total_ = 0;
  size_t ci_ = 0, cstart_ = 0;  // the range the last move ended in
};

class UserBuffer final : public vfs::IoBuffer {
 public:
  explicit UserBuffer(UserRanges& r) : IoBuffer(r.total()), r_(r) {}
  Result<void> copy_out(size_t pos, const void* src, size_t n) override {
    return r_.move(pos, const_cast<void*>(src), n, true);
  }
  Result<void> copy_in(size_t pos, void* dst, size_t n) override { return r_.move(pos, dst, n, false); }
  Result<size_t> copy_out_partial(size_t pos, const void* src, size_t n) override {
    return r_.move_partial(pos, const_cast<void*>(src), n, true);
  }
  Result<size_t> copy_in_partial(size_t pos, void* dst, size_t n) override {
    return r_.move_partial(pos, dst, n, false);
  }

 private:
  UserRanges& r_;
};

// --- descriptor objects -------------------------------------------------------------

// The base of every descriptor object outside the file systems. Lives in
// linux/'s own anonymous file system ("anon_inode" in Linux); each gets a
// fresh inode number. A StreamVnode is a stream (vfs::Vnode::is_stream):
// subclasses override the vnode's stream hooks (read_stream, write_stream,
// pollable, ioctl, sigpipe, anon_name, kind).
class StreamVnode : public vfs::Vnode {
 public:
  // mode: type and permission bits reported by fstat; rdev for devices.
  explicit StreamVnode(uint32_t mode, uint64_t rdev = 0);

  bool is_stream() const final { return true; }
  Result<vfs::Attr> getattr() override;
  Result<void> setattr(const vfs::SetAttr&) override { return {}; }

 protected:
  ~StreamVnode() override = default;

 private:
  uint32_t mode_;
  uint64_t rdev_;
  int64_t time_ns_;
};

// --- process state ------------------------------------------------------------------
// The calling thread's process's (linux/process_state.h: ProcessFiles).

vfs::FdTable& fds();

// The process's root and working directory, referenced for a call, and
// (`checked`) the caller's credentials the VFS checks permissions with.
struct Ctx {
  vfs::VnodeRef root, cwd;
  vfs::Cred cred;
  bool checked = false;
  vfs::PathContext pc() const { return {root.get(), cwd.get(), checked ? &cred : nullptr}; }
  const vfs::Cred* creds() const { return checked ? &cred : nullptr; }
};
// The kernel's view (no permission checks: procfs's own walks, getcwd).
Ctx cur_ctx();
// A system call's: the caller's credentials checked (fs/vfs/permission.h).
Ctx user_ctx();
void set_cwd(vfs::VnodeRef v);
// The same for a named process (boot, before its first thread runs).
Ctx process_ctx(Process& p);
void set_cwd(Process& p, vfs::VnodeRef v);
// The file /proc/PID/exe names (the program, or a script's interpreter):
// execve records the file itself, not the path it came by, so a program
// run as /proc/self/exe names its real file; fork copies it.
void files_set_exe(Process& p, vfs::VnodeRef v);
vfs::VnodeRef files_exe(Process& p);

// A path copied from the application, in a heap buffer (kernel stacks are
// small).
struct UserPath {
  char* buf = nullptr;
  size_t len = 0;
  UserPath() = default;
  UserPath(const UserPath&) = delete;
  UserPath& operator=(const UserPath&) = delete;
  ~UserPath() { delete[] buf; }
  StringView view() const { return {buf, len}; }
  bool absolute() const { return len && buf[0] == '/'; }
};

// --- helpers of the system calls (DEFINE_SYSCALL, linux/syscall.h) ----------------
// Errors are the Error the application sees (linux/linux_errno.h).

// AT_FDCWD as a typed *at() argument (open, stat... walk from the cwd).
inline constexpr AtFd AT_CWD{int(AT_FDCWD)};

// The open file behind fd: Error::BadFd for a negative or closed one.
Result<vfs::FileRef> get_file(Fd fd);
// Installs `f` at the lowest free descriptor (Error::TooManyFiles when
// none is left).
Result<Fd> install_fd(vfs::FileRef f, bool cloexec);
// The same for a new open file on the descriptor object `v`.
Result<Fd> install_stream_fd(vfs::VnodeRef v, uint32_t file_flags, bool cloexec);
// Copies a path argument: Error::Fault, NameTooLong or NoMemory.
Result<void> copy_path(UserString path, UserPath& p);
// The context a *at() call walks from (dirfd for a relative path):
// Error::BadFd or NotDir.
Result<Ctx> at_ctx(AtFd dirfd, const UserPath& p);
// A transfer's result: Error::RestartSys when interrupted; BrokenPipe
// raises SIGPIPE first when `sigpipe`.
Result<size_t> io_done(Result<size_t>&& r, bool sigpipe);

// RLIMIT_FSIZE where a regular file grows (linux/sys_limits.cc): how many
// of `count` bytes a write at `pos` may store (all, or up to the limit);
// at or past the limit SIGXFSZ is raised and the answer is FileTooBig.
Result<size_t> fsize_allow(uint64_t pos, size_t count);
// A file growing from old_size to new_size (truncate, fallocate): past
// the limit FileTooBig, with SIGXFSZ.
Result<void> fsize_grow(uint64_t old_size, uint64_t new_size);
void raise_sigxfsz();

// Linux's dev_t encoding of (major << 32) | minor.
uint64_t linux_dev(uint64_t d);

// Sends SIGPIPE to the calling thread (a write to a pipe with no reader).
void raise_sigpipe();

}  // namespace capsule::linux_abi
