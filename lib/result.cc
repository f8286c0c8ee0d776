#include "lib/result.h"

namespace capsule {

const char* error_name(Error e) {
  switch (e) {
    case Error::None: return "none";
    case Error::NoMemory: return "out of memory";
    case Error::Invalid: return "invalid argument";
    case Error::NotFound: return "not found";
    case Error::Exists: return "already exists";
    case Error::Fault: return "bad address";
    case Error::Busy: return "busy";
    case Error::Again: return "try again";
    case Error::NotSupported: return "not supported";
    case Error::Range: return "out of range";
    case Error::TooBig: return "too big";
    case Error::TimedOut: return "timed out";
    case Error::Interrupted: return "interrupted";
    case Error::Permission: return "permission denied";
    case Error::BadFormat: return "bad format";
    case Error::BrokenPipe: return "broken pipe";
  }
  return "unknown error";
}

}  // namespace capsule
