#pragma once
// A virtio-fs device (drivers/virtio/fs.cc, docs/virtiofs.md): it carries
// one FUSE request to the file server (virtiofsd, over vhost-user) and
// brings its reply back. Each device is named by its tag. The composition
// root (kernel/shares.cc) hands it to the FUSE client (fs/fuse) as an fs
// fuse::Transport.
//
//   virtio::FuseChannel* ch = virtio::find_fuse_channel("capsule0");
//   virtio::FuseSlot* s = ch->acquire();      // sleeps while every slot is busy
//   build fuse_in_header + arguments in s->out
//   size_t n = TRY(ch->transact(*s, len, reply_max));  // fuse_out_header + reply in s->in
//   ch->release(s);
//
// A slot is one request in flight with its own buffers. Requests without
// a reply (FORGET) go to the high-priority queue: send_forget().
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::virtio {

struct FuseSlot {
  uint8_t* out = nullptr;  // the request (device-readable)
  uint8_t* in = nullptr;   // the reply (device-writable)
  size_t cap = 0;          // bytes in each
};

class FuseChannel {
 public:
  virtual StringView tag() const = 0;
  virtual size_t max_message() const = 0;
  virtual FuseSlot* acquire() = 0;
  virtual void release(FuseSlot* s) = 0;
  // Sends s.out's first `len` bytes on a request queue, sleeps until the
  // reply, returns how many bytes the device wrote into s.in. The device
  // sees `reply_max` bytes of s.in (at most cap): as Linux, room for the
  // largest reply of the request and no more (virtiofsd fills READ
  // replies to the buffer's size, not to the size asked for).
  virtual Result<size_t> transact(FuseSlot& s, size_t len, size_t reply_max) = 0;
  // Sends s.out's first `len` bytes on the hiprio queue (no reply buffer:
  // FORGET / BATCH_FORGET), sleeps until the device has taken them.
  virtual Result<void> send_forget(FuseSlot& s, size_t len) = 0;

 protected:
  ~FuseChannel() = default;
};

// The device whose tag is `tag`, or nullptr. Devices register at boot.
FuseChannel* find_fuse_channel(StringView tag);
void register_fuse_channel(FuseChannel* c);

}  // namespace capsule::virtio
