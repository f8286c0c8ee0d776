#include "core/time/timer_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

using capsule::Error;
using capsule::Timer;
using capsule::TimerQueue;

namespace {

// Records which timers fired, in order.
struct Log {
  std::vector<int> fired;
  std::vector<uint64_t> at;
};

struct TestTimer {
  Timer t;
  int id = 0;
  Log* log = nullptr;
  // Optional behaviour inside the callback.
  void (*then)(TestTimer&, uint64_t now) = nullptr;
  TimerQueue* q = nullptr;
  TestTimer* other = nullptr;
  int count = 0;

  TestTimer(int id_, Log* l, TimerQueue* q_ = nullptr) : id(id_), log(l), q(q_) {
    t.context = this;
    t.callback = [](Timer& tm, uint64_t now) {
      auto* self = static_cast<TestTimer*>(tm.context);
      self->log->fired.push_back(self->id);
      self->log->at.push_back(now);
      ++self->count;
      if (self->then) self->then(*self, now);
    };
  }
};

TEST(TimerQueue, EmptyMeansNoDeadline) {
  TimerQueue q;
  EXPECT_EQ(q.next_deadline(), TimerQueue::NEVER);
  EXPECT_EQ(q.expire(1'000'000), 0u);
}

TEST(TimerQueue, FiresInDeadlineOrderOnlyWhenDue) {
  TimerQueue q;
  Log log;
  TestTimer a(1, &log), b(2, &log), c(3, &log);
  ASSERT_TRUE(q.arm(c.t, 300).ok());
  ASSERT_TRUE(q.arm(a.t, 100).ok());
  ASSERT_TRUE(q.arm(b.t, 200).ok());
  EXPECT_EQ(q.next_deadline(), 100u);
  EXPECT_EQ(q.expire(99), 0u);
  EXPECT_EQ(q.expire(250), 2u);
  EXPECT_EQ(log.fired, (std::vector<int>{1, 2}));
  EXPECT_FALSE(a.t.armed());
  EXPECT_TRUE(c.t.armed());
  EXPECT_EQ(q.next_deadline(), 300u);
  EXPECT_EQ(q.expire(300), 1u);  // deadline == now is due
  EXPECT_EQ(q.next_deadline(), TimerQueue::NEVER);
}

TEST(TimerQueue, SameDeadlineFiresInArmOrder) {
  TimerQueue q;
  Log log;
  std::vector<std::unique_ptr<TestTimer>> ts;
  for (int i = 0; i < 10; ++i) {
    ts.push_back(std::make_unique<TestTimer>(i, &log));
    ASSERT_TRUE(q.arm(ts.back()->t, 500).ok());
  }
  // Re-arming moves a timer behind its equals.
  ASSERT_TRUE(q.arm(ts[3]->t, 500).ok());
  q.expire(500);
  EXPECT_EQ(log.fired, (std::vector<int>{0, 1, 2, 4, 5, 6, 7, 8, 9, 3}));
}

TEST(TimerQueue, CancelAndRearm) {
  TimerQueue q;
  Log log;
  TestTimer a(1, &log), b(2, &log);
  ASSERT_TRUE(q.arm(a.t, 100).ok());
  ASSERT_TRUE(q.arm(b.t, 200).ok());
  EXPECT_TRUE(q.cancel(a.t));
  EXPECT_FALSE(q.cancel(a.t));  // idempotent
  EXPECT_EQ(q.next_deadline(), 200u);
  ASSERT_TRUE(q.arm(b.t, 50).ok());  // moved earlier, not duplicated
  EXPECT_EQ(q.size(), 1u);
  q.expire(1000);
  EXPECT_EQ(log.fired, (std::vector<int>{2}));
}

TEST(TimerQueue, ArmOnAnotherQueueIsRefused) {
  TimerQueue q1, q2;
  Log log;
  TestTimer a(1, &log);
  ASSERT_TRUE(q1.arm(a.t, 100).ok());
  EXPECT_EQ(q2.arm(a.t, 50).error(), Error::Busy);
  EXPECT_FALSE(q2.cancel(a.t));
  EXPECT_TRUE(q1.cancel(a.t));
  EXPECT_TRUE(q2.arm(a.t, 50).ok());  // idle again: any queue may take it
}

TEST(TimerQueue, CallbackMayRearmItself) {
  TimerQueue q;
  Log log;
  TestTimer a(1, &log, &q);
  a.then = [](TestTimer& self, uint64_t now) {
    if (self.count < 3) {
      ASSERT_TRUE(self.q->arm(self.t, now + 10).ok());
    }
  };
  ASSERT_TRUE(q.arm(a.t, 10).ok());
  EXPECT_EQ(q.expire(10), 1u);
  EXPECT_EQ(q.next_deadline(), 20u);
  EXPECT_EQ(q.expire(100), 1u);  // due since 20: runs once, late, re-arms from now
  EXPECT_EQ(q.next_deadline(), 110u);
  EXPECT_EQ(q.expire(110), 1u);
  EXPECT_FALSE(a.t.armed());
  EXPECT_EQ(log.at, (std::vector<uint64_t>{10, 100, 110}));
}

TEST(TimerQueue, CallbackMayCancelAnotherDueTimer) {
  TimerQueue q;
  Log log;
  TestTimer a(1, &log, &q), b(2, &log);
  a.other = &b;
  a.then = [](TestTimer& self, uint64_t) { EXPECT_TRUE(self.q->cancel(self.other->t)); };
  ASSERT_TRUE(q.arm(a.t, 10).ok());
  ASSERT_TRUE(q.arm(b.t, 20).ok());
  EXPECT_EQ(q.expire(100), 1u);
  EXPECT_EQ(log.fired, (std::vector<int>{1}));
}

TEST(TimerQueue, CallbackArmingAnEarlierTimerRunsItInOrder) {
  TimerQueue q;
  Log log;
  TestTimer a(1, &log, &q), b(2, &log), c(3, &log);
  a.other = &b;
  a.then = [](TestTimer& self, uint64_t) { ASSERT_TRUE(self.q->arm(self.other->t, 15).ok()); };
  ASSERT_TRUE(q.arm(a.t, 10).ok());
  ASSERT_TRUE(q.arm(c.t, 20).ok());
  q.expire(100);
  EXPECT_EQ(log.fired, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueue, PeriodicFiresOnItsGridWithoutBursts) {
  TimerQueue q;
  Log log;
  TestTimer p(1, &log);
  ASSERT_TRUE(q.arm_periodic(p.t, 100, 100).ok());
  EXPECT_EQ(q.expire(100), 1u);
  EXPECT_EQ(q.next_deadline(), 200u);
  EXPECT_EQ(p.t.overruns, 0u);
  // Late by 3.5 periods: one callback, three periods counted as missed, and
  // the next deadline stays on the 100 ns grid.
  EXPECT_EQ(q.expire(550), 1u);
  EXPECT_EQ(p.t.overruns, 3u);
  EXPECT_EQ(q.next_deadline(), 600u);
  EXPECT_TRUE(q.cancel(p.t));
  EXPECT_EQ(q.expire(10'000), 0u);
  EXPECT_EQ(q.arm_periodic(p.t, 100, 0).error(), Error::Invalid);
}

TEST(TimerQueue, PeriodicCallbackMayCancelItself) {
  TimerQueue q;
  Log log;
  TestTimer p(1, &log, &q);
  p.then = [](TestTimer& self, uint64_t) {
    if (self.count == 2) {
      EXPECT_TRUE(self.q->cancel(self.t));
    }
  };
  ASSERT_TRUE(q.arm_periodic(p.t, 10, 10).ok());
  for (uint64_t now = 10; now <= 100; now += 10) q.expire(now);
  EXPECT_EQ(p.count, 2);
  EXPECT_TRUE(q.empty());
}

TEST(TimerQueue, RandomArmCancelMatchesReference) {
  std::mt19937 rng(99);
  TimerQueue q;
  Log log;
  constexpr int N = 200;
  std::vector<std::unique_ptr<TestTimer>> ts;
  for (int i = 0; i < N; ++i) ts.push_back(std::make_unique<TestTimer>(i, &log));
  std::vector<uint64_t> deadline(N, 0);
  std::vector<bool> armed(N, false);
  std::vector<uint64_t> arm_seq(N, 0);
  uint64_t seq = 0, now = 0;
  for (int step = 0; step < 5000; ++step) {
    int i = rng() % N;
    switch (rng() % 3) {
      case 0:
      case 1:
        deadline[i] = now + rng() % 1000;
        ASSERT_TRUE(q.arm(ts[i]->t, deadline[i]).ok());
        armed[i] = true;
        arm_seq[i] = seq++;
        break;
      case 2:
        EXPECT_EQ(q.cancel(ts[i]->t), bool(armed[i]));
        armed[i] = false;
        break;
    }
    if (step % 50 == 49) {
      now += rng() % 500;
      // Reference: armed timers due by now, by (deadline, arm order).
      std::vector<int> want;
      for (int j = 0; j < N; ++j)
        if (armed[j] && deadline[j] <= now) want.push_back(j);
      std::sort(want.begin(), want.end(), [&](int a, int b) {
        return deadline[a] != deadline[b] ? deadline[a] < deadline[b] : arm_seq[a] < arm_seq[b];
      });
      log.fired.clear();
      q.expire(now);
      ASSERT_EQ(log.fired, want) << "step " << step;
      for (int j : want) armed[j] = false;
      uint64_t next = TimerQueue::NEVER;
      for (int j = 0; j < N; ++j)
        if (armed[j]) next = std::min(next, deadline[j]);
      ASSERT_EQ(q.next_deadline(), next);
    }
  }
}

}  // namespace
