#pragma once
// Round robin: a FIFO of runnable entities, each running for a fixed quantum
// before going to the back. Weights do not change the order or the quantum;
// they only count towards load() so that the balancer treats both policies
// alike. It is the simplest policy that satisfies the interface, useful for
// predictable latency and as the second strategy that keeps the interface
// honest (nothing in it may assume virtual run time).
#include "core/sched/policy.h"
#include "lib/intrusive_list.h"

namespace capsule::sched {

class RoundRobinPolicy final : public Policy {
 public:
  explicit RoundRobinPolicy(uint64_t quantum_ns = 10'000'000) : quantum_ns_(quantum_ns) {}
  RoundRobinPolicy(const RoundRobinPolicy&) = delete;
  RoundRobinPolicy& operator=(const RoundRobinPolicy&) = delete;

  const char* name() const override { return "round-robin"; }
  void enqueue(SchedEntity& e, Enqueue why) override;
  void dequeue(SchedEntity& e) override;
  SchedEntity* pick_next() override;
  void put_prev(SchedEntity& e, bool runnable) override;
  bool charge(SchedEntity& curr, uint64_t ran_ns) override;
  bool should_preempt_on_wake(const SchedEntity&, const SchedEntity&) const override {
    return false;  // a woken entity waits its turn
  }
  bool yield(SchedEntity& curr) override;
  uint64_t remaining_slice_ns(const SchedEntity& curr) const override;
  void reweight(SchedEntity& e, uint32_t weight) override;
  uint64_t load() const override { return load_; }
  uint32_t nr_running() const override { return uint32_t(queue_.size()) + (curr_ ? 1 : 0); }
  size_t migration_candidates(SchedEntity** out, size_t max) const override;
  void detach(SchedEntity&) override {}  // nothing is relative to this CPU

  uint64_t quantum_ns() const { return quantum_ns_; }

 private:
  using Queue = IntrusiveList<SchedEntity, &SchedEntity::list_node>;

  uint64_t quantum_ns_;
  Queue queue_;
  SchedEntity* curr_ = nullptr;
  uint64_t load_ = 0;
};

}  // namespace capsule::sched
