#pragma once
// A host directory shared over FUSE (virtio-fs, served by virtiofsd),
// mounted as a file system (docs/virtiofs.md).
#include "fs/vfs.h"
#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::fuse {

// The device a share comes through (the composition root adapts the
// virtio-fs driver to it): one request in flight per Request, with its
// own buffers; transact() sends the request and sleeps until the reply is
// in `in`, returning its length; forget() sends a request that has no
// reply (FORGET). Several requests may be in flight.
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
  // reply_max: the most the reply can take (header included); the device
  // is given that much room and no more.
  virtual Result<size_t> transact(Request& r, size_t len, size_t reply_max) = 0;
  virtual Result<void> forget(Request& r, size_t len) = 0;

 protected:
  ~Transport() = default;
};

// FUSE_INIT over `t` (which must outlive the file system). read_only:
// every change is refused with ReadOnly (EROFS).
Result<vfs::FsRef> mount_share(Transport& t, bool read_only);

}  // namespace capsule::fuse
