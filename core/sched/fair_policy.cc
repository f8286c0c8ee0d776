#include "core/sched/fair_policy.h"

namespace capsule::sched {
namespace {

bool before(uint64_t a, uint64_t b) { return int64_t(a - b) < 0; }
uint64_t later_of(uint64_t a, uint64_t b) { return before(a, b) ? b : a; }

}  // namespace

uint64_t FairPolicy::to_virtual(uint64_t ns, uint32_t weight) {
  // Cap one charge at 2^53 ns (104 days) so ns * 1024 fits in 64 bits.
  constexpr uint64_t MAX_CHARGE = uint64_t(1) << 53;
  if (ns > MAX_CHARGE) ns = MAX_CHARGE;
  if (weight == 0) weight = 1;
  return ns * NICE_ZERO_WEIGHT / weight;
}

void FairPolicy::update_min_vruntime() {
  // The floor is the smallest vruntime among runnable entities, but it never
  // moves backwards (a newcomer placed behind it must not drag it down).
  SchedEntity* left = timeline_.first();
  if (!curr_ && !left) return;
  uint64_t floor;
  if (curr_ && left)
    floor = before(curr_->vruntime, left->vruntime) ? curr_->vruntime : left->vruntime;
  else
    floor = curr_ ? curr_->vruntime : left->vruntime;
  min_vruntime_ = later_of(min_vruntime_, floor);
}

void FairPolicy::place(SchedEntity& e, Enqueue why) {
  if (e.detached) {
    e.vruntime = min_vruntime_ + uint64_t(e.lag);
    e.detached = false;
  }
  switch (why) {
    case Enqueue::New:
      // Start level with the others: no credit, no debt.
      e.vruntime = later_of(e.vruntime, min_vruntime_);
      break;
    case Enqueue::Wakeup:
      // A sleeper keeps what it was owed, but at most sleeper_credit behind
      // the floor: enough to get on the CPU quickly after I/O, not enough to
      // monopolize it after a long sleep.
      e.vruntime = later_of(e.vruntime, min_vruntime_ - tun_.sleeper_credit_ns);
      break;
    case Enqueue::Migrated:
      // Its lag moved with it; bound how far behind it may land.
      e.vruntime = later_of(e.vruntime, min_vruntime_ - tun_.latency_ns);
      break;
  }
}

void FairPolicy::enqueue(SchedEntity& e, Enqueue why) {
  place(e, why);
  e.queued = true;
  e.slice_exec_ns = 0;
  timeline_.insert(e);
  load_ += e.weight;
  update_min_vruntime();
}

void FairPolicy::dequeue(SchedEntity& e) {
  timeline_.remove(e);
  e.queued = false;
  load_ -= e.weight;
  update_min_vruntime();
}

SchedEntity* FairPolicy::pick_next() {
  SchedEntity* e = timeline_.pop_first();
  if (!e) return nullptr;
  e->queued = false;
  e->running = true;
  e->slice_exec_ns = 0;
  curr_ = e;  // still counted in load_
  return e;
}

void FairPolicy::put_prev(SchedEntity& e, bool runnable) {
  curr_ = nullptr;
  e.running = false;
  if (runnable) {
    e.queued = true;
    timeline_.insert(e);
  } else {
    load_ -= e.weight;
  }
  update_min_vruntime();
}

uint64_t FairPolicy::slice_ns(const SchedEntity& e) const {
  uint64_t nr = nr_running();
  if (!e.queued && !e.running) ++nr;  // asking about an entity not yet here
  uint64_t total = load_ + (e.queued || e.running ? 0 : e.weight);
  // Stretch the period once min_granularity * nr exceeds the target.
  uint64_t period = tun_.latency_ns;
  if (nr * tun_.min_granularity_ns > period) period = nr * tun_.min_granularity_ns;
  uint64_t slice = total ? period / total * e.weight + period % total * e.weight / total : period;
  return slice < tun_.min_granularity_ns ? tun_.min_granularity_ns : slice;
}

bool FairPolicy::charge(SchedEntity& curr, uint64_t ran_ns) {
  curr.vruntime += to_virtual(ran_ns, curr.weight);
  curr.sum_exec_ns += ran_ns;
  curr.slice_exec_ns += ran_ns;
  update_min_vruntime();
  return !timeline_.empty() && curr.slice_exec_ns >= slice_ns(curr);
}

uint64_t FairPolicy::remaining_slice_ns(const SchedEntity& curr) const {
  if (timeline_.empty()) return NO_PREEMPTION;
  uint64_t slice = slice_ns(curr);
  return curr.slice_exec_ns >= slice ? 0 : slice - curr.slice_exec_ns;
}

bool FairPolicy::should_preempt_on_wake(const SchedEntity& curr, const SchedEntity& woken) const {
  // Only when the woken entity is clearly owed CPU: a margin keeps a stream
  // of short wake-ups from switching on every single one.
  uint64_t margin = to_virtual(tun_.wakeup_granularity_ns, woken.weight);
  return before(woken.vruntime + margin, curr.vruntime);
}

bool FairPolicy::yield(SchedEntity& curr) {
  SchedEntity* last = timeline_.last();
  if (!last) return false;
  // Go behind every entity waiting now (ties go after equals in the tree).
  // This costs the yielder at most one round of virtual time, which is what
  // sched_yield() asks for: "let the others run first".
  curr.vruntime = later_of(curr.vruntime, last->vruntime);
  return true;
}

void FairPolicy::reweight(SchedEntity& e, uint32_t weight) {
  if (weight == 0) weight = 1;
  if (e.queued || e.running) load_ = load_ - e.weight + weight;
  // vruntime is the tree key and does not depend on the weight: no re-sort.
  e.weight = weight;
}

size_t FairPolicy::migration_candidates(SchedEntity** out, size_t max) const {
  // Rightmost first: those would wait longest here, and have run least
  // recently, so their caches are the coldest.
  size_t n = 0;
  for (SchedEntity* e = timeline_.last(); e && n < max; e = Timeline::prev(*e)) out[n++] = e;
  return n;
}

void FairPolicy::detach(SchedEntity& e) {
  if (e.detached) return;
  e.lag = int64_t(e.vruntime - min_vruntime_);
  e.detached = true;
}

}  // namespace capsule::sched
