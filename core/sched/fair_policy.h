#pragma once
// The default policy: weighted fair sharing by virtual run time.
//
// Each entity's vruntime advances by ran_ns * 1024 / weight, so a heavier
// entity ages more slowly; always running the entity with the smallest
// vruntime gives every entity CPU in proportion to its weight. Waiting
// entities sit in a red-black tree keyed by vruntime (leftmost = next).
//
// min_vruntime is a monotonic floor under every runnable entity's vruntime.
// Entities arriving from outside (new, woken, migrated) are placed relative
// to it, so a long sleeper cannot come back with unbounded credit (it gets at
// most sleeper_credit_ns ahead) and a newcomer cannot starve the others.
//
// Slices: every runnable entity should run once per `latency_ns`; with many
// entities the period stretches so no slice is below `min_granularity_ns`.
// An entity's slice is its weight's share of that period. All numbers are
// explained in docs/scheduler.md.
#include "core/sched/policy.h"
#include "lib/rbtree.h"

namespace capsule::sched {

struct FairTunables {
  uint64_t latency_ns = 4'000'000;          // target period for all to run once
  uint64_t min_granularity_ns = 500'000;    // shortest slice
  uint64_t wakeup_granularity_ns = 500'000; // lead a woken entity needs to preempt
  uint64_t sleeper_credit_ns = 2'000'000;   // most a sleeper may be placed behind min
};

class FairPolicy final : public Policy {
 public:
  explicit FairPolicy(const FairTunables& t = {}, uint64_t initial_min_vruntime = 0)
      : tun_(t), min_vruntime_(initial_min_vruntime) {}
  FairPolicy(const FairPolicy&) = delete;
  FairPolicy& operator=(const FairPolicy&) = delete;

  const char* name() const override { return "fair"; }
  void enqueue(SchedEntity& e, Enqueue why) override;
  void dequeue(SchedEntity& e) override;
  SchedEntity* pick_next() override;
  void put_prev(SchedEntity& e, bool runnable) override;
  bool charge(SchedEntity& curr, uint64_t ran_ns) override;
  bool should_preempt_on_wake(const SchedEntity& curr, const SchedEntity& woken) const override;
  bool yield(SchedEntity& curr) override;
  uint64_t remaining_slice_ns(const SchedEntity& curr) const override;
  void reweight(SchedEntity& e, uint32_t weight) override;
  uint64_t load() const override { return load_; }
  uint32_t nr_running() const override { return uint32_t(timeline_.size()) + (curr_ ? 1 : 0); }
  size_t migration_candidates(SchedEntity** out, size_t max) const override;
  void detach(SchedEntity& e) override;

  uint64_t min_vruntime() const { return min_vruntime_; }
  // The slice `e` gets with the current set of runnable entities.
  uint64_t slice_ns(const SchedEntity& e) const;
  const FairTunables& tunables() const { return tun_; }

 private:
  // vruntime compares by signed difference so that wrap-around (after ~8
  // years of nice-19 time) does not reorder the timeline.
  struct ByVruntime {
    bool operator()(const SchedEntity& a, const SchedEntity& b) const {
      return int64_t(a.vruntime - b.vruntime) < 0;
    }
  };
  using Timeline = IntrusiveRbTree<SchedEntity, &SchedEntity::run_node, ByVruntime>;

  void update_min_vruntime();
  void place(SchedEntity& e, Enqueue why);
  // Nice-0 nanoseconds → this weight's virtual nanoseconds.
  static uint64_t to_virtual(uint64_t ns, uint32_t weight);

  FairTunables tun_;
  Timeline timeline_;
  SchedEntity* curr_ = nullptr;
  uint64_t min_vruntime_;
  uint64_t load_ = 0;
};

}  // namespace capsule::sched
