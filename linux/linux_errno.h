#pragma once
// Linux errno values (asm-generic/errno-base.h, errno.h: ABI facts) and the
// mapping from Capsule's Error. Only linux/ speaks errno.
#include <cstdint>

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
};

inline int64_t to_errno(Error e) {
  switch (e) {
    case Error::None: return 0;
    case Error::NoMemory: return -kENOMEM;
    case Error::Invalid: return -kEINVAL;
    case Error::NotFound: return -kENOENT;
    case Error::Exists: return -kEEXIST;
    case Error::Fault: return -kEFAULT;
    case Error::Busy: return -kEBUSY;
    case Error::Again: return -kEAGAIN;
    case Error::NotSupported: return -kENOSYS;
    case Error::Range: return -kERANGE;
    case Error::TooBig: return -kE2BIG;
    case Error::TimedOut: return -kETIMEDOUT;
    case Error::Interrupted: return -kEINTR;
    case Error::Permission: return -kEPERM;
    case Error::BadFormat: return -kENOEXEC;
    case Error::BrokenPipe: return -kEPIPE;
    case Error::NotDir: return -kENOTDIR;
    case Error::IsDir: return -kEISDIR;
    case Error::NotEmpty: return -kENOTEMPTY;
    case Error::Loop: return -kELOOP;
    case Error::NameTooLong: return -kENAMETOOLONG;
    case Error::CrossDevice: return -kEXDEV;
    case Error::NoSpace: return -kENOSPC;
    case Error::BadFd: return -kEBADF;
    case Error::ReadOnly: return -kEROFS;
    case Error::TooManyFiles: return -kEMFILE;
    case Error::FileTooBig: return -kEFBIG;
    case Error::AccessDenied: return -kEACCES;
    case Error::Io: return -kEIO;
  }
  return -kEINVAL;
}

// A Result as a syscall return: the value, or -errno.
template <typename T>
int64_t ret(Result<T>&& r) {
  if (!r.ok()) return to_errno(r.error());
  if constexpr (std::is_void_v<T>) return 0;
  else return int64_t(r.value());
}
inline int64_t ret(Result<void>&& r) { return r.ok() ? 0 : to_errno(r.error()); }

}  // namespace capsule::linux_abi
