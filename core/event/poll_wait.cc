// poll(2)/select(2) core (core/include/core/poll.h). Kernel only.
//
//  1. Watch every object (a PollTable entry per request) before the first
//     check, so a change after the check is never missed.
//  2. Loop: clear `triggered`; check every object; done if any is ready.
//     Announce the block, then re-read `triggered` and the interrupt flag
//     (a notifier sets `triggered` before it wakes us: one of us sees the
//     other). Sleep until a notification, the deadline or an interrupt.
//  3. Unwatch everything (unwatch waits out a running notification).
#include <atomic>
#include <new>

#include "core/mm.h"
#include "core/poll.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/event/wait.h"
#include "core/sched/thread.h"

namespace capsule {
namespace {

struct PollTable;

struct PollEntry final : PollWatcher {
  PollTable* table = nullptr;
  uint32_t interest = 0;
  bool on_events(Pollable& source, uint32_t events) override;
};

struct PollTable {
  Thread* thread;
  std::atomic<bool> triggered{false};
};

bool PollEntry::on_events(Pollable&, uint32_t events) {
  if (!(events & interest)) return false;
  table->triggered.store(true);
  return thread_wake(table->thread);
}

constexpr size_t INLINE_WAITS = 8;

}  // namespace

Result<size_t> poll_wait(PollRequest* reqs, size_t n, uint64_t deadline_ns) {
  Thread* self = thread_current();
  PollTable table;
  table.thread = self;
  PollEntry inline_entries[INLINE_WAITS];
  PollEntry* entries = inline_entries;
  if (n > INLINE_WAITS) {
    entries = new (std::nothrow) PollEntry[n];
    if (!entries) return Error::NoMemory;
  }
  for (size_t i = 0; i < n; ++i) {  // step 1
    reqs[i].revents = 0;
    entries[i].table = &table;
    entries[i].interest = reqs[i].events | POLL_ERR | POLL_HUP;
    if (reqs[i].object) reqs[i].object->watch(entries[i]);
  }
  Error err = Error::None;
  size_t ready = 0;
  for (;;) {
    table.triggered.store(false);  // step 2
    ready = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!reqs[i].object) continue;
      reqs[i].revents = reqs[i].object->poll_events() & (reqs[i].events | POLL_ERR | POLL_HUP);
      if (reqs[i].revents) ++ready;
    }
    if (ready) break;
    if (deadline_ns == NO_WAIT || (deadline_ns && uptime_ns() >= deadline_ns)) break;
    sched_prepare_block();
    if (thread_interrupt_pending(self)) {
      event::cancel_block();
      err = Error::Interrupted;
      break;
    }
    if (table.triggered.load()) {
      event::cancel_block();
      continue;
    }
    sched_block(deadline_ns);
    event::cancel_block();
  }
  for (size_t i = 0; i < n; ++i)  // step 3
    if (reqs[i].object) reqs[i].object->unwatch(entries[i]);
  if (entries != inline_entries) delete[] entries;
  if (err != Error::None) return err;
  return ready;
}

}  // namespace capsule
