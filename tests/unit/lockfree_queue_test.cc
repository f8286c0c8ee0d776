// SPSC ring and MPSC intrusive queue: single-threaded semantics, then
// std::thread stress checking that nothing is lost or duplicated and that
// each producer's items arrive in the order it pushed them.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "lib/mpsc_queue.h"
#include "lib/spsc_queue.h"

using capsule::MpscNode;
using capsule::MpscQueue;
using capsule::SpscQueue;

namespace {

TEST(SpscQueue, FifoAndFullEmpty) {
  SpscQueue<int, 4> q;
  int v = 0;
  EXPECT_FALSE(q.try_pop(v));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.try_push(i));
  EXPECT_FALSE(q.try_push(99));  // full: all four slots used, none wasted
  EXPECT_EQ(q.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(q.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(q.try_pop(v));
  // Wrap around many times.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(q.try_push(i));
    ASSERT_TRUE(q.try_pop(v));
    ASSERT_EQ(v, i);
  }
  EXPECT_TRUE(q.empty());
}

TEST(SpscQueue, ThreadedStressNoLossNoDuplicationInOrder) {
  constexpr uint64_t COUNT = 1'000'000;
  auto q = std::make_unique<SpscQueue<uint64_t, 256>>();
  std::thread producer([&] {
    for (uint64_t i = 1; i <= COUNT; ++i)
      while (!q->try_push(i)) std::this_thread::yield();
  });
  uint64_t expect = 1, v = 0;
  while (expect <= COUNT) {
    if (q->try_pop(v)) {
      ASSERT_EQ(v, expect);
      ++expect;
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  EXPECT_FALSE(q->try_pop(v));
}

struct Msg {
  int producer = 0;
  int seq = 0;
  MpscNode node;
};
using Queue = MpscQueue<Msg, &Msg::node>;

TEST(MpscQueue, SingleThreadFifoAndReuse) {
  Queue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop(), nullptr);
  Msg m[3];
  for (int i = 0; i < 3; ++i) {
    m[i].seq = i;
    q.push(m[i]);
  }
  EXPECT_FALSE(q.empty());
  for (int i = 0; i < 3; ++i) {
    Msg* got = q.pop();
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->seq, i);
  }
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.empty());
  // Popped nodes may be pushed again; the last node popped too.
  q.push(m[2]);
  q.push(m[0]);
  EXPECT_EQ(q.pop(), &m[2]);
  q.push(m[2]);
  EXPECT_EQ(q.pop(), &m[0]);
  EXPECT_EQ(q.pop(), &m[2]);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST(MpscQueue, ThreadedStressNoLossNoDuplicationFifoPerProducer) {
  constexpr int PRODUCERS = 4;
  constexpr int PER_PRODUCER = 100'000;
  std::vector<std::unique_ptr<Msg[]>> msgs;
  for (int p = 0; p < PRODUCERS; ++p) msgs.push_back(std::make_unique<Msg[]>(PER_PRODUCER));
  Queue q;
  std::atomic<bool> go{false};
  std::vector<std::thread> producers;
  for (int p = 0; p < PRODUCERS; ++p) {
    producers.emplace_back([&, p] {
      while (!go.load()) {
      }
      for (int i = 0; i < PER_PRODUCER; ++i) {
        msgs[p][i].producer = p;
        msgs[p][i].seq = i;
        q.push(msgs[p][i]);
      }
    });
  }
  go = true;
  std::vector<int> next_seq(PRODUCERS, 0);
  int received = 0;
  while (received < PRODUCERS * PER_PRODUCER) {
    Msg* m = q.pop();
    if (!m) {
      std::this_thread::yield();  // empty, or a producer in flight
      continue;
    }
    ASSERT_EQ(m->seq, next_seq[m->producer]) << "producer " << m->producer;
    ++next_seq[m->producer];
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.empty());
  for (int p = 0; p < PRODUCERS; ++p) EXPECT_EQ(next_seq[p], PER_PRODUCER);
}

// Producers re-push nodes the consumer hands back through per-producer SPSC
// rings: exercises node reuse (including the stub re-insert path) under
// contention.
TEST(MpscQueue, ThreadedReuseOfNodes) {
  constexpr int PRODUCERS = 3;
  constexpr int ROUNDS = 50'000;
  constexpr int NODES = 8;
  struct Producer {
    Msg nodes[NODES];
    SpscQueue<Msg*, 16> returned;
  };
  auto prod = std::make_unique<Producer[]>(PRODUCERS);
  Queue q;
  std::vector<std::thread> threads;
  for (int p = 0; p < PRODUCERS; ++p) {
    threads.emplace_back([&, p] {
      Producer& me = prod[p];
      int sent = 0, free_nodes = NODES;
      Msg* free_list[NODES];
      for (int i = 0; i < NODES; ++i) free_list[i] = &me.nodes[i];
      while (sent < ROUNDS) {
        Msg* back;
        while (me.returned.try_pop(back)) free_list[free_nodes++] = back;
        if (!free_nodes) {
          std::this_thread::yield();
          continue;
        }
        Msg* m = free_list[--free_nodes];
        m->producer = p;
        m->seq = sent++;
        q.push(*m);
      }
    });
  }
  std::vector<int> next_seq(PRODUCERS, 0);
  int received = 0;
  while (received < PRODUCERS * ROUNDS) {
    Msg* m = q.pop();
    if (!m) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(m->seq, next_seq[m->producer]);
    ++next_seq[m->producer];
    ++received;
    while (!prod[m->producer].returned.try_push(m)) std::this_thread::yield();
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(q.pop(), nullptr);
}

}  // namespace
