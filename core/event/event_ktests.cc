// In-kernel tests of the event layer (--test=event, docs/events.md): pipes,
// poll, epoll, eventfd, timerfd and interruption, with real threads that
// are pinned to different CPUs when there are several.
#include <atomic>

#include "core/epoll.h"
#include "core/eventfd.h"
#include "lib/ktest.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "core/pipe.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/timerfd.h"

namespace capsule {
namespace {

// A test buffer on the heap for the test's duration: statics would sit in
// .bss, which every boot zeroes and every VM holds (issue 16).
struct Scratch {
  uint8_t* p;
  explicit Scratch(size_t n) : p(static_cast<uint8_t*>(kzalloc(n))) {}
  ~Scratch() { kfree(p); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

constexpr uint64_t MS = 1000000;

template <typename F>
Thread* spawn(const char* name, F& f, int cpu = -1) {
  ThreadOptions o;
  o.pin_cpu = (cpu >= 0 && uint32_t(cpu) < cpu_count()) ? cpu : -1;
  auto t = thread_create(name, [](void* p) { (*static_cast<F*>(p))(); }, &f, o);
  KEXPECT(t.ok());
  return t.value_or(nullptr);
}

void join(Thread* t) {
  if (t) KEXPECT(thread_join(t).ok());
}

// A reproducible byte stream (xorshift64*), so the reader can check every
// byte without a copy of what was sent.
struct Stream {
  uint64_t s;
  explicit Stream(uint64_t seed) : s(seed) {}
  uint8_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return uint8_t((s * 0x2545F4914F6CDD1Dull) >> 56);
  }
};

struct Pair {
  PipeEnd* r = nullptr;
  PipeEnd* w = nullptr;
  Pair() { KEXPECT(pipe_create(&r, &w).ok()); }
  ~Pair() {
    delete r;
    delete w;
  }
  void close_reader() {
    delete r;
    r = nullptr;
  }
  void close_writer() {
    delete w;
    w = nullptr;
  }
};

}  // namespace

// --- 1 MiB through a pipe between two threads, checked byte by byte ---
KTEST(event_pipe_1mib_transfer) {
  constexpr size_t TOTAL = 1 << 20;
  Pair p;
  auto writer = [&] {
    Stream s(0x1234);
    Scratch wbuf(7001);
    uint8_t* buf = wbuf.p;
    size_t sent = 0, chunk = 1;
    while (sent < TOTAL) {
      size_t n = chunk < TOTAL - sent ? chunk : TOTAL - sent;
      for (size_t i = 0; i < n; ++i) buf[i] = s.next();
      auto r = p.w->write(buf, n, false);
      KEXPECT(r.ok() && r.value() == n);
      if (!r.ok()) break;
      sent += n;
      chunk = chunk * 7 % 7001 + 1;  // sizes from 1 byte to ~7 KB
    }
    p.close_writer();
  };
  Thread* t = spawn("pipe-writer", writer, 1);
  Stream s(0x1234);
  Scratch rbuf(5003);
  uint8_t* buf = rbuf.p;
  size_t got = 0, bad = 0, reads = 0;
  uint64_t fnv = 0xcbf29ce484222325ull;
  uint64_t t0 = uptime_ns();
  for (;;) {
    auto r = p.r->read(buf, 1 + reads * 13 % 5003, false);
    KEXPECT(r.ok());
    if (!r.ok() || r.value() == 0) break;  // EOF once the writer closed
    for (size_t i = 0; i < r.value(); ++i) {
      if (buf[i] != s.next()) ++bad;
      fnv = (fnv ^ buf[i]) * 0x100000001b3ull;
    }
    got += r.value();
    ++reads;
  }
  uint64_t dt = uptime_ns() - t0;
  join(t);
  KEXPECT(got == TOTAL);
  KEXPECT(bad == 0);
  kprint("event.pipe_1mib_transfer: {} bytes in {} reads, {} bad, fnv {:x}, {} MB/s on {} CPUs\n", got, reads,
         bad, fnv, dt ? got * 1000 / dt : 0, cpu_count());
}

// --- PIPE_BUF atomicity: 4 writers of 4096-byte records, never interleaved ---
KTEST(event_pipe_atomic_writes) {
  constexpr int WRITERS = 4, RECORDS = 300;
  Pair p;
  struct W {
    Pair* p;
    uint8_t id;
    void operator()() {
      Scratch mine(PIPE_BUF_SIZE);
      uint8_t* b = mine.p;
      for (int i = 0; i < RECORDS; ++i) {
        b[0] = id;
        b[1] = uint8_t(i);
        b[2] = uint8_t(i >> 8);
        for (size_t k = 3; k < PIPE_BUF_SIZE; ++k) b[k] = uint8_t(id * 16 + 1);
        auto r = p->w->write(b, PIPE_BUF_SIZE, false);
        KEXPECT(r.ok() && r.value() == PIPE_BUF_SIZE);
      }
    }
  } ws[WRITERS];
  Thread* ts[WRITERS];
  for (int i = 0; i < WRITERS; ++i) {
    ws[i] = W{&p, uint8_t(i)};
    ts[i] = spawn("pipe-atomic", ws[i], i);
  }
  Scratch rec_buf(PIPE_BUF_SIZE);
  uint8_t* rec = rec_buf.p;
  int next_seq[WRITERS] = {};
  int records = 0, torn = 0, misordered = 0;
  size_t fill = 0, step = 0;
  while (records < WRITERS * RECORDS) {
    size_t want = PIPE_BUF_SIZE - fill;
    size_t n = 1 + (step++ * 977) % 3000;  // odd read sizes cut records anywhere
    auto r = p.r->read(rec + fill, n < want ? n : want, false);
    KEXPECT(r.ok() && r.value() > 0);
    if (!r.ok() || r.value() == 0) break;
    fill += r.value();
    if (fill < PIPE_BUF_SIZE) continue;
    fill = 0;
    ++records;
    uint8_t id = rec[0];
    if (id >= WRITERS) {
      ++torn;
      continue;
    }
    for (size_t k = 3; k < PIPE_BUF_SIZE; ++k)
      if (rec[k] != uint8_t(id * 16 + 1)) {
        ++torn;
        break;
      }
    int seq = rec[1] | rec[2] << 8;
    if (seq != next_seq[id]++) ++misordered;
  }
  for (auto* t : ts) join(t);
  KEXPECT(records == WRITERS * RECORDS);
  KEXPECT(torn == 0);
  KEXPECT(misordered == 0);
  kprint("event.pipe_atomic_writes: {} records of {} bytes from {} writers, {} torn\n", records, PIPE_BUF_SIZE, WRITERS,
         torn);
}

// --- EOF and EPIPE, including sleepers woken by the other side's close ---
KTEST(event_pipe_eof_epipe) {
  {
    Pair p;
    KEXPECT(p.w->write("abc", 3, false).value_or(0) == 3);
    p.close_writer();
    char b[8];
    KEXPECT(p.r->read(b, 8, false).value_or(0) == 3);  // data first
    KEXPECT(p.r->read(b, 8, false).value_or(99) == 0);  // then EOF
    KEXPECT(p.r->read(b, 8, true).value_or(99) == 0);   // EOF, not Again
    KEXPECT(p.r->poll_events() & POLL_HUP);
  }
  {
    Pair p;
    p.close_reader();
    KEXPECT(p.w->write("x", 1, false).error() == Error::BrokenPipe);
    KEXPECT(p.w->poll_events() & POLL_ERR);
  }
  {
    // A reader asleep on an empty pipe sees EOF when the writer closes.
    Pair p;
    std::atomic<int> res{-1};
    auto reader = [&] {
      char b[4];
      res = int(p.r->read(b, 4, false).value_or(99));
    };
    Thread* t = spawn("eof-reader", reader, 1);
    thread_sleep_ns(20 * MS);
    KEXPECT(res.load() == -1);  // still asleep
    p.close_writer();
    join(t);
    KEXPECT(res.load() == 0);
  }
  {
    // A writer asleep on a full pipe gets EPIPE (nothing written) when the
    // reader closes.
    Pair p;
    Scratch fill_buf(PIPE_DEFAULT_SIZE);
    uint8_t* fill = fill_buf.p;
    KEXPECT(p.w->write(fill, PIPE_DEFAULT_SIZE, true).value_or(0) == PIPE_DEFAULT_SIZE);
    std::atomic<int> err{-1};
    auto writer = [&] { err = int(p.w->write(fill, 100, false).error()); };
    Thread* t = spawn("epipe-writer", writer, 1);
    thread_sleep_ns(20 * MS);
    KEXPECT(err.load() == -1);
    p.close_reader();
    join(t);
    KEXPECT(err.load() == int(Error::BrokenPipe));
  }
}

// --- O_NONBLOCK, partial writes, F_SETPIPE_SZ ---
KTEST(event_pipe_nonblocking) {
  Pair p;
  char b[16];
  KEXPECT(p.r->read(b, 16, true).error() == Error::Again);
  KEXPECT(p.w->capacity() == PIPE_DEFAULT_SIZE);
  KEXPECT(p.w->poll_events() & POLL_OUT);
  Scratch big_buf(PIPE_DEFAULT_SIZE + 8192);
  uint8_t* big = big_buf.p;
  KEXPECT(p.w->write(big, PIPE_DEFAULT_SIZE - 100, true).value_or(0) == PIPE_DEFAULT_SIZE - 100);
  KEXPECT(!(p.w->poll_events() & POLL_OUT));  // less than PIPE_BUF of room
  KEXPECT(p.w->write(big, 200, true).error() == Error::Again);      // ≤ PIPE_BUF: all or nothing
  KEXPECT(p.w->write(big, 5000, true).value_or(0) == 100);          // > PIPE_BUF: what fits
  KEXPECT(p.w->write(big, 5000, true).error() == Error::Again);     // full
  KEXPECT(p.r->bytes_available() == PIPE_DEFAULT_SIZE);
  KEXPECT(p.r->set_capacity(4096).error() == Error::Busy);          // would not fit
  KEXPECT(p.r->set_capacity(PIPE_MAX_SIZE + 1).error() == Error::Permission);  // no CAP_SYS_RESOURCE
  KEXPECT(p.r->set_capacity(PIPE_LIMIT_SIZE + 1).error() == Error::Invalid);
  KEXPECT(p.r->set_capacity(100000).value_or(0) == 131072);        // rounded up
  KEXPECT(p.w->write(big, 5000, true).value_or(0) == 5000);
  KEXPECT(p.r->bytes_available() == PIPE_DEFAULT_SIZE + 5000);
  KEXPECT(p.w->write(big, 0, true).value_or(99) == 0);
}

// --- poll: timeout accuracy, wake-up by another CPU, no-wait ---
KTEST(event_poll_timeout_and_wakeup) {
  Pair p;
  PollRequest req[2];
  req[0].object = p.r;
  req[0].events = POLL_IN;
  req[1].object = p.w;
  req[1].events = 0;  // only ERR/HUP would show
  uint64_t t0 = uptime_ns();
  auto r = poll_wait(req, 2, NO_WAIT);
  KEXPECT(r.ok() && r.value() == 0);
  KEXPECT(uptime_ns() - t0 < 5 * MS);
  t0 = uptime_ns();
  auto r2 = poll_wait(req, 2, t0 + 50 * MS);
  uint64_t dt = uptime_ns() - t0;
  KEXPECT(r2.ok() && r2.value() == 0);
  KEXPECT(dt >= 50 * MS);
  KEXPECT(dt < 80 * MS);
  kprint("event.poll_timeout_and_wakeup: 50 ms timeout took {} us\n", dt / 1000);
  auto writer = [&] {
    thread_sleep_ns(20 * MS);
    (void)p.w->write("!", 1, false);
  };
  Thread* t = spawn("poll-writer", writer, 1);
  t0 = uptime_ns();
  auto r3 = poll_wait(req, 2, WAIT_FOREVER);
  dt = uptime_ns() - t0;
  join(t);
  KEXPECT(r3.ok() && r3.value() == 1);
  KEXPECT(req[0].revents == POLL_IN);  // only what was asked (and ERR/HUP)
  KEXPECT(req[1].revents == 0);
  KEXPECT(dt >= 15 * MS && dt < 200 * MS);
  // Many descriptors (past the inline table): the last one is ready.
  constexpr int N = 40;
  static PollRequest many[N];
  for (int i = 0; i < N; ++i) many[i] = PollRequest{p.w, POLL_IN, 0};
  many[N - 1] = PollRequest{p.r, POLL_IN, 0};
  auto r4 = poll_wait(many, N, NO_WAIT);
  KEXPECT(r4.ok() && r4.value() == 1 && many[N - 1].revents);
}

// --- epoll on a pipe: edge-triggered vs level-triggered ---
KTEST(event_epoll_edge_and_level) {
  Pair p;
  Epoll* et = Epoll::create().value_or(nullptr);
  Epoll* lt = Epoll::create().value_or(nullptr);
  KEXPECT(et && lt);
  if (!et || !lt) return;
  KEXPECT(et->add(p.r, 3, POLL_IN | EPOLL_ET, 0xe7).ok());
  KEXPECT(lt->add(p.r, 3, POLL_IN, 0x17).ok());
  EpollEvent ev[4];
  KEXPECT(et->wait(ev, 4, NO_WAIT).value_or(9) == 0);
  KEXPECT(p.w->write("ab", 2, false).ok());
  auto n = et->wait(ev, 4, NO_WAIT);
  KEXPECT(n.ok() && n.value() == 1 && ev[0].data == 0xe7 && (ev[0].events & POLL_IN));
  KEXPECT(et->wait(ev, 4, uptime_ns() + 10 * MS).value_or(9) == 0);  // no new edge
  KEXPECT(lt->wait(ev, 4, NO_WAIT).value_or(0) == 1);
  KEXPECT(lt->wait(ev, 4, NO_WAIT).value_or(0) == 1);  // level: again
  KEXPECT(p.w->write("c", 1, false).ok());              // more data: a new edge
  KEXPECT(et->wait(ev, 4, NO_WAIT).value_or(0) == 1);
  KEXPECT(et->wait(ev, 4, NO_WAIT).value_or(9) == 0);
  char b[8];
  KEXPECT(p.r->read(b, 8, false).value_or(0) == 3);
  KEXPECT(lt->wait(ev, 4, NO_WAIT).value_or(9) == 0);  // drained
  // A sleeper on another CPU is woken by a write here.
  std::atomic<int> got{-1};
  std::atomic<uint64_t> woke_at{0};
  auto waiter = [&] {
    EpollEvent e[2];
    got = int(et->wait(e, 2, uptime_ns() + 2000 * MS).value_or(0));
    woke_at = uptime_ns();
  };
  Thread* t = spawn("epoll-waiter", waiter, 1);
  thread_sleep_ns(20 * MS);
  KEXPECT(got.load() == -1);
  uint64_t t0 = uptime_ns();
  KEXPECT(p.w->write("d", 1, false).ok());
  join(t);
  KEXPECT(got.load() == 1);
  kprint("event.epoll_edge_and_level: cross-CPU wake-up in {} us\n", (woke_at.load() - t0) / 1000);
  // The epoll itself is pollable: readable while an interest is ready.
  KEXPECT(lt->poll_events() & POLL_IN);
  KEXPECT(p.r->read(b, 8, false).ok());
  KEXPECT(!(lt->poll_events() & POLL_IN));
  // Closing the pipe end drops its interests.
  p.close_reader();
  KEXPECT(et->interest_count() == 0 && lt->interest_count() == 0);
  delete et;
  delete lt;
}

KTEST(event_epoll_oneshot) {
  Pair p;
  Epoll* e = Epoll::create().value_or(nullptr);
  if (!e) return;
  KEXPECT(e->add(p.r, 3, POLL_IN | EPOLL_ONESHOT, 1).ok());
  KEXPECT(e->add(p.r, 3, POLL_IN, 1).error() == Error::Exists);
  KEXPECT(p.w->write("a", 1, false).ok());
  EpollEvent ev[2];
  KEXPECT(e->wait(ev, 2, NO_WAIT).value_or(0) == 1);
  KEXPECT(p.w->write("b", 1, false).ok());
  KEXPECT(e->wait(ev, 2, uptime_ns() + 10 * MS).value_or(9) == 0);  // disabled
  KEXPECT(e->modify(p.r, 3, POLL_IN | EPOLL_ONESHOT, 2).ok());      // re-armed, still ready
  KEXPECT(e->wait(ev, 2, NO_WAIT).value_or(0) == 1 && ev[0].data == 2);
  KEXPECT(e->remove(p.r, 3).ok());
  KEXPECT(e->remove(p.r, 3).error() == Error::NotFound);
  delete e;
}

// --- EPOLLEXCLUSIVE: two epolls with sleepers on one pipe, one is woken ---
KTEST(event_epoll_exclusive) {
  Pair p;
  Epoll* a = Epoll::create().value_or(nullptr);
  Epoll* b = Epoll::create().value_or(nullptr);
  if (!a || !b) return;
  KEXPECT(a->add(p.r, 3, POLL_IN | EPOLL_EXCLUSIVE, 1).ok());
  KEXPECT(b->add(p.r, 3, POLL_IN | EPOLL_EXCLUSIVE, 2).ok());
  std::atomic<int> ra{-1}, rb{-1};
  Thread* ta_thread = nullptr;
  Thread* tb_thread = nullptr;
  auto wa = [&] {
    EpollEvent ev[1];
    auto r = a->wait(ev, 1, WAIT_FOREVER);
    ra = r.ok() ? int(r.value()) : -int(r.error());
  };
  auto wb = [&] {
    EpollEvent ev[1];
    auto r = b->wait(ev, 1, WAIT_FOREVER);
    rb = r.ok() ? int(r.value()) : -int(r.error());
  };
  ta_thread = spawn("excl-a", wa, 1);
  tb_thread = spawn("excl-b", wb, 0);
  thread_sleep_ns(30 * MS);  // both asleep
  KEXPECT(p.w->write("x", 1, false).ok());
  thread_sleep_ns(50 * MS);
  int woken = (ra.load() == 1) + (rb.load() == 1);
  KEXPECT(woken == 1);
  kprint("event.epoll_exclusive: one write woke {} of 2 exclusive waiters\n", woken);
  // The other one is still asleep; end it with an interrupt.
  Thread* left = ra.load() == 1 ? tb_thread : ta_thread;
  thread_interrupt(left);
  join(ta_thread);
  join(tb_thread);
  KEXPECT((ra.load() == 1 ? rb.load() : ra.load()) == -int(Error::Interrupted));
  delete a;
  delete b;
}

// --- eventfd ---
KTEST(event_eventfd) {
  EventFd* sem = EventFd::create(3, true).value_or(nullptr);
  EventFd* cnt = EventFd::create(0, false).value_or(nullptr);
  if (!sem || !cnt) return;
  for (int i = 0; i < 3; ++i) KEXPECT(sem->read(true).value_or(0) == 1);
  KEXPECT(sem->read(true).error() == Error::Again);
  KEXPECT(!(sem->poll_events() & POLL_IN));
  KEXPECT(sem->write(2, false).ok());
  KEXPECT(sem->poll_events() & POLL_IN);
  KEXPECT(sem->read(true).value_or(0) == 1);
  KEXPECT(sem->value() == 1);
  KEXPECT(cnt->write(5, false).ok());
  KEXPECT(cnt->write(7, false).ok());
  KEXPECT(cnt->read(false).value_or(0) == 12);
  KEXPECT(cnt->write(~0ull, false).error() == Error::Invalid);
  KEXPECT(cnt->write(EventFd::MAX_COUNT, true).ok());
  KEXPECT(!(cnt->poll_events() & POLL_OUT));
  KEXPECT(cnt->write(1, true).error() == Error::Again);  // would overflow
  KEXPECT(cnt->read(false).value_or(0) == EventFd::MAX_COUNT);
  // A blocked semaphore reader on another CPU is released by writes.
  std::atomic<int> reads{0};
  auto reader = [&] {
    for (int i = 0; i < 5; ++i)
      if (sem->read(false).value_or(0) == 1) ++reads;
  };
  KEXPECT(sem->read(true).value_or(0) == 1);  // empty it
  Thread* t = spawn("efd-reader", reader, 1);
  for (int i = 0; i < 5; ++i) {
    thread_sleep_ns(2 * MS);
    KEXPECT(sem->write(1, false).ok());
  }
  join(t);
  KEXPECT(reads.load() == 5);
  delete sem;
  delete cnt;
}

// --- timerfd: periodic expirations counted, one-shot absolute, disarm ---
KTEST(event_timerfd) {
  TimerFd* t = TimerFd::create(TimerClock::Monotonic).value_or(nullptr);
  TimerFd* rt = TimerFd::create(TimerClock::Realtime).value_or(nullptr);
  if (!t || !rt) return;
  KEXPECT(t->read(true).error() == Error::Again);
  uint64_t start = uptime_ns();
  KEXPECT(t->settime({10 * MS, 10 * MS}, false).ok());
  TimerSpec s = t->gettime();
  KEXPECT(s.interval_ns == 10 * MS && s.value_ns > 0 && s.value_ns <= 10 * MS);
  thread_sleep_ns(105 * MS);
  // At least the 10 periods of the sleep (missed ones counted); a busy
  // host may stretch the sleep, so the ceiling is the time really passed.
  uint64_t n = t->read(true).value_or(0);
  uint64_t after = uptime_ns();
  KEXPECT(n >= 9 && n <= (after - start) / (10 * MS) + 1);
  uint64_t total = n;
  uint64_t t0 = uptime_ns();
  for (int i = 0; i < 5; ++i) total += t->read(false).value_or(0);  // blocks for each period
  uint64_t dt = uptime_ns() - t0;
  KEXPECT(dt >= 35 * MS);
  // No period counted twice.
  KEXPECT(total <= (uptime_ns() - start) / (10 * MS) + 1);
  kprint("event.timerfd: {} expirations after 105 ms, 5 blocking reads took {} us\n", n, dt / 1000);
  TimerSpec old = t->settime({0, 0}, false).value_or(TimerSpec{});  // disarm
  KEXPECT(old.interval_ns == 10 * MS);
  KEXPECT(t->gettime().value_ns == 0);
  thread_sleep_ns(25 * MS);
  KEXPECT(t->read(true).error() == Error::Again);
  // Realtime, absolute, one-shot: 20 ms from now on the wall clock.
  t0 = uptime_ns();
  KEXPECT(rt->settime({uint64_t(realtime_ns()) + 20 * MS, 0}, true).ok());
  PollRequest req{rt, POLL_IN, 0};
  auto r = poll_wait(&req, 1, uptime_ns() + 1000 * MS);
  dt = uptime_ns() - t0;
  KEXPECT(r.ok() && r.value() == 1);
  KEXPECT(dt >= 19 * MS && dt < 80 * MS);
  KEXPECT(rt->read(true).value_or(0) == 1);
  KEXPECT(rt->gettime().value_ns == 0);  // one-shot: disarmed
  // A time already past expires at once.
  KEXPECT(t->settime({1, 0}, true).ok());
  KEXPECT(t->read(false).value_or(0) == 1);
  delete t;
  delete rt;
}

// --- thread_interrupt ends every kind of wait with Interrupted ---
KTEST(event_interrupt) {
  Pair p;
  Epoll* e = Epoll::create().value_or(nullptr);
  EventFd* efd = EventFd::create(0, false).value_or(nullptr);
  if (!e || !efd) return;
  KEXPECT(e->add(p.r, 3, POLL_IN, 0).ok());
  for (int kind = 0; kind < 5; ++kind) {
    std::atomic<int> err{-1};
    auto blocker = [&] {
      char b[4];
      EpollEvent ev[1];
      PollRequest req{p.r, POLL_IN, 0};
      Scratch fill_buf(PIPE_DEFAULT_SIZE);
      uint8_t* fill = fill_buf.p;
      Error r = Error::None;
      switch (kind) {
        case 0: r = p.r->read(b, 4, false).error(); break;
        case 1: r = poll_wait(&req, 1, WAIT_FOREVER).error(); break;
        case 2: r = e->wait(ev, 1, WAIT_FOREVER).error(); break;
        case 3: r = efd->read(false).error(); break;
        case 4:  // a writer blocked on a full pipe
          (void)p.w->write(fill, PIPE_DEFAULT_SIZE, true);
          r = p.w->write(fill, 10, false).error();
          break;
      }
      thread_clear_interrupt(thread_current());
      err = int(r);
    };
    Thread* t = spawn("intr", blocker, 1);
    thread_sleep_ns(20 * MS);
    KEXPECT(err.load() == -1);  // asleep
    thread_interrupt(t);
    join(t);
    KEXPECT(err.load() == int(Error::Interrupted));
    if (kind == 4) {  // drain for the next round (none)
      Scratch sink(PIPE_DEFAULT_SIZE);
      (void)p.r->read(sink.p, PIPE_DEFAULT_SIZE, true);
    }
  }
  delete e;
  delete efd;
}

}  // namespace capsule
