#pragma once
// The scheduling policy interface: a strategy object owned by each per-CPU
// run queue. The run queue holds the lock, the clock and the context
// switch; the policy only decides who runs next and for how long. Policies
// see time as deltas handed to charge(), so they are pure logic and are
// tested on the host with simulated time.
//
// Life of an entity on one CPU:
//
//   enqueue(e, New|Wakeup|Migrated)   runnable, waiting
//   pick_next() -> e                  running ("current"), off the queue
//   charge(e, ns) -> preempt?         called from the timer / at switch
//   put_prev(e, runnable)             stops running: back to the queue
//                                     (preempted, yielded) or off it (blocked)
//   dequeue(e)                        waiting entity removed (migrating away,
//                                     affinity change, exit)
//   detach(e)                         before it is enqueued on another CPU
//
// All calls for one run queue happen under that run queue's lock.
#include <cstddef>
#include <cstdint>

#include "core/sched/entity.h"
#include "core/sched/weight.h"

namespace capsule::sched {

enum class Enqueue : uint8_t {
  New,       // first time runnable
  Wakeup,    // was blocked (sleep, wait queue)
  Migrated,  // moved here by the load balancer or an affinity change
};

inline constexpr uint64_t NO_PREEMPTION = UINT64_MAX;

class Policy {
 public:
  virtual const char* name() const = 0;

  virtual void enqueue(SchedEntity& e, Enqueue why) = 0;
  virtual void dequeue(SchedEntity& e) = 0;

  // Takes the entity to run next off the queue and makes it current.
  // nullptr: nothing runnable, the CPU idles. Only when no entity is current.
  virtual SchedEntity* pick_next() = 0;
  // The current entity stops running. runnable=false: it blocked.
  virtual void put_prev(SchedEntity& e, bool runnable) = 0;

  // Charges `ran_ns` of CPU time to the current entity. True when it should
  // be preempted: its slice is used up and another entity is waiting.
  virtual bool charge(SchedEntity& curr, uint64_t ran_ns) = 0;
  // After enqueue(woken, Wakeup): should it preempt `curr` right away?
  virtual bool should_preempt_on_wake(const SchedEntity& curr,
                                      const SchedEntity& woken) const = 0;
  // sched_yield(): true when another entity should run now (the caller then
  // does put_prev(curr, true) and pick_next()); false: nobody else waits,
  // keep running.
  virtual bool yield(SchedEntity& curr) = 0;
  // How long `curr` may still run before charge() would preempt it; the run
  // queue programs its one-shot timer with this. NO_PREEMPTION when nothing
  // else is runnable: no tick at all (tickless).
  virtual uint64_t remaining_slice_ns(const SchedEntity& curr) const = 0;

  // Changes the weight of an entity in any state.
  virtual void reweight(SchedEntity& e, uint32_t weight) = 0;
  void set_nice(SchedEntity& e, int nice) {
    e.nice = clamp_nice(nice);
    reweight(e, nice_to_weight(e.nice));
  }

  // For balancing: sum of the weights of queued and current entities.
  virtual uint64_t load() const = 0;
  virtual uint32_t nr_running() const = 0;  // queued + current
  // Up to `max` waiting entities, best to give away first.
  virtual size_t migration_candidates(SchedEntity** out, size_t max) const = 0;
  // e is neither queued nor current here and is about to be enqueued on
  // another CPU's policy: convert whatever is relative to this CPU.
  virtual void detach(SchedEntity& e) = 0;

 protected:
  // Policies live inside run queues and are never deleted through this
  // interface (no operator delete needed in the kernel).
  ~Policy() = default;
};

}  // namespace capsule::sched
