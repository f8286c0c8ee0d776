// epoll bookkeeping and the observer list on the host, with fake objects
// whose readiness the test sets (core/event/epoll.cc, core/event/poll.cc).
#include "core/epoll.h"

#include <gtest/gtest.h>

using namespace capsule;

namespace {

class Fake final : public Pollable {
 public:
  ~Fake() { detach_watchers(); }
  uint32_t poll_events() override { return ready; }
  // The object changed: new readiness `now`, announcing `changed`.
  void set(uint32_t now, uint32_t changed) {
    ready = now;
    notify(changed);
  }
  void fire(uint32_t ev) { set(ev, ev); }
  uint32_t ready = 0;
};

class Counter final : public PollWatcher {
 public:
  bool on_events(Pollable&, uint32_t ev) override {
    ++calls;
    last = ev;
    return wakes;
  }
  void on_source_gone(Pollable&) override { ++gone; }
  int calls = 0, gone = 0;
  uint32_t last = 0;
  bool wakes = false;
};

Epoll* make() {
  auto e = Epoll::create();
  EXPECT_TRUE(e.ok());
  return e.value();
}

size_t harvest(Epoll* e, EpollEvent* out = nullptr, size_t max = 16) {
  EpollEvent buf[16];
  return e->collect(out ? out : buf, max);
}

}  // namespace

TEST(Pollable, NotifiesEveryWatcherAndStopsAfterUnwatch) {
  Fake f;
  Counter a, b;
  f.watch(a);
  f.watch(b);
  EXPECT_EQ(a.source(), &f);
  f.fire(capsule::POLL_IN);
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(b.calls, 1);
  EXPECT_EQ(a.last, capsule::POLL_IN);
  f.unwatch(a);
  EXPECT_EQ(a.source(), nullptr);
  f.fire(capsule::POLL_OUT);
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(b.calls, 2);
  f.unwatch(b);
  EXPECT_FALSE(f.has_watchers());
}

TEST(Pollable, ExclusiveWatchersTakeTurns) {
  Fake f;
  Counter plain, x1, x2;
  x1.exclusive = x2.exclusive = true;
  x1.wakes = x2.wakes = true;
  f.watch(x1);
  f.watch(plain);
  f.watch(x2);
  f.fire(capsule::POLL_IN);  // x1 wakes someone: x2 is skipped, plain always called
  EXPECT_EQ(x1.calls, 1);
  EXPECT_EQ(x2.calls, 0);
  EXPECT_EQ(plain.calls, 1);
  f.fire(capsule::POLL_IN);  // round robin: x2 first now
  EXPECT_EQ(x1.calls, 1);
  EXPECT_EQ(x2.calls, 1);
  x1.wakes = x2.wakes = false;  // nobody asleep: every exclusive one hears it
  f.fire(capsule::POLL_IN);
  EXPECT_EQ(x1.calls, 2);
  EXPECT_EQ(x2.calls, 2);
  f.unwatch(x1);
  f.unwatch(x2);
  f.unwatch(plain);
}

TEST(Pollable, DestructionDetachesWatchers) {
  Counter c;
  {
    Fake f;
    f.watch(c);
  }
  EXPECT_EQ(c.gone, 1);
  EXPECT_EQ(c.source(), nullptr);
}

TEST(Epoll, CtlErrors) {
  Epoll* e = make();
  Fake f;
  EXPECT_EQ(e->add(e, 3, capsule::POLL_IN, 0).error(), Error::Invalid);  // itself
  EXPECT_TRUE(e->add(&f, 3, capsule::POLL_IN, 0).ok());
  EXPECT_EQ(e->add(&f, 3, capsule::POLL_IN, 0).error(), Error::Exists);
  EXPECT_TRUE(e->add(&f, 4, capsule::POLL_IN, 0).ok());  // same object, another fd (dup)
  EXPECT_EQ(e->modify(&f, 5, capsule::POLL_IN, 0).error(), Error::NotFound);
  EXPECT_EQ(e->remove(&f, 5).error(), Error::NotFound);
  EXPECT_EQ(e->interest_count(), 2u);
  EXPECT_TRUE(e->remove(&f, 3).ok());
  EXPECT_EQ(e->remove(&f, 3).error(), Error::NotFound);
  // EPOLLEXCLUSIVE: not with ONESHOT, not on MOD, MOD of an exclusive one fails.
  Fake g;
  EXPECT_EQ(e->add(&g, 7, capsule::POLL_IN | EPOLL_EXCLUSIVE | EPOLL_ONESHOT, 0).error(), Error::Invalid);
  EXPECT_TRUE(e->add(&g, 7, capsule::POLL_IN | EPOLL_EXCLUSIVE, 0).ok());
  EXPECT_EQ(e->modify(&g, 7, capsule::POLL_IN, 0).error(), Error::Invalid);
  EXPECT_EQ(e->modify(&f, 4, capsule::POLL_IN | EPOLL_EXCLUSIVE, 0).error(), Error::Invalid);
  delete e;
}

TEST(Epoll, LevelTriggeredRepeatsWhileReady) {
  Epoll* e = make();
  Fake f;
  ASSERT_TRUE(e->add(&f, 3, capsule::POLL_IN, 42).ok());
  EXPECT_EQ(harvest(e), 0u);
  f.fire(capsule::POLL_IN);
  EpollEvent ev[4];
  ASSERT_EQ(harvest(e, ev), 1u);
  EXPECT_EQ(ev[0].events, capsule::POLL_IN);
  EXPECT_EQ(ev[0].data, 42u);
  EXPECT_EQ(harvest(e), 1u);  // still ready: reported again
  EXPECT_EQ(harvest(e), 1u);
  f.set(0, 0);                // drained (no notification needed)
  EXPECT_EQ(harvest(e), 0u);
  EXPECT_EQ(harvest(e), 0u);
  delete e;
}

TEST(Epoll, EdgeTriggeredReportsOncePerNotification) {
  Epoll* e = make();
  Fake f;
  ASSERT_TRUE(e->add(&f, 3, capsule::POLL_IN | EPOLL_ET, 1).ok());
  f.fire(capsule::POLL_IN);
  EXPECT_EQ(harvest(e), 1u);
  EXPECT_EQ(harvest(e), 0u);  // still readable, but no new edge
  f.fire(capsule::POLL_IN);            // more data
  EXPECT_EQ(harvest(e), 1u);
  EXPECT_EQ(harvest(e), 0u);
  f.fire(capsule::POLL_IN);
  f.fire(capsule::POLL_IN);            // two edges before a wait: one report
  EXPECT_EQ(harvest(e), 1u);
  EXPECT_EQ(harvest(e), 0u);
  delete e;
}

TEST(Epoll, ReadyAtAddIsReported) {
  Epoll* e = make();
  Fake f;
  f.ready = capsule::POLL_OUT;
  ASSERT_TRUE(e->add(&f, 3, capsule::POLL_OUT | EPOLL_ET, 1).ok());
  EXPECT_EQ(harvest(e), 1u);
  EXPECT_EQ(harvest(e), 0u);
  delete e;
}

TEST(Epoll, FiltersByInterestButAlwaysReportsErrAndHup) {
  Epoll* e = make();
  Fake f;
  ASSERT_TRUE(e->add(&f, 3, capsule::POLL_IN, 1).ok());
  f.fire(capsule::POLL_OUT);
  EXPECT_EQ(harvest(e), 0u);
  f.set(capsule::POLL_OUT | capsule::POLL_HUP, capsule::POLL_HUP);
  EpollEvent ev[2];
  ASSERT_EQ(harvest(e, ev), 1u);
  EXPECT_EQ(ev[0].events, capsule::POLL_HUP);
  delete e;
}

TEST(Epoll, OneShotUntilModify) {
  Epoll* e = make();
  Fake f;
  ASSERT_TRUE(e->add(&f, 3, capsule::POLL_IN | EPOLL_ONESHOT, 1).ok());
  f.fire(capsule::POLL_IN);
  EXPECT_EQ(harvest(e), 1u);
  f.fire(capsule::POLL_IN);
  EXPECT_EQ(harvest(e), 0u);  // disabled
  EpollEvent ev[2];
  ASSERT_TRUE(e->modify(&f, 3, capsule::POLL_IN | EPOLL_ONESHOT, 9).ok());  // still ready: reported at once
  ASSERT_EQ(harvest(e, ev), 1u);
  EXPECT_EQ(ev[0].data, 9u);
  EXPECT_EQ(harvest(e), 0u);
  delete e;
}

TEST(Epoll, MaxEventsLeavesTheRestQueued) {
  Epoll* e = make();
  Fake f[5];
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(e->add(&f[i], i, capsule::POLL_IN | EPOLL_ET, uint64_t(i)).ok());
  for (auto& x : f) x.fire(capsule::POLL_IN);
  EpollEvent ev[2];
  EXPECT_EQ(harvest(e, ev, 2), 2u);
  EXPECT_EQ(ev[0].data, 0u);
  EXPECT_EQ(ev[1].data, 1u);
  EXPECT_EQ(harvest(e, ev, 2), 2u);
  EXPECT_EQ(ev[0].data, 2u);
  EXPECT_EQ(harvest(e, ev, 2), 1u);
  EXPECT_EQ(ev[0].data, 4u);
  EXPECT_EQ(harvest(e, ev, 2), 0u);
  delete e;
}

TEST(Epoll, DestroyedObjectLeavesTheEpoll) {
  Epoll* e = make();
  {
    Fake f;
    ASSERT_TRUE(e->add(&f, 3, capsule::POLL_IN, 1).ok());
    f.fire(capsule::POLL_IN);  // on the ready list when it dies
    EXPECT_EQ(e->interest_count(), 1u);
  }
  EXPECT_EQ(e->interest_count(), 0u);
  EXPECT_EQ(harvest(e), 0u);
  delete e;
}

TEST(Epoll, DestroyedEpollLeavesItsObjects) {
  Fake f;
  Epoll* e = make();
  ASSERT_TRUE(e->add(&f, 3, capsule::POLL_IN, 1).ok());
  EXPECT_TRUE(f.has_watchers());
  delete e;
  EXPECT_FALSE(f.has_watchers());
  f.fire(capsule::POLL_IN);  // no dangling watcher
}

TEST(Epoll, NestingOneLevel) {
  Epoll* outer = make();
  Epoll* inner = make();
  Epoll* third = make();
  Fake f;
  ASSERT_TRUE(inner->add(&f, 3, capsule::POLL_IN, 1).ok());
  ASSERT_TRUE(outer->add(inner, 4, capsule::POLL_IN, 2).ok());
  EXPECT_EQ(inner->poll_events(), 0u);
  EXPECT_EQ(harvest(outer), 0u);
  f.fire(capsule::POLL_IN);  // inner becomes readable: outer hears of it
  EXPECT_EQ(inner->poll_events() & capsule::POLL_IN, capsule::POLL_IN);
  EpollEvent ev[2];
  ASSERT_EQ(harvest(outer, ev), 1u);
  EXPECT_EQ(ev[0].data, 2u);
  // Deeper is refused: outer (which holds an epoll) into third, and third
  // into inner (which is inside outer).
  EXPECT_EQ(third->add(outer, 5, capsule::POLL_IN, 0).error(), Error::Loop);
  EXPECT_EQ(inner->add(third, 5, capsule::POLL_IN, 0).error(), Error::Loop);
  EXPECT_EQ(inner->add(outer, 5, capsule::POLL_IN, 0).error(), Error::Loop);  // a loop
  delete inner;  // outer's interest goes with it
  EXPECT_EQ(outer->interest_count(), 0u);
  EXPECT_TRUE(third->add(outer, 5, capsule::POLL_IN, 0).ok());  // no child epoll left
  delete third;
  delete outer;
}

TEST(Epoll, ExclusiveInterestsOnOneObject) {
  // Two epolls with an exclusive interest each and no sleeper: both hear
  // the event (nobody to wake), as Linux's wake-one logic gives.
  Epoll* a = make();
  Epoll* b = make();
  Fake f;
  ASSERT_TRUE(a->add(&f, 3, capsule::POLL_IN | EPOLL_EXCLUSIVE, 1).ok());
  ASSERT_TRUE(b->add(&f, 3, capsule::POLL_IN | EPOLL_EXCLUSIVE, 2).ok());
  f.fire(capsule::POLL_IN);
  EXPECT_EQ(harvest(a), 1u);
  EXPECT_EQ(harvest(b), 1u);
  delete a;
  delete b;
}

TEST(PollSource, QueryAndChangedDriveEpoll) {
  static uint32_t pending = 0;
  PollSource src([](void*) { return pending; }, nullptr);
  Epoll* e = make();
  ASSERT_TRUE(e->add(&src, 5, capsule::POLL_IN | EPOLL_ET, 77).ok());
  EXPECT_EQ(harvest(e), 0u);
  pending = capsule::POLL_IN;  // e.g. a signal became pending
  src.changed(capsule::POLL_IN);
  EpollEvent ev[2];
  ASSERT_EQ(harvest(e, ev), 1u);
  EXPECT_EQ(ev[0].data, 77u);
  pending = 0;
  delete e;
}

// max_user_watches: interests in all epolls together; ADD past the bound
// is NoSpace (ENOSPC), and removing an interest, destroying a watched
// object or the epoll gives the room back.
TEST(Epoll, AddPastMaxWatchesIsNoSpace) {
  Epoll* e = make();
  Fake a, b, c;
  const uint64_t before = Epoll::watch_count();
  const uint64_t saved = Epoll::max_watches();
  Epoll::set_max_watches(before + 2);
  EXPECT_TRUE(e->add(&a, 1, capsule::POLL_IN, 0).ok());
  EXPECT_TRUE(e->add(&b, 2, capsule::POLL_IN, 0).ok());
  EXPECT_EQ(e->add(&c, 3, capsule::POLL_IN, 0).error(), Error::NoSpace);
  EXPECT_EQ(Epoll::watch_count(), before + 2);
  EXPECT_TRUE(e->remove(&a, 1).ok());
  EXPECT_TRUE(e->add(&c, 3, capsule::POLL_IN, 0).ok());
  {
    Fake gone;
    Epoll::set_max_watches(before + 3);
    EXPECT_TRUE(e->add(&gone, 4, capsule::POLL_IN, 0).ok());
  }  // destroyed: its interest leaves the epoll and the count
  EXPECT_EQ(Epoll::watch_count(), before + 2);
  delete e;
  EXPECT_EQ(Epoll::watch_count(), before);
  Epoll::set_max_watches(saved);
}
