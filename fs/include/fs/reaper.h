#pragma once
// The reaper: work a vnode's last release cannot do where it runs. That
// release can come where nothing may sleep (munmap and an address space's
// teardown hold its spinlock), so a client file system (9p, virtio-fs)
// queues what the vnode leaves behind (its fids or handles, its kept
// pages) and one kernel thread finishes it: the server's clunks, RELEASEs
// and FORGETs, the write-back. What is still queued at the program's exit
// is finished in the shutdown hook, before power-off (bounded by its
// deadline). docs/9p.md, docs/virtiofs.md.
#include "lib/result.h"

namespace capsule::vfs {

struct Remains {
  // Does the work and frees the item (it was queued whole).
  void (*finish)(Remains* self) = nullptr;
  Remains* next = nullptr;
};

// The thread and the shutdown hook, once (each client's first mount).
Result<void> start_reaper();
// Queues `r` for the reaper; never sleeps (a spinlock), any context.
void reap(Remains* r);

}  // namespace capsule::vfs
