#pragma once
// Result<T>: a value or an error code. Kernel code has no exceptions; every
// fallible call returns one of these and callers propagate with TRY().
// Error codes are Capsule's own (capsule::Error); linux/ maps each one to
// exactly one errno (linux/linux_errno.h), so an error a system call returns
// is the errno the application sees: no detail is lost on the way.
#include <new>
#include <type_traits>
#include <utility>

namespace capsule {

enum class Error : int {
  None = 0,
  NoMemory,       // ENOMEM
  Invalid,        // EINVAL
  NotFound,       // ENOENT
  Exists,         // EEXIST
  Fault,          // EFAULT
  Busy,           // EBUSY
  Again,          // EAGAIN
  NotSupported,   // ENOSYS (no such operation at all)
  Range,          // ERANGE
  TooBig,         // E2BIG (argument list, buffer); a file is FileTooBig
  TimedOut,       // ETIMEDOUT
  Interrupted,    // EINTR
  Permission,     // EPERM (an operation not permitted; a file is AccessDenied)
  BadFormat,      // ENOEXEC
  BrokenPipe,     // EPIPE (the adapter also raises SIGPIPE)
  // File systems (fs/vfs, docs/vfs.md). Appended: values above are stable.
  NotDir,         // ENOTDIR
  IsDir,          // EISDIR
  NotEmpty,       // ENOTEMPTY
  Loop,           // ELOOP
  NameTooLong,    // ENAMETOOLONG
  CrossDevice,    // EXDEV
  NoSpace,        // ENOSPC
  BadFd,          // EBADF
  ReadOnly,       // EROFS
  TooManyFiles,   // EMFILE
  FileTooBig,     // EFBIG
  AccessDenied,   // EACCES (a permission check on a file, not EPERM)
  Io,             // EIO
  // The rest of what the Linux adapter returns: one Error per errno.
  OpNotSupported,  // EOPNOTSUPP (the object does not support this operation)
  NoProcess,       // ESRCH
  NoDevice,        // ENODEV
  NoDeviceOrAddress,  // ENXIO
  NoChild,         // ECHILD
  NotTty,          // ENOTTY (an ioctl the object does not know)
  IllegalSeek,     // ESPIPE
  TooManyLinks,    // EMLINK
  Domain,          // EDOM
  Deadlock,        // EDEADLK
  NoLocks,         // ENOLCK
  NoData,          // ENODATA
  TimerExpired,    // ETIME
  Overflow,        // EOVERFLOW
  FileTableFull,   // ENFILE
  // Sockets (net/, docs/net.md).
  NotSocket,       // ENOTSOCK
  DestAddrRequired,// EDESTADDRREQ
  MessageSize,     // EMSGSIZE
  WrongProtoType,  // EPROTOTYPE
  NoProtoOpt,      // ENOPROTOOPT
  ProtoNotSupported,// EPROTONOSUPPORT
  SockTypeNotSupported,// ESOCKTNOSUPPORT
  FamilyNotSupported,// EAFNOSUPPORT
  AddrInUse,       // EADDRINUSE
  AddrNotAvail,    // EADDRNOTAVAIL
  ConnReset,       // ECONNRESET
  IsConnected,     // EISCONN
  NotConnected,    // ENOTCONN
  ConnRefused,     // ECONNREFUSED
  NetUnreach,      // ENETUNREACH
  HostUnreach,     // EHOSTUNREACH
  ConnAborted,     // ECONNABORTED
  InProgress,      // EINPROGRESS (a non-blocking connect goes on)
  Already,         // EALREADY
  NoBufs,          // ENOBUFS
  IdRemoved,       // EIDRM (a System V IPC object removed under a waiter)
  NoMessage,       // ENOMSG (no message of the wanted type)
  // Kernel-internal, never seen by the application: the return path turns
  // them into EINTR or a restart of the call (linux/signal.h).
  RestartSys,      // ERESTARTSYS: restart if the handler has SA_RESTART
  RestartNoIntr,   // ERESTARTNOINTR: always restart
  RestartNoHand,   // ERESTARTNOHAND: restart only if no handler ran
  Count,           // not an error: the number of codes above
};

const char* error_name(Error e);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& v) : ok_(true) { new (&storage_) T(v); }
  Result(T&& v) : ok_(true) { new (&storage_) T(std::move(v)); }
  Result(Error e) : ok_(false), error_(e) {}
  Result(const Result& o) : ok_(o.ok_), error_(o.error_) {
    if (ok_) new (&storage_) T(o.value());
  }
  Result(Result&& o) : ok_(o.ok_), error_(o.error_) {
    if (ok_) new (&storage_) T(std::move(o.value()));
  }
  Result& operator=(const Result&) = delete;
  ~Result() {
    if (ok_) value().~T();
  }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  Error error() const { return ok_ ? Error::None : error_; }
  T& value() { return *std::launder(reinterpret_cast<T*>(&storage_)); }
  const T& value() const { return *std::launder(reinterpret_cast<const T*>(&storage_)); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  T release_value() { return std::move(value()); }
  T value_or(T fallback) const { return ok_ ? value() : fallback; }

 private:
  bool ok_;
  Error error_ = Error::None;
  alignas(T) unsigned char storage_[sizeof(T)];
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : error_(e) {}
  bool ok() const { return error_ == Error::None; }
  explicit operator bool() const { return ok(); }
  Error error() const { return error_; }
  void release_value() {}

 private:
  Error error_ = Error::None;
};

// TRY(expr): evaluate a Result; on error return the error from the caller,
// otherwise yield the value (GNU statement expression, as SerenityOS does).
#define TRY(expr)                                   \
  ({                                                \
    auto _try_result = (expr);                      \
    if (!_try_result.ok()) return _try_result.error(); \
    _try_result.release_value();                    \
  })

}  // namespace capsule
