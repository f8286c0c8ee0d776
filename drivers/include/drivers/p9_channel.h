#pragma once
// A virtio-9p device (drivers/virtio/p9.cc, docs/9p.md): it carries one
// T-message to the server and brings its R-message back. Each device is
// named by its mount tag. The composition root (kernel/shares.cc) hands it
// to the 9P client (fs/p9) as an fs p9::Transport.
//
//   virtio::P9Channel* ch = virtio::find_p9_channel("share0");
//   virtio::P9Slot* s = ch->acquire();          // sleeps while every slot is busy
//   build the T-message in s->out (size[4] type[1] tag[2] ...)
//   size_t n = TRY(ch->transact(*s, len));  // the R-message is in s->in
//   ch->release(s);
//
// A slot is one request in flight: its own request and reply buffers and
// its own 9P tag, which transact() writes into the message (the client
// never picks tags). Several threads can have requests in flight at once.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::virtio {

struct P9Slot {
  uint8_t* out = nullptr;  // the T-message
  uint8_t* in = nullptr;   // the R-message
  size_t cap = 0;          // bytes in each (the largest message, msize)
};

class P9Channel {
 public:
  virtual StringView tag() const = 0;
  // The largest message either way (the client's msize may not exceed it).
  virtual size_t max_message() const = 0;
  // A free slot; sleeps until one is.
  virtual P9Slot* acquire() = 0;
  virtual void release(P9Slot* s) = 0;
  // Sends s.out's first `len` bytes (a whole message: its size field
  // says len), sleeps until the reply, returns the reply's length. Io when
  // the device returns something shorter than a 9P header.
  virtual Result<size_t> transact(P9Slot& s, size_t len) = 0;

 protected:
  ~P9Channel() = default;
};

// The device whose mount tag is `tag`, or nullptr. Devices register at
// boot (virtio_init) and stay.
P9Channel* find_p9_channel(StringView tag);
void register_p9_channel(P9Channel* c);

}  // namespace capsule::virtio
