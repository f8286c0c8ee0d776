#include "core/sched/round_robin_policy.h"

namespace capsule::sched {

void RoundRobinPolicy::enqueue(SchedEntity& e, Enqueue) {
  e.detached = false;
  e.queued = true;
  e.slice_exec_ns = 0;
  queue_.push_back(e);
  load_ += e.weight;
}

void RoundRobinPolicy::dequeue(SchedEntity& e) {
  queue_.remove(e);
  e.queued = false;
  load_ -= e.weight;
}

SchedEntity* RoundRobinPolicy::pick_next() {
  SchedEntity* e = queue_.pop_front();
  if (!e) return nullptr;
  e->queued = false;
  e->running = true;
  e->slice_exec_ns = 0;
  curr_ = e;
  return e;
}

void RoundRobinPolicy::put_prev(SchedEntity& e, bool runnable) {
  curr_ = nullptr;
  e.running = false;
  if (runnable) {
    // A preempted entity whose quantum is not used up (woken entity, explicit
    // reschedule) keeps its place at the front; otherwise it goes last.
    e.queued = true;
    if (e.slice_exec_ns < quantum_ns_)
      queue_.push_front(e);
    else
      queue_.push_back(e);
  } else {
    load_ -= e.weight;
  }
}

bool RoundRobinPolicy::charge(SchedEntity& curr, uint64_t ran_ns) {
  curr.sum_exec_ns += ran_ns;
  curr.slice_exec_ns += ran_ns;
  return !queue_.empty() && curr.slice_exec_ns >= quantum_ns_;
}

bool RoundRobinPolicy::yield(SchedEntity& curr) {
  if (queue_.empty()) return false;
  curr.slice_exec_ns = quantum_ns_;  // put_prev sends it to the back
  return true;
}

uint64_t RoundRobinPolicy::remaining_slice_ns(const SchedEntity& curr) const {
  if (queue_.empty()) return NO_PREEMPTION;
  return curr.slice_exec_ns >= quantum_ns_ ? 0 : quantum_ns_ - curr.slice_exec_ns;
}

void RoundRobinPolicy::reweight(SchedEntity& e, uint32_t weight) {
  if (weight == 0) weight = 1;
  if (e.queued || e.running) load_ = load_ - e.weight + weight;
  e.weight = weight;
}

size_t RoundRobinPolicy::migration_candidates(SchedEntity** out, size_t max) const {
  // From the back: the ones that would wait longest here.
  size_t n = 0;
  // The list has no const iterator; this walk only reads.
  auto& q = const_cast<Queue&>(queue_);
  for (auto it = q.end(); it != q.begin() && n < max;) {
    --it;
    out[n++] = &*it;
  }
  return n;
}

}  // namespace capsule::sched
