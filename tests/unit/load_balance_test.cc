#include "core/sched/load_balance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

using namespace capsule::sched;

namespace {

struct World {
  std::vector<SchedEntity> entities;
  std::vector<uint64_t> load;
  std::vector<SchedEntity*> candidates;

  World(uint32_t ncpus, size_t nentities) : entities(nentities), load(ncpus, 0) {}
  void place(size_t i, uint32_t cpu, uint32_t weight = 1024) {
    entities[i].cpu = cpu;
    entities[i].weight = weight;
    load[cpu] += weight;
    candidates.push_back(&entities[i]);
  }
  std::vector<Migration> plan(size_t max = 64) {
    std::vector<Migration> out(max);
    size_t n = plan_migrations(load.data(), uint32_t(load.size()), candidates.data(),
                               candidates.size(), out.data(), max);
    out.resize(n);
    return out;
  }
};

TEST(LoadBalance, EvensOutEqualEntities) {
  World w(4, 8);
  for (size_t i = 0; i < 8; ++i) w.place(i, 0);
  auto m = w.plan();
  EXPECT_EQ(m.size(), 6u);
  for (uint64_t l : w.load) EXPECT_EQ(l, 2048u);
  for (auto& x : m) EXPECT_EQ(x.from, 0u);
}

TEST(LoadBalance, BalancedLoadPlansNothingAndDoesNotSwap) {
  World w(2, 3);
  w.place(0, 0);
  w.place(1, 0);
  w.place(2, 1);
  // 2048 vs 1024: moving one would only mirror the imbalance.
  EXPECT_TRUE(w.plan().empty());
}

TEST(LoadBalance, PinnedEntityNeverMoves) {
  World w(4, 6);
  for (size_t i = 0; i < 6; ++i) {
    w.place(i, 0);
    pin(w.entities[i], 0);
  }
  w.entities[5].affinity = CpuMask::all();  // only this one may go
  auto m = w.plan();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].entity, &w.entities[5]);
}

TEST(LoadBalance, RespectsAffinitySubsets) {
  World w(4, 4);
  CpuMask m01;
  m01.set(0);
  m01.set(1);
  for (size_t i = 0; i < 4; ++i) {
    w.place(i, 0);
    w.entities[i].affinity = m01;
  }
  auto m = w.plan();
  ASSERT_EQ(m.size(), 2u);
  for (auto& x : m) EXPECT_EQ(x.to, 1u);
  EXPECT_EQ(w.load[2], 0u);
  EXPECT_EQ(w.load[3], 0u);
}

TEST(LoadBalance, ForcedMoveWhenAffinityExcludesCurrentCpu) {
  World w(3, 2);
  w.place(0, 0);
  w.place(1, 1);
  w.load[2] = 5000;  // busy with entities that cannot move
  CpuMask only2 = CpuMask::only(2);
  w.entities[0].affinity = only2;  // must leave CPU 0, even to a busier CPU
  auto m = w.plan();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].entity, &w.entities[0]);
  EXPECT_EQ(m[0].to, 2u);
}

TEST(LoadBalance, PrefersTheMoveThatHalvesTheGap) {
  World w(2, 3);
  w.place(0, 0, 3000);
  w.place(1, 0, 1000);
  w.place(2, 0, 200);
  // Loads 4200 / 0. Moving 3000 leaves 1200/3000, moving 1000 leaves
  // 3200/1000; 3000 gives the smaller spread.
  auto m = w.plan(1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].entity, &w.entities[0]);
}

TEST(LoadBalance, RespectsMaxOut) {
  World w(4, 8);
  for (size_t i = 0; i < 8; ++i) w.place(i, 0);
  EXPECT_EQ(w.plan(2).size(), 2u);
}

TEST(LoadBalance, RandomWorldsImproveAndNeverBreakAffinity) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    uint32_t ncpus = 2 + rng() % 7;
    size_t n = 1 + rng() % 30;
    World w(ncpus, n);
    for (size_t i = 0; i < n; ++i) {
      uint32_t cpu = rng() % ncpus;
      w.place(i, cpu, 100 + rng() % 3000);
      if (rng() % 4 == 0) pin(w.entities[i], cpu);
    }
    std::vector<uint64_t> before = w.load;
    auto sq = [](const std::vector<uint64_t>& l) {
      long double s = 0;
      for (auto x : l) s += (long double)x * x;
      return s;
    };
    auto m = w.plan();
    EXPECT_LE(sq(w.load), sq(before));
    uint64_t total_before = 0, total_after = 0;
    for (auto x : before) total_before += x;
    for (auto x : w.load) total_after += x;
    EXPECT_EQ(total_before, total_after);
    for (auto& x : m) {
      EXPECT_TRUE(x.entity->affinity.has(x.to));
      EXPECT_FALSE(x.entity->pinned());
      EXPECT_EQ(x.from, x.entity->cpu);
      EXPECT_EQ(std::count_if(m.begin(), m.end(), [&](auto& y) { return y.entity == x.entity; }), 1);
    }
  }
}

}  // namespace
