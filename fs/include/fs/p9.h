#pragma once
// A host directory shared over 9P2000.L (virtio-9p), mounted as a file
// system (docs/9p.md).
#include "fs/vfs.h"
#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::p9 {

// The device a share comes through (the composition root adapts the
// virtio-9p driver to it): one request in flight per Request, with its own
// buffers; transact() sends the T-message and sleeps until the R-message
// is in `in`, returning its length. Several requests may be in flight.
struct Request {
  uint8_t* out = nullptr;
  uint8_t* in = nullptr;
  size_t cap = 0;          // bytes in each buffer
  void* handle = nullptr;  // the transport's
};

class Transport {
 public:
  virtual size_t max_message() const = 0;
  virtual Request acquire() = 0;  // sleeps while every request is in use
  virtual void release(Request& r) = 0;
  virtual Result<size_t> transact(Request& r, size_t len) = 0;

 protected:
  ~Transport() = default;
};

// Negotiates the protocol over `t` (which must outlive the file system)
// and attaches to the export's root. read_only: every change is refused
// with ReadOnly (EROFS).
Result<vfs::FsRef> mount_share(Transport& t, bool read_only);

}  // namespace capsule::p9
