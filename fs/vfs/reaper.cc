// The reaper (fs/include/fs/reaper.h).
#include "fs/reaper.h"

#include <atomic>

#include "arch/spinlock.h"
#include "core/shutdown.h"
#include "core/sync/wait_queue.h"
#include "core/thread.h"
#include "core/time.h"

namespace capsule::vfs {
namespace {

SpinLock g_lock;
Remains* g_head GUARDED_BY(g_lock) = nullptr;
uint32_t g_reaping GUARDED_BY(g_lock) = 0;  // taken, not yet done
Semaphore g_wake;
std::atomic<bool> g_started{false};

// Takes the queue; false when it is empty.
bool reap_some() {
  Remains* list;
  {
    SpinGuard g(g_lock);
    list = g_head;
    g_head = nullptr;
    if (!list) return false;
    for (Remains* r = list; r; r = r->next) ++g_reaping;
  }
  while (Remains* r = list) {
    list = r->next;
    r->finish(r);
    SpinGuard g(g_lock);
    --g_reaping;
  }
  return true;
}

void reaper(void*) {
  for (;;) {
    g_wake.down();
    while (reap_some()) {
    }
  }
}

// At the program's exit: what is queued reaches the host before power-off
// (bounded by the deadline).
void reap_at_shutdown(uint64_t deadline_ns) {
  while (uptime_ns() < deadline_ns) {
    if (reap_some()) continue;
    {
      SpinGuard g(g_lock);
      if (!g_reaping && !g_head) return;
    }
    thread_sleep_ns(1000000);  // the reaper thread is finishing one
  }
}

}  // namespace

Result<void> start_reaper() {
  if (g_started.exchange(true)) return {};
  TRY(thread_create("fs-reaper", reaper, nullptr, ThreadOptions{.detached = true}));
  shutdown_register(reap_at_shutdown);
  return {};
}

void reap(Remains* r) {
  {
    SpinGuard g(g_lock);
    r->next = g_head;
    g_head = r;
  }
  g_wake.up();
}

}  // namespace capsule::vfs
