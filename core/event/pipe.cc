// Pipes (core/include/core/pipe.h; pipe(7) for the semantics).
//
// One Mutex guards the ring, the counts and the list of ends; copies to and
// from application memory happen under it (they may fault and sleep, which
// a Mutex allows). Readers and writers sleep on two WaitLists. Readiness
// changes are announced to the ends' watchers under the Mutex (lock order:
// Pipe::mu → PipeEnd watch lock → watchers; core/include/core/poll.h).
#include "core/thread.h"
#include "core/pipe.h"

#include <atomic>
#include <new>

#include "core/mm.h"
#include "core/event/ring_buffer.h"
#include "core/event/sync.h"
#include "core/event/wait.h"

namespace capsule {

using event::Hold;

class Pipe {
 public:
  // The ring's storage comes with the first write (Linux allocates a
  // pipe's pages as data arrives): an empty pipe costs only this object,
  // so a program holding many idle pipes runs into RLIMIT_NOFILE, not into
  // the kernel heap.
  Pipe(uint32_t capacity, uint64_t pages) : ring(nullptr, capacity), accounted(pages) {}
  ~Pipe();  // the last reference: nobody else sees it

  Mutex mu;
  event::ByteRing ring GUARDED_BY(mu);
  uint32_t readers GUARDED_BY(mu) = 0, writers GUARDED_BY(mu) = 0;
  uint64_t writer_opens GUARDED_BY(mu) = 0;  // writer ends ever opened
  IntrusiveList<PipeEnd, &PipeEnd::pipe_node_> ends GUARDED_BY(mu);
  event::WaitList read_wait, write_wait;
  std::atomic<uint32_t> refs{1};
  uint64_t accounted GUARDED_BY(mu);  // pages counted in g_user_pages for this pipe

  // Under mu: tells every end that can read (resp. write) what changed.
  void notify_locked(uint32_t read_events, uint32_t write_events) REQUIRES(mu) {
    mu.assert_held();
    for (PipeEnd& e : ends) {
      uint32_t ev = (e.reader() ? read_events : 0) | (e.writer() ? write_events : 0);
      if (ev) e.notify_end(ev);
    }
  }
};

namespace {

constexpr uint32_t READABLE = POLL_IN | POLL_RDNORM;
constexpr uint32_t WRITABLE = POLL_OUT | POLL_WRNORM;

constexpr size_t PAGE = 4096;

// F_SETPIPE_SZ rounds to a power of two of at least a page (Linux rounds to
// a power-of-two number of pages).
size_t round_capacity(size_t bytes) {
  size_t c = PAGE;
  while (c < bytes) c <<= 1;
  return c;
}

// /proc/sys/fs/pipe-max-size, pipe-user-pages-soft/-hard, and the pages
// all pipes count against them (a counter changed by differences: it may
// pass a limit for a moment before the change is taken back).
std::atomic<size_t> g_max_size{PIPE_MAX_SIZE};
std::atomic<uint64_t> g_soft{PIPE_USER_PAGES_SOFT}, g_hard{0};
std::atomic<uint64_t> g_user_pages{0};

// Adds `delta` pages (modulo 2^64: a negative change too); the new count.
uint64_t count_pages(uint64_t delta) { return g_user_pages.fetch_add(delta, std::memory_order_relaxed) + delta; }

bool past(uint64_t pages, const std::atomic<uint64_t>& limit) {
  uint64_t l = limit.load(std::memory_order_relaxed);
  return l && pages > l;
}

}  // namespace

size_t pipe_max_size() { return g_max_size.load(std::memory_order_relaxed); }
Result<void> pipe_set_max_size(uint64_t bytes) {
  if (bytes > PIPE_LIMIT_SIZE) return Error::Invalid;
  g_max_size.store(round_capacity(size_t(bytes)), std::memory_order_relaxed);
  return {};
}
uint64_t pipe_user_pages_soft() { return g_soft.load(std::memory_order_relaxed); }
void pipe_set_user_pages_soft(uint64_t pages) { g_soft.store(pages, std::memory_order_relaxed); }
uint64_t pipe_user_pages_hard() { return g_hard.load(std::memory_order_relaxed); }
void pipe_set_user_pages_hard(uint64_t pages) { g_hard.store(pages, std::memory_order_relaxed); }
uint64_t pipe_user_pages() { return g_user_pages.load(std::memory_order_relaxed); }

Pipe::~Pipe() {
  if (ring.storage()) kfree(ring.storage());
  count_pages(0 - accounted);
}

Result<Pipe*> pipe_alloc(size_t capacity, PipeCaller who) {
  if (capacity > PIPE_LIMIT_SIZE) return Error::Invalid;
  capacity = round_capacity(capacity);
  if (capacity > pipe_max_size() && !who.above_max_size) capacity = pipe_max_size();
  uint64_t pages = capacity / PAGE;
  uint64_t total = count_pages(pages);
  // Past the soft limit an unprivileged user's new pipe gets two pages,
  // past the hard one none (pipe(7); Linux's alloc_pipe_info).
  if (!who.unlimited && past(total, g_soft)) {
    total = count_pages(PIPE_MIN_SIZE / PAGE - pages);
    pages = PIPE_MIN_SIZE / PAGE;
    capacity = PIPE_MIN_SIZE;
  }
  if (!who.unlimited && past(total, g_hard)) {
    count_pages(0 - pages);
    return Error::FileTableFull;
  }
  Pipe* p = new (std::nothrow) Pipe(uint32_t(capacity), pages);
  if (!p) {
    count_pages(0 - pages);
    return Error::NoMemory;
  }
  return p;
}

void pipe_retain(Pipe* p) { p->refs.fetch_add(1, std::memory_order_relaxed); }

void pipe_release(Pipe* p) {
  if (p->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  delete p;
}

Result<void> pipe_create(PipeEnd** read_end, PipeEnd** write_end, PipeCaller who, size_t capacity) {
  Pipe* p = TRY(pipe_alloc(capacity, who));
  auto r = PipeEnd::open(p, true, false);
  if (!r) {
    pipe_release(p);
    return r.error();
  }
  auto w = PipeEnd::open(p, false, true);
  if (!w) {
    delete r.value();
    pipe_release(p);
    return w.error();
  }
  pipe_release(p);  // the ends hold it now
  *read_end = r.value();
  *write_end = w.value();
  return {};
}

Result<PipeEnd*> PipeEnd::open(Pipe* p, bool reader, bool writer, bool hup_after_writer) {
  auto* e = new (std::nothrow) PipeEnd(p, reader, writer);
  if (!e) return Error::NoMemory;
  pipe_retain(p);
  Hold<Mutex> g(p->mu);
  p->ends.push_back(*e);
  if (reader) ++p->readers;
  if (writer) ++p->writers, ++p->writer_opens;
  e->quiet_hup_ = hup_after_writer;
  e->writer_opens_seen_ = p->writer_opens;
  // A FIFO's first writer turns readers' HUP off, its first reader lets
  // writers write: let watchers re-check.
  p->notify_locked(reader ? 0 : POLL_ALL, writer ? 0 : POLL_ALL);
  return e;
}

PipeEnd::~PipeEnd() {
  detach_watchers();
  Pipe* p = pipe_;
  {
    Hold<Mutex> g(p->mu);
    p->ends.remove(*this);
    if (reader_ && --p->readers == 0) {
      p->write_wait.wake_all();  // writers fail with EPIPE
      p->notify_locked(0, POLL_ERR);
    }
    if (writer_ && --p->writers == 0) {
      p->read_wait.wake_all();  // readers see EOF
      p->notify_locked(POLL_IN | POLL_HUP, 0);  // EOF is readable (SIGIO: POLL_IN, as Linux)
    }
  }
  pipe_release(p);
}

Result<size_t> PipeEnd::read(IoBuffer& io, bool nonblock) { return take(io, nonblock, true); }
Result<size_t> PipeEnd::peek(IoBuffer& io, bool nonblock) { return take(io, nonblock, false); }

Result<size_t> PipeEnd::take(IoBuffer& io, bool nonblock, bool consume) {
  if (!reader_) return Error::Invalid;  // the adapter says EBADF
  if (io.size() == 0) return size_t(0);
  Pipe* p = pipe_;
  Hold<Mutex> g(p->mu);
  for (;;) {
    if (!p->ring.empty()) {
      Error err = Error::None;
      size_t want = io.size() < p->ring.size() ? io.size() : p->ring.size();
      // A fault part way: the bytes before it count and leave the pipe,
      // the rest stay for the next read.
      auto copy = [&](uint8_t* src, uint32_t off, uint32_t len) {
        auto r = io.copy_out_partial(off, src, len);
        if (!r) {
          err = r.error();
          return uint32_t(0);
        }
        if (r.value() < len) err = Error::Fault;
        return uint32_t(r.value());
      };
      uint32_t n = consume ? p->ring.pop(uint32_t(want), copy) : p->ring.peek(uint32_t(want), copy);
      if (n == 0) return err;
      if (consume) {
        p->write_wait.wake_all();
        p->notify_locked(0, WRITABLE);
      }
      return size_t(n);
    }
    if (p->writers == 0) return size_t(0);  // EOF
    if (nonblock) return Error::Again;
    WaitTag tag("pipe read", p);
    TRY(p->read_wait.wait(p->mu, 0));
  }
}

Result<size_t> PipeEnd::write(IoBuffer& io, bool nonblock, bool* reader_left) {
  return put(io, nonblock, false, reader_left);
}

Result<size_t> PipeEnd::write_some(IoBuffer& io, bool nonblock) { return put(io, nonblock, true, nullptr); }

Result<size_t> PipeEnd::put(IoBuffer& io, bool nonblock, bool some, bool* reader_left) {
  if (!writer_) return Error::Invalid;
  size_t total = io.size();
  if (total == 0) return size_t(0);
  // pipe(7): writes of at most PIPE_BUF bytes are atomic — all at once
  // when there is room for all of them, never interleaved. A splice takes
  // whatever room there is.
  bool atomic = !some && total <= PIPE_BUF_SIZE;
  Pipe* p = pipe_;
  Hold<Mutex> g(p->mu);
  size_t done = 0;
  for (;;) {
    if (p->readers == 0) {
      if (done) {
        if (reader_left) *reader_left = true;  // Linux: SIGPIPE, and the count
        return done;
      }
      return Error::BrokenPipe;
    }
    size_t want = total - done;
    uint32_t space = p->ring.space();
    if (atomic ? space >= want : space > 0) {
      if (!p->ring.storage()) {
        // First data: the storage now. Out of memory is ENOMEM before
        // anything is written (Linux's pipe_write when alloc_page fails).
        auto* storage = static_cast<uint8_t*>(kmalloc(p->ring.capacity()));
        if (!storage) {
          if (done) return done;
          return Error::NoMemory;
        }
        p->ring.attach(storage);
      }
      size_t got = 0;
      uint32_t chunk = uint32_t(want < space ? want : space);
      Error err = Error::None;
      uint32_t n = p->ring.push(chunk, [&](uint8_t* dst, uint32_t off, uint32_t len) {
        auto r = io.copy_in_partial(done + off, dst, len);
        if (!r) {
          err = r.error();
          return uint32_t(0);
        }
        if (r.value() < len) err = Error::Fault;
        return uint32_t(r.value());
      });
      got = n;
      done += got;
      if (got) {
        p->read_wait.wake_all();
        p->notify_locked(READABLE, 0);
      }
      if (err != Error::None) {
        if (done) return done;
        return err;
      }
      if (done == total || some) return done;
      continue;
    }
    if (nonblock) {
      if (done) return done;
      return Error::Again;
    }
    WaitTag tag("pipe write", p);
    auto w = p->write_wait.wait(p->mu, 0);
    if (!w) {
      if (done) return done;
      return w.error();
    }
  }
}

size_t PipeEnd::drop(size_t n) {
  Pipe* p = pipe_;
  Hold<Mutex> g(p->mu);
  uint32_t k = uint32_t(n < p->ring.size() ? n : p->ring.size());
  k = p->ring.pop(k, [](uint8_t*, uint32_t, uint32_t) { return true; });
  if (k) {
    p->write_wait.wake_all();
    p->notify_locked(0, WRITABLE);
  }
  return k;
}

uint32_t PipeEnd::poll_events() {
  Pipe* p = pipe_;
  Hold<Mutex> g(p->mu);
  uint32_t ev = 0;
  if (reader_) {
    if (!p->ring.empty()) ev |= READABLE;
    if (p->writers == 0 && !(quiet_hup_ && p->writer_opens == writer_opens_seen_)) ev |= POLL_HUP;
  }
  if (writer_) {
    // Linux reports writable while the pipe is not full; a whole PIPE_BUF
    // of room is what an atomic write needs, so that is the threshold.
    if (p->ring.space() >= PIPE_BUF_SIZE) ev |= WRITABLE;
    if (p->readers == 0) ev |= POLL_ERR;
  }
  return ev;
}

size_t PipeEnd::bytes_available() {
  Hold<Mutex> g(pipe_->mu);
  return pipe_->ring.size();
}

size_t PipeEnd::capacity() {
  Hold<Mutex> g(pipe_->mu);
  return pipe_->ring.capacity();
}

Result<size_t> PipeEnd::set_capacity(size_t bytes, PipeCaller who) {
  if (bytes > PIPE_LIMIT_SIZE) return Error::Invalid;
  size_t cap = round_capacity(bytes);
  Pipe* p = pipe_;
  Hold<Mutex> g(p->mu);
  if (cap > p->ring.capacity() && cap > pipe_max_size() && !who.above_max_size) return Error::Permission;
  // The new size is counted first and taken back on failure; growing is
  // refused when the count is then past a limit (Linux's pipe_set_size).
  const uint64_t pages = cap / PAGE, old = p->accounted;
  uint64_t total = count_pages(pages - old);
  auto undo = [&](Error e) -> Result<size_t> {
    count_pages(old - pages);
    return e;
  };
  if (pages > old && !who.unlimited && (past(total, g_hard) || past(total, g_soft))) return undo(Error::Permission);
  if (cap != p->ring.capacity()) {
    if (p->ring.size() > cap) return undo(Error::Busy);  // fcntl(2): EBUSY
    if (!p->ring.storage()) {
      p->ring.set_capacity_unbacked(uint32_t(cap));  // allocated at the first write
    } else {
      auto* storage = static_cast<uint8_t*>(kmalloc(cap));
      if (!storage) return undo(Error::NoMemory);
      kfree(p->ring.resize(storage, uint32_t(cap)));
    }
  }
  p->accounted = pages;
  p->write_wait.wake_all();
  p->notify_locked(0, WRITABLE);
  return cap;
}

}  // namespace capsule
