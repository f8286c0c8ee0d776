// 9P2000.L reply checks and Rlerror's errno (fs/p9/wire.h).
#include "fs/p9/wire.h"

namespace capsule::p9 {

Result<Reader> parse_reply(const uint8_t* reply, size_t len, uint8_t t) {
  if (len < HEADER) return Error::Io;
  uint32_t size = uint32_t(reply[0]) | uint32_t(reply[1]) << 8 | uint32_t(reply[2]) << 16 | uint32_t(reply[3]) << 24;
  if (size < HEADER || size > len) return Error::Io;
  Reader r(reply + HEADER, size - HEADER);
  if (reply[4] == RLERROR) {
    uint32_t e = r.u32();
    if (r.bad() || e == 0) return Error::Io;
    return error_from_errno(e);
  }
  if (reply[4] != uint8_t(t + 1)) return Error::Io;
  return r;
}

Error error_from_errno(uint32_t e) {
  // Linux's x86-64 errno numbers (asm-generic/errno-base.h, errno.h), the
  // values 9P2000.L's Rlerror carries.
  struct Row {
    uint16_t no;
    Error err;
  };
  static constexpr Row ROWS[] = {
      {1, Error::Permission},       {2, Error::NotFound},       {4, Error::Interrupted},
      {5, Error::Io},               {6, Error::NoDeviceOrAddress}, {7, Error::TooBig},
      {9, Error::BadFd},            {11, Error::Again},         {12, Error::NoMemory},
      {13, Error::AccessDenied},    {14, Error::Fault},         {16, Error::Busy},
      {17, Error::Exists},          {18, Error::CrossDevice},   {19, Error::NoDevice},
      {20, Error::NotDir},          {21, Error::IsDir},         {22, Error::Invalid},
      {23, Error::FileTableFull},   {24, Error::TooManyFiles},  {25, Error::NotTty},
      {27, Error::FileTooBig},      {28, Error::NoSpace},       {29, Error::IllegalSeek},
      {30, Error::ReadOnly},        {31, Error::TooManyLinks},  {34, Error::Range},
      {35, Error::Deadlock},        {36, Error::NameTooLong},   {37, Error::NoLocks},
      {38, Error::NotSupported},    {39, Error::NotEmpty},      {40, Error::Loop},
      {61, Error::NoData},          {75, Error::Overflow},      {95, Error::OpNotSupported},
      {110, Error::TimedOut},
  };
  for (const Row& r : ROWS)
    if (r.no == e) return r.err;
  return Error::Io;
}

}  // namespace capsule::p9
