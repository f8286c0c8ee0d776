#pragma once
// SchedEntity: what the scheduler knows about a thread. It is embedded in
// the Thread object (no allocation when a thread becomes runnable) and is
// only touched under the lock of the run queue it is on (entity.cpu), except
// wake_node, which any CPU may push onto that CPU's wake queue.
#include <cstdint>

#include "core/sched/cpu_mask.h"
#include "core/sched/weight.h"
#include "lib/intrusive_list.h"
#include "lib/mpsc_queue.h"
#include "lib/rbtree.h"

namespace capsule::sched {

struct SchedEntity {
  // Priority and placement, set by the thread's owner.
  int nice = 0;
  uint32_t weight = NICE_ZERO_WEIGHT;  // from nice; use Policy::set_nice()
  CpuMask affinity = CpuMask::all();  // CPUs it may run on

  // The run queue this entity is on or last ran on.
  uint32_t cpu = 0;

  // Fair policy: weighted run time in nice-0 nanoseconds, on the time base
  // of the run queue it is on. While `detached` the entity belongs to no
  // time base and `lag` (vruntime - that queue's min_vruntime when it left)
  // carries its position instead; see FairPolicy::detach().
  uint64_t vruntime = 0;
  int64_t lag = 0;
  bool detached = true;  // a new entity has no time base yet

  bool queued = false;   // waiting in a policy's queue (not running)
  bool running = false;  // the policy's current entity

  // Accounting: total CPU time, and time since it was last picked.
  uint64_t sum_exec_ns = 0;
  uint64_t slice_exec_ns = 0;

  RbNode run_node;     // FairPolicy's timeline
  ListNode list_node;  // RoundRobinPolicy's queue
  MpscNode wake_node;  // cross-CPU wake-up hand-off

  bool pinned() const { return affinity.count() == 1; }
  // Affinity changed so that this CPU is no longer allowed.
  bool must_move() const { return !affinity.has(cpu); }
};

// Pin to one CPU / allow all again. The caller migrates the entity if
// must_move() becomes true (the load balancer also does so).
inline void pin(SchedEntity& e, uint32_t cpu) { e.affinity = CpuMask::only(cpu); }
inline void unpin(SchedEntity& e) { e.affinity = CpuMask::all(); }

}  // namespace capsule::sched
