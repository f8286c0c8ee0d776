#pragma once
// Per-CPU run queue. Only its own CPU touches the policy (with interrupts
// off), so it needs no lock; other CPUs hand threads over through the
// lock-free wake queue and an IPI. The timer queue has a lock because a
// thread may cancel its sleep timer from another CPU after migrating.
#include <atomic>

#include "core/sched/fair_policy.h"
#include "core/sched/thread.h"
#include "core/time/timer_queue.h"
#include "lib/mpsc_queue.h"

namespace capsule {

struct RunQueue {
  sched::FairPolicy policy;
  MpscQueue<sched::SchedEntity, &sched::SchedEntity::wake_node> wakeq;
  SpinLock timer_lock;
  TimerQueue timers;       // guarded by timer_lock
  Timer slice_timer;       // preemption of the current thread
  Timer balance_timer;     // periodic load balancing while busy
  Timer hung_timer;        // the hung-task detector's check (hung_task.cc)
  bool hung_due = false;   // set by hung_timer, acted on after expire()
  Thread* idle = nullptr;
  uint64_t last_charge_ns = 0;
  uint64_t armed_deadline = TimerQueue::NEVER;  // what the LAPIC timer is set for
  uint64_t switches = 0;
  // Published for other CPUs' load balancing (read without locks).
  std::atomic<uint32_t> nr_running{0};
  std::atomic<uint64_t> load{0};
  // The hung-task detector's view of this CPU (written by its own check).
  std::atomic<uint64_t> hung_tick_ns{0};       // last check on this CPU
  uint64_t hung_switches_seen = 0;             // switches at the last change
  std::atomic<uint64_t> hung_switch_change_ns{0};  // when they last changed
  bool hung_cpu_reported = false;
};

// core/sched/hung_task.cc: the check each CPU's hung_timer runs (interrupts
// off, outside timer_lock), and its period (0: the detector is off).
void hung_task_tick(struct PerCpu* c);
uint64_t hung_task_period_ns();

}  // namespace capsule
