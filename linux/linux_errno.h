#pragma once
// Linux errno values (asm-generic/errno-base.h, errno.h: ABI facts) and the
// mapping from Capsule's Error. Only linux/ speaks errno.
//
// The mapping is one to one: every Error but None has its own errno and
// every errno here comes from exactly one Error (static_asserts below,
// tests/unit/syscall_types_test.cc). A handler that returns an Error
// therefore returns the errno: errno_of() is a table lookup, never a
// judgement.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "lib/result.h"

namespace capsule::linux_abi {

enum Errno : int64_t {
  L_EPERM = 1, L_ENOENT = 2, L_ESRCH = 3, L_EINTR = 4, L_EIO = 5, L_ENXIO = 6, L_E2BIG = 7, L_ENOEXEC = 8,
  L_EBADF = 9, L_ECHILD = 10, L_EAGAIN = 11, L_ENOMEM = 12, L_EACCES = 13, L_EFAULT = 14, L_EBUSY = 16,
  L_EEXIST = 17, L_EXDEV = 18, L_ENODEV = 19, L_ENOTDIR = 20, L_EISDIR = 21, L_EINVAL = 22, L_ENFILE = 23,
  L_EMFILE = 24, L_ENOTTY = 25, L_EFBIG = 27, L_ENOSPC = 28, L_ESPIPE = 29, L_EROFS = 30, L_EMLINK = 31,
  L_EPIPE = 32, L_EDOM = 33, L_ERANGE = 34, L_EDEADLK = 35, L_ENAMETOOLONG = 36, L_ENOLCK = 37,
  L_ENOSYS = 38, L_ENOTEMPTY = 39, L_ELOOP = 40, L_ENODATA = 61, L_ETIME = 62, L_EOVERFLOW = 75,
  L_EOPNOTSUPP = 95, L_ETIMEDOUT = 110,
  // Sockets.
  L_ENOTSOCK = 88, L_EDESTADDRREQ = 89, L_EMSGSIZE = 90, L_EPROTOTYPE = 91, L_ENOPROTOOPT = 92,
  L_EPROTONOSUPPORT = 93, L_ESOCKTNOSUPPORT = 94, L_EAFNOSUPPORT = 97, L_EADDRINUSE = 98,
  L_EADDRNOTAVAIL = 99, L_ECONNRESET = 104, L_EISCONN = 106, L_ENOTCONN = 107, L_ECONNREFUSED = 111,
  L_ENETUNREACH = 101, L_EHOSTUNREACH = 113, L_ECONNABORTED = 103, L_EINPROGRESS = 115, L_EALREADY = 114,
  L_ENOBUFS = 105,
  // System V IPC.
  L_ENOMSG = 42, L_EIDRM = 43,
  // Kernel-internal results (never seen by the application; Linux's
  // values): the return path turns them into EINTR or a restart of the
  // call (linux/signal_delivery.cc).
  L_ERESTARTSYS = 512,     // restart if the handler has SA_RESTART
  L_ERESTARTNOINTR = 513,  // always restart
  L_ERESTARTNOHAND = 514,  // restart only if no handler ran
};

namespace detail {
// Indexed by Error. Order must follow lib/result.h (checked below).
inline constexpr int ERRNO_BY_ERROR[] = {
    0,              // None
    L_ENOMEM,        // NoMemory
    L_EINVAL,        // Invalid
    L_ENOENT,        // NotFound
    L_EEXIST,        // Exists
    L_EFAULT,        // Fault
    L_EBUSY,         // Busy
    L_EAGAIN,        // Again
    L_ENOSYS,        // NotSupported
    L_ERANGE,        // Range
    L_E2BIG,         // TooBig
    L_ETIMEDOUT,     // TimedOut
    L_EINTR,         // Interrupted
    L_EPERM,         // Permission
    L_ENOEXEC,       // BadFormat
    L_EPIPE,         // BrokenPipe
    L_ENOTDIR,       // NotDir
    L_EISDIR,        // IsDir
    L_ENOTEMPTY,     // NotEmpty
    L_ELOOP,         // Loop
    L_ENAMETOOLONG,  // NameTooLong
    L_EXDEV,         // CrossDevice
    L_ENOSPC,        // NoSpace
    L_EBADF,         // BadFd
    L_EROFS,         // ReadOnly
    L_EMFILE,        // TooManyFiles
    L_EFBIG,         // FileTooBig
    L_EACCES,        // AccessDenied
    L_EIO,           // Io
    L_EOPNOTSUPP,    // OpNotSupported
    L_ESRCH,         // NoProcess
    L_ENODEV,        // NoDevice
    L_ENXIO,         // NoDeviceOrAddress
    L_ECHILD,        // NoChild
    L_ENOTTY,        // NotTty
    L_ESPIPE,        // IllegalSeek
    L_EMLINK,        // TooManyLinks
    L_EDOM,          // Domain
    L_EDEADLK,       // Deadlock
    L_ENOLCK,        // NoLocks
    L_ENODATA,       // NoData
    L_ETIME,         // TimerExpired
    L_EOVERFLOW,     // Overflow
    L_ENFILE,        // FileTableFull
    L_ENOTSOCK,       // NotSocket
    L_EDESTADDRREQ,   // DestAddrRequired
    L_EMSGSIZE,       // MessageSize
    L_EPROTOTYPE,     // WrongProtoType
    L_ENOPROTOOPT,    // NoProtoOpt
    L_EPROTONOSUPPORT,// ProtoNotSupported
    L_ESOCKTNOSUPPORT,// SockTypeNotSupported
    L_EAFNOSUPPORT,   // FamilyNotSupported
    L_EADDRINUSE,     // AddrInUse
    L_EADDRNOTAVAIL,  // AddrNotAvail
    L_ECONNRESET,     // ConnReset
    L_EISCONN,        // IsConnected
    L_ENOTCONN,       // NotConnected
    L_ECONNREFUSED,   // ConnRefused
    L_ENETUNREACH,    // NetUnreach
    L_EHOSTUNREACH,   // HostUnreach
    L_ECONNABORTED,   // ConnAborted
    L_EINPROGRESS,    // InProgress
    L_EALREADY,       // Already
    L_ENOBUFS,        // NoBufs
    L_EIDRM,          // IdRemoved
    L_ENOMSG,         // NoMessage
    L_ERESTARTSYS,      // RestartSys
    L_ERESTARTNOINTR,  // RestartNoIntr
    L_ERESTARTNOHAND,  // RestartNoHand
};
inline constexpr size_t ERROR_COUNT = size_t(Error::Count);
static_assert(sizeof(ERRNO_BY_ERROR) / sizeof(ERRNO_BY_ERROR[0]) == ERROR_COUNT,
              "every Error needs exactly one errno (lib/result.h and this table disagree)");

constexpr bool errno_table_one_to_one() {
  for (size_t i = 1; i < ERROR_COUNT; ++i) {
    if (ERRNO_BY_ERROR[i] <= 0) return false;
    for (size_t j = 1; j < i; ++j)
      if (ERRNO_BY_ERROR[i] == ERRNO_BY_ERROR[j]) return false;
  }
  return ERRNO_BY_ERROR[0] == 0;
}
static_assert(errno_table_one_to_one(), "two Errors map to the same errno");
// Spot checks that the table follows the enum's order.
static_assert(ERRNO_BY_ERROR[size_t(Error::Io)] == L_EIO);
static_assert(ERRNO_BY_ERROR[size_t(Error::OpNotSupported)] == L_EOPNOTSUPP);
static_assert(ERRNO_BY_ERROR[size_t(Error::FileTableFull)] == L_ENFILE);
static_assert(ERRNO_BY_ERROR[size_t(Error::RestartNoHand)] == L_ERESTARTNOHAND);
}  // namespace detail

// The errno (positive) an Error is; 0 for Error::None.
constexpr int errno_of(Error e) {
  const size_t i = size_t(e);
  return i < detail::ERROR_COUNT ? detail::ERRNO_BY_ERROR[i] : int(L_EINVAL);
}

// The Error an errno (positive) is; Error::Count for a number no Error has.
constexpr Error error_from_errno(int64_t err) {
  for (size_t i = 0; i < detail::ERROR_COUNT; ++i)
    if (detail::ERRNO_BY_ERROR[i] == err) return Error(i);
  return Error::Count;
}

}  // namespace capsule::linux_abi
