#include "core/sched/round_robin_policy.h"

#include <gtest/gtest.h>

#include <vector>

#include "sched_sim.h"

using namespace capsule::sched;
using capsule::sched::test::SimCpu;

namespace {

constexpr uint64_t MS = 1'000'000;

TEST(RoundRobinPolicy, RotatesInFifoOrderWithFixedQuantum) {
  RoundRobinPolicy p(10 * MS);
  SchedEntity e[3];
  for (auto& x : e) p.enqueue(x, Enqueue::New);
  std::vector<SchedEntity*> order;
  for (int i = 0; i < 6; ++i) {
    SchedEntity* c = p.pick_next();
    order.push_back(c);
    EXPECT_EQ(p.remaining_slice_ns(*c), 10 * MS);
    EXPECT_FALSE(p.charge(*c, 9 * MS));
    EXPECT_TRUE(p.charge(*c, 1 * MS));
    p.put_prev(*c, true);
  }
  EXPECT_EQ(order, (std::vector<SchedEntity*>{&e[0], &e[1], &e[2], &e[0], &e[1], &e[2]}));
}

TEST(RoundRobinPolicy, EqualCpuRegardlessOfWeight) {
  RoundRobinPolicy p(5 * MS);
  SimCpu cpu(p);
  SchedEntity a, b;
  p.set_nice(a, -10);  // weight only counts as load
  p.enqueue(a, Enqueue::New);
  p.enqueue(b, Enqueue::New);
  cpu.run_for(1000 * MS);
  EXPECT_EQ(a.sum_exec_ns, 500 * MS);
  EXPECT_EQ(b.sum_exec_ns, 500 * MS);
  EXPECT_EQ(p.load(), nice_to_weight(-10) + 1024u);
}

TEST(RoundRobinPolicy, YieldGoesToTheBack) {
  RoundRobinPolicy p;
  SchedEntity e[3];
  for (auto& x : e) p.enqueue(x, Enqueue::New);
  SchedEntity* c = p.pick_next();
  ASSERT_EQ(c, &e[0]);
  ASSERT_TRUE(p.yield(*c));
  p.put_prev(*c, true);
  EXPECT_EQ(p.pick_next(), &e[1]);
}

TEST(RoundRobinPolicy, PreemptedEarlyKeepsItsTurn) {
  RoundRobinPolicy p(10 * MS);
  SchedEntity a, b;
  p.enqueue(a, Enqueue::New);
  p.enqueue(b, Enqueue::New);
  SchedEntity* c = p.pick_next();
  p.charge(*c, 3 * MS);
  p.put_prev(*c, true);  // e.g. an explicit reschedule
  EXPECT_EQ(p.pick_next(), c);
}

TEST(RoundRobinPolicy, TicklessWhenAlone) {
  RoundRobinPolicy p;
  SchedEntity a;
  p.enqueue(a, Enqueue::New);
  p.pick_next();
  EXPECT_EQ(p.remaining_slice_ns(a), NO_PREEMPTION);
  EXPECT_FALSE(p.yield(a));
}

}  // namespace
