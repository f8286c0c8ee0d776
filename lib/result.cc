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
    case Error::NotDir: return "not a directory";
    case Error::IsDir: return "is a directory";
    case Error::NotEmpty: return "directory not empty";
    case Error::Loop: return "too many symbolic links";
    case Error::NameTooLong: return "name too long";
    case Error::CrossDevice: return "cross-device link";
    case Error::NoSpace: return "no space left";
    case Error::BadFd: return "bad file descriptor";
    case Error::ReadOnly: return "read-only file system";
    case Error::TooManyFiles: return "too many open files";
    case Error::FileTooBig: return "file too big";
    case Error::AccessDenied: return "access denied";
    case Error::Io: return "I/O error";
  }
  return "unknown error";
}

}  // namespace capsule
