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
    case Error::OpNotSupported: return "operation not supported";
    case Error::NoProcess: return "no such process";
    case Error::NoDevice: return "no such device";
    case Error::NoDeviceOrAddress: return "no such device or address";
    case Error::NoChild: return "no child processes";
    case Error::NotTty: return "inappropriate ioctl for device";
    case Error::IllegalSeek: return "illegal seek";
    case Error::TooManyLinks: return "too many links";
    case Error::Domain: return "argument out of domain";
    case Error::Deadlock: return "resource deadlock would occur";
    case Error::NoLocks: return "no locks available";
    case Error::NoData: return "no data available";
    case Error::TimerExpired: return "timer expired";
    case Error::Overflow: return "value too large";
    case Error::FileTableFull: return "too many open files in system";
    case Error::NotSocket: return "not a socket";
    case Error::DestAddrRequired: return "destination address required";
    case Error::MessageSize: return "message too long";
    case Error::WrongProtoType: return "protocol wrong type for socket";
    case Error::NoProtoOpt: return "protocol not available";
    case Error::ProtoNotSupported: return "protocol not supported";
    case Error::SockTypeNotSupported: return "socket type not supported";
    case Error::FamilyNotSupported: return "address family not supported";
    case Error::AddrInUse: return "address in use";
    case Error::AddrNotAvail: return "address not available";
    case Error::ConnReset: return "connection reset";
    case Error::IsConnected: return "already connected";
    case Error::NotConnected: return "not connected";
    case Error::ConnRefused: return "connection refused";
    case Error::NetUnreach: return "network unreachable";
    case Error::HostUnreach: return "no route to host";
    case Error::ConnAborted: return "connection aborted";
    case Error::InProgress: return "operation in progress";
    case Error::Already: return "operation already in progress";
    case Error::NoBufs: return "no buffer space available";
    case Error::IdRemoved: return "identifier removed";
    case Error::NoMessage: return "no message of desired type";
    case Error::RestartSys:
    case Error::RestartNoIntr:
    case Error::RestartNoHand: return "interrupted (restart)";
    case Error::Count: break;
  }
  return "unknown error";
}

}  // namespace capsule
