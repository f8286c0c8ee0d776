#pragma once
// A one-CPU run queue in simulated time, driving a Policy the way the
// kernel's run queue will: pick, run until the slice ends (the one-shot
// timer), charge, put back. Used by the policy tests.
#include <algorithm>
#include <cstdint>

#include "core/sched/policy.h"

namespace capsule::sched::test {

struct SimCpu {
  explicit SimCpu(Policy& p) : policy(p) {}

  Policy& policy;
  SchedEntity* curr = nullptr;
  uint64_t now = 0;
  uint64_t switches = 0;
  uint64_t max_tick_ns = 1'000'000;  // the timer fires at least this often

  void reschedule() {
    if (curr) policy.put_prev(*curr, true);
    curr = nullptr;
  }

  // Runs for `duration` ns of simulated time.
  void run_for(uint64_t duration) {
    uint64_t end = now + duration;
    while (now < end) {
      if (!curr) {
        curr = policy.pick_next();
        ++switches;
        if (!curr) {  // idle
          now = end;
          return;
        }
      }
      uint64_t dt = std::min({policy.remaining_slice_ns(*curr), max_tick_ns, end - now});
      if (dt == 0) dt = 1;
      now += dt;
      if (policy.charge(*curr, dt)) reschedule();
    }
  }

  // The current entity blocks.
  void block_current() {
    if (!curr) return;
    policy.put_prev(*curr, false);
    curr = nullptr;
  }

  // Wakes e here; preempts the current entity if the policy says so.
  void wake(SchedEntity& e) {
    policy.enqueue(e, Enqueue::Wakeup);
    if (curr && policy.should_preempt_on_wake(*curr, e)) reschedule();
  }
};

}  // namespace capsule::sched::test
