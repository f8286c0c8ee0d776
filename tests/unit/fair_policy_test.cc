#include "core/sched/fair_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sched_sim.h"

using namespace capsule::sched;
using capsule::sched::test::SimCpu;

namespace {

constexpr uint64_t MS = 1'000'000;
constexpr uint64_t SEC = 1000 * MS;

TEST(Weights, NiceTableIsGeometric) {
  EXPECT_EQ(nice_to_weight(0), 1024u);
  for (int n = NICE_MIN; n <= NICE_MAX; ++n)  // 1024 * 1.25^-n, rounded
    EXPECT_NEAR(double(nice_to_weight(n)), 1024.0 * std::pow(1.25, -n), 0.5) << "nice " << n;
  EXPECT_EQ(nice_to_weight(-100), nice_to_weight(-20));  // clamped
  EXPECT_EQ(nice_to_weight(100), nice_to_weight(19));
}

TEST(FairPolicy, EqualWeightsGetEqualCpu) {
  FairPolicy p;
  SimCpu cpu(p);
  SchedEntity e[4];
  for (auto& x : e) p.enqueue(x, Enqueue::New);
  cpu.run_for(2 * SEC);
  for (auto& x : e) {
    // Within one slice (1 ms here: 4 ms latency / 4) of an exact quarter.
    EXPECT_NEAR(double(x.sum_exec_ns), 0.5 * SEC, 1.0 * MS);
  }
  EXPECT_EQ(p.nr_running(), 4u);
  EXPECT_EQ(p.load(), 4u * 1024);
}

TEST(FairPolicy, TwoToOneWeightsGetTwoToOneCpu) {
  FairPolicy p;
  SimCpu cpu(p);
  SchedEntity heavy, light;
  p.reweight(heavy, 2048);
  p.reweight(light, 1024);
  p.enqueue(heavy, Enqueue::New);
  p.enqueue(light, Enqueue::New);
  cpu.run_for(3 * SEC);
  EXPECT_NEAR(double(heavy.sum_exec_ns) / light.sum_exec_ns, 2.0, 0.01);
  EXPECT_EQ(heavy.sum_exec_ns + light.sum_exec_ns, 3 * SEC);
}

TEST(FairPolicy, NiceLevelsSetTheShare) {
  FairPolicy p;
  SimCpu cpu(p);
  SchedEntity hi, lo, mid;
  p.set_nice(hi, -5);
  p.set_nice(lo, 5);
  p.enqueue(hi, Enqueue::New);
  p.enqueue(mid, Enqueue::New);
  p.enqueue(lo, Enqueue::New);
  cpu.run_for(5 * SEC);
  double want_hi_lo = double(nice_to_weight(-5)) / nice_to_weight(5);  // ~9.3
  EXPECT_NEAR(double(hi.sum_exec_ns) / lo.sum_exec_ns, want_hi_lo, want_hi_lo * 0.03);
  EXPECT_GT(hi.sum_exec_ns, mid.sum_exec_ns);
  EXPECT_GT(mid.sum_exec_ns, lo.sum_exec_ns);
  // Even the lightest entity is never starved.
  EXPECT_GT(lo.sum_exec_ns, 0u);
}

TEST(FairPolicy, SliceFollowsLatencyAndGranularity) {
  FairPolicy p;  // 4 ms latency, 0.5 ms granularity
  SchedEntity e[16];
  p.enqueue(e[0], Enqueue::New);
  EXPECT_EQ(p.slice_ns(e[0]), 4 * MS);  // alone: the whole period
  p.enqueue(e[1], Enqueue::New);
  EXPECT_EQ(p.slice_ns(e[0]), 2 * MS);
  for (int i = 2; i < 16; ++i) p.enqueue(e[i], Enqueue::New);
  // 16 * 0.5 ms > 4 ms: the period stretches to 8 ms, slices stay 0.5 ms.
  EXPECT_EQ(p.slice_ns(e[0]), MS / 2);
}

TEST(FairPolicy, AloneMeansNoTimer) {
  FairPolicy p;
  SchedEntity e;
  p.enqueue(e, Enqueue::New);
  SchedEntity* c = p.pick_next();
  ASSERT_EQ(c, &e);
  EXPECT_EQ(p.remaining_slice_ns(e), NO_PREEMPTION);  // tickless
  EXPECT_FALSE(p.charge(e, 100 * MS));               // nobody to preempt for
  SchedEntity other;
  p.enqueue(other, Enqueue::New);
  EXPECT_EQ(p.remaining_slice_ns(e), 0u);  // slice long over: switch at once
  EXPECT_TRUE(p.charge(e, 1));
}

TEST(FairPolicy, WokenSleeperGetsBoundedCredit) {
  FairPolicy p;
  SimCpu cpu(p);
  SchedEntity a, b, sleeper;
  p.enqueue(a, Enqueue::New);
  p.enqueue(b, Enqueue::New);
  p.enqueue(sleeper, Enqueue::New);
  cpu.run_for(30 * MS);
  // The sleeper blocks the next time it runs, then sleeps for 10 s while a
  // and b run.
  while (cpu.curr != &sleeper) cpu.run_for(MS / 2);
  cpu.block_current();
  cpu.run_for(10 * SEC);
  uint64_t before = sleeper.sum_exec_ns;

  cpu.wake(sleeper);  // CPU-bound from now on
  EXPECT_EQ(cpu.curr, nullptr) << "a woken sleeper should preempt";
  cpu.run_for(100 * MS);
  uint64_t got = sleeper.sum_exec_ns - before;
  // Fair share of 100 ms is 33 ms; the credit buys at most sleeper_credit
  // (2 ms) plus a slice more. It must not have taken the whole 100 ms.
  EXPECT_GT(got, 30 * MS);
  EXPECT_LT(got, 33 * MS + 2 * MS + 2 * MS);
  // And over a longer run the three are even again.
  cpu.run_for(1 * SEC);
  uint64_t sa = a.sum_exec_ns, sb = b.sum_exec_ns;
  EXPECT_NEAR(double(sa), double(sb), 2.0 * MS);
}

TEST(FairPolicy, ShortSleeperKeepsItsPlaceButNoMore) {
  FairPolicy p;
  SchedEntity hog, io;
  p.enqueue(hog, Enqueue::New);
  p.enqueue(io, Enqueue::New);
  SimCpu cpu(p);
  // io runs 0.1 ms then sleeps 1 ms, repeatedly; the hog is CPU-bound. An
  // I/O-bound entity should get all the CPU it asks for (~9%) with low
  // latency, and the hog the rest.
  for (int i = 0; i < 1000; ++i) {
    while (cpu.curr != &io) {
      if (!io.queued && !io.running) cpu.wake(io);
      cpu.run_for(10'000);
    }
    cpu.run_for(100'000);
    if (cpu.curr == &io) cpu.block_current();
    cpu.run_for(MS);
  }
  double io_share = double(io.sum_exec_ns) / cpu.now;
  EXPECT_GT(io_share, 0.07);
  EXPECT_LT(io_share, 0.12);
  EXPECT_GT(double(hog.sum_exec_ns) / cpu.now, 0.85);
}

TEST(FairPolicy, NewEntityStartsAtTheFloor) {
  FairPolicy p;
  SimCpu cpu(p);
  SchedEntity a, b;
  p.enqueue(a, Enqueue::New);
  cpu.run_for(1 * SEC);
  p.enqueue(b, Enqueue::New);
  // b did not inherit a second of credit: the two split from now on.
  uint64_t a0 = a.sum_exec_ns;
  cpu.run_for(1 * SEC);
  EXPECT_NEAR(double(a.sum_exec_ns - a0), double(b.sum_exec_ns), 4.0 * MS);
}

TEST(FairPolicy, YieldLetsEveryoneWaitingRunFirst) {
  FairPolicy p;
  SchedEntity e[3];
  for (auto& x : e) p.enqueue(x, Enqueue::New);
  SchedEntity* first = p.pick_next();
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(p.yield(*first));
  p.put_prev(*first, true);
  SchedEntity* second = p.pick_next();
  EXPECT_NE(second, first);
  p.charge(*second, MS);
  p.put_prev(*second, true);
  SchedEntity* third = p.pick_next();
  EXPECT_NE(third, first);
  EXPECT_NE(third, second);
  p.charge(*third, MS);
  p.put_prev(*third, true);
  EXPECT_EQ(p.pick_next(), first);
}

TEST(FairPolicy, YieldAloneKeepsRunning) {
  FairPolicy p;
  SchedEntity e;
  p.enqueue(e, Enqueue::New);
  ASSERT_EQ(p.pick_next(), &e);
  EXPECT_FALSE(p.yield(e));
}

TEST(FairPolicy, BlockAndWakeKeepLoadRight) {
  FairPolicy p;
  SchedEntity a, b;
  p.set_nice(b, 5);
  p.enqueue(a, Enqueue::New);
  p.enqueue(b, Enqueue::New);
  EXPECT_EQ(p.load(), 1024u + nice_to_weight(5));
  SchedEntity* c = p.pick_next();
  p.put_prev(*c, false);
  EXPECT_EQ(p.load(), c == &a ? nice_to_weight(5) : 1024u);
  EXPECT_EQ(p.nr_running(), 1u);
  p.enqueue(*c, Enqueue::Wakeup);
  EXPECT_EQ(p.load(), 1024u + nice_to_weight(5));
  p.set_nice(a, 0);  // no change
  p.set_nice(b, 0);
  EXPECT_EQ(p.load(), 2048u);
}

TEST(FairPolicy, MigrationCarriesLagNotAbsoluteTime) {
  // Two CPUs whose clocks of virtual time are far apart.
  FairPolicy src(FairTunables{}, 0);
  FairPolicy dst(FairTunables{}, 1'000'000 * SEC);
  SchedEntity a, b, x;
  src.enqueue(a, Enqueue::New);
  src.enqueue(b, Enqueue::New);
  dst.enqueue(x, Enqueue::New);
  SimCpu s(src), d(dst);
  s.run_for(100 * MS);
  d.run_for(100 * MS);
  s.reschedule();
  // Move whichever is waiting on src to dst.
  SchedEntity* cand[4];
  ASSERT_EQ(src.migration_candidates(cand, 4), 2u);
  SchedEntity* m = cand[0];
  src.dequeue(*m);
  src.detach(*m);
  m->cpu = 1;
  dst.enqueue(*m, Enqueue::Migrated);
  // It lands near dst's floor, neither starving nor starved.
  EXPECT_LT(int64_t(m->vruntime - dst.min_vruntime()), int64_t(5 * MS));
  EXPECT_GT(int64_t(m->vruntime - dst.min_vruntime()), -int64_t(5 * MS));
  uint64_t x0 = x.sum_exec_ns, m0 = m->sum_exec_ns;
  d.run_for(1 * SEC);
  EXPECT_NEAR(double(x.sum_exec_ns - x0), double(m->sum_exec_ns - m0), 5.0 * MS);
}

TEST(FairPolicy, FairAcrossVruntimeWrapAround) {
  FairPolicy p(FairTunables{}, UINT64_MAX - 50 * MS);
  SimCpu cpu(p);
  SchedEntity e[3];
  for (auto& x : e) p.enqueue(x, Enqueue::New);
  cpu.run_for(1 * SEC);  // vruntime wraps past 2^64 during this
  for (auto& x : e) EXPECT_NEAR(double(x.sum_exec_ns), SEC / 3.0, 2.0 * MS);
}

TEST(FairPolicy, MigrationCandidatesAreLongestWaitersFirst) {
  FairPolicy p;
  SimCpu cpu(p);
  SchedEntity e[3];
  for (auto& x : e) p.enqueue(x, Enqueue::New);
  cpu.run_for(3 * MS);
  SchedEntity* cand[3];
  size_t n = p.migration_candidates(cand, 3);
  ASSERT_EQ(n, 2u);  // the running one is not a candidate
  EXPECT_NE(cand[0], cpu.curr);
  EXPECT_NE(cand[1], cpu.curr);
  EXPECT_FALSE(int64_t(cand[0]->vruntime - cand[1]->vruntime) < 0);
}

}  // namespace
