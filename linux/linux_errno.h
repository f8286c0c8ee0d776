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
  kEPERM = 1, kENOENT = 2, kESRCH = 3, kEINTR = 4, kEIO = 5, kENXIO = 6, kE2BIG = 7, kENOEXEC = 8,
  kEBADF = 9, kECHILD = 10, kEAGAIN = 11, kENOMEM = 12, kEACCES = 13, kEFAULT = 14, kEBUSY = 16,
  kEEXIST = 17, kEXDEV = 18, kENODEV = 19, kENOTDIR = 20, kEISDIR = 21, kEINVAL = 22, kENFILE = 23,
  kEMFILE = 24, kENOTTY = 25, kEFBIG = 27, kENOSPC = 28, kESPIPE = 29, kEROFS = 30, kEMLINK = 31,
  kEPIPE = 32, kEDOM = 33, kERANGE = 34, kEDEADLK = 35, kENAMETOOLONG = 36, kENOLCK = 37,
  kENOSYS = 38, kENOTEMPTY = 39, kELOOP = 40, kENODATA = 61, kETIME = 62, kEOVERFLOW = 75,
  kEOPNOTSUPP = 95, kETIMEDOUT = 110,
  // Kernel-internal results (never seen by the application; Linux's
  // values): the return path turns them into EINTR or a restart of the
  // call (linux/signal_delivery.cc).
  kERESTARTSYS = 512,     // restart if the handler has SA_RESTART
  kERESTARTNOINTR = 513,  // always restart
  kERESTARTNOHAND = 514,  // restart only if no handler ran
};

namespace detail {
// Indexed by Error. Order must follow lib/result.h (checked below).
inline constexpr int ERRNO_BY_ERROR[] = {
    0,              // None
    kENOMEM,        // NoMemory
    kEINVAL,        // Invalid
    kENOENT,        // NotFound
    kEEXIST,        // Exists
    kEFAULT,        // Fault
    kEBUSY,         // Busy
    kEAGAIN,        // Again
    kENOSYS,        // NotSupported
    kERANGE,        // Range
    kE2BIG,         // TooBig
    kETIMEDOUT,     // TimedOut
    kEINTR,         // Interrupted
    kEPERM,         // Permission
    kENOEXEC,       // BadFormat
    kEPIPE,         // BrokenPipe
    kENOTDIR,       // NotDir
    kEISDIR,        // IsDir
    kENOTEMPTY,     // NotEmpty
    kELOOP,         // Loop
    kENAMETOOLONG,  // NameTooLong
    kEXDEV,         // CrossDevice
    kENOSPC,        // NoSpace
    kEBADF,         // BadFd
    kEROFS,         // ReadOnly
    kEMFILE,        // TooManyFiles
    kEFBIG,         // FileTooBig
    kEACCES,        // AccessDenied
    kEIO,           // Io
    kEOPNOTSUPP,    // OpNotSupported
    kESRCH,         // NoProcess
    kENODEV,        // NoDevice
    kENXIO,         // NoDeviceOrAddress
    kECHILD,        // NoChild
    kENOTTY,        // NotTty
    kESPIPE,        // IllegalSeek
    kEMLINK,        // TooManyLinks
    kEDOM,          // Domain
    kEDEADLK,       // Deadlock
    kENOLCK,        // NoLocks
    kENODATA,       // NoData
    kETIME,         // TimerExpired
    kEOVERFLOW,     // Overflow
    kENFILE,        // FileTableFull
    kERESTARTSYS,      // RestartSys
    kERESTARTNOINTR,  // RestartNoIntr
    kERESTARTNOHAND,  // RestartNoHand
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
static_assert(ERRNO_BY_ERROR[size_t(Error::Io)] == kEIO);
static_assert(ERRNO_BY_ERROR[size_t(Error::OpNotSupported)] == kEOPNOTSUPP);
static_assert(ERRNO_BY_ERROR[size_t(Error::FileTableFull)] == kENFILE);
static_assert(ERRNO_BY_ERROR[size_t(Error::RestartNoHand)] == kERESTARTNOHAND);
}  // namespace detail

// The errno (positive) an Error is; 0 for Error::None.
constexpr int errno_of(Error e) {
  const size_t i = size_t(e);
  return i < detail::ERROR_COUNT ? detail::ERRNO_BY_ERROR[i] : int(kEINVAL);
}

// The Error an errno (positive) is; Error::Count for a number no Error has.
constexpr Error error_from_errno(int64_t err) {
  for (size_t i = 0; i < detail::ERROR_COUNT; ++i)
    if (detail::ERRNO_BY_ERROR[i] == err) return Error(i);
  return Error::Count;
}

}  // namespace capsule::linux_abi
