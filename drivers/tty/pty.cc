// A pseudo-terminal pair (drivers/include/drivers/pty.h, docs/pty.md).
//
// One Mutex guards the pair. The master's writes run through the line
// discipline (the same one the console uses) into the slave's input; its
// echo is output-processed into the queue the master reads, as the
// slave's writes are. Signals the line discipline asks for are gathered
// under the Mutex and sent after it (the signal layer takes its own
// locks). Readers and writers of each side sleep on that side's WaitList;
// both sides are Pollables whose readiness is a query of the pair.
#include "drivers/pty.h"

#include <new>

#include "core/event/wait.h"
#include "core/sync/wait_queue.h"
#include "drivers/tty/input_read.h"
#include "drivers/tty/line_discipline.h"

namespace capsule::tty {
namespace {
constexpr int SIGWINCH_NR = 28;
constexpr size_t CHUNK = 256;  // bytes copied from the program per step (kernel stack)

// A write's bytes, copied from the program CHUNK at a time and handed to
// `put(chunk, n)`, which returns how many it took: all n to go on, fewer
// to end the write there, an error only if it took none. The write's
// result: the bytes taken, or the first error if none were (a bad buffer
// after some bytes ends the write short, as Linux's tty_write).
template <class Put>
Result<size_t> write_chunks(IoBuffer& src, Put&& put) {
  size_t done = 0;
  uint8_t chunk[CHUNK];
  while (done < src.size()) {
    size_t n = src.size() - done < CHUNK ? src.size() - done : CHUNK;
    if (auto r = src.copy_in(done, chunk, n); !r.ok()) {
      if (!done) return r.error();
      break;
    }
    Result<size_t> took = put(chunk, n);
    if (!took.ok()) return done ? Result<size_t>(done) : took;
    done += took.value();
    if (took.value() < n) break;
  }
  return done;
}
}  // namespace

struct Pty::State final : LdiscSink {
  State(PtyOwner& o) : owner(o) {}
  PtyOwner& owner;
  Mutex mu;
  LineDiscipline ld GUARDED_BY(mu){pty_default_termios()};
  uint8_t out[OUT_CAPACITY];
  uint64_t out_head GUARDED_BY(mu) = 0, out_tail GUARDED_BY(mu) = 0;
  WinSize winsize GUARDED_BY(mu){0, 0, 0, 0};
  uint8_t status GUARDED_BY(mu) = 0;  // packet mode's pending status bits
  bool packet GUARDED_BY(mu) = false;
  bool stopped GUARDED_BY(mu) = false;
  bool hung_up GUARDED_BY(mu) = false;
  bool slave_seen GUARDED_BY(mu) = false;  // a slave was opened once
  int slaves GUARDED_BY(mu) = 0;
  uint32_t sigs = 0;              // gathered under mu, sent after it
  event::WaitList master_wait;   // master readers and writers
  event::WaitList slave_wait;    // slave readers and writers
  PollSource master_poll{master_events, this};
  PollSource slave_poll{slave_events, this};

  size_t out_used() const REQUIRES(mu) { return size_t(out_tail - out_head); }
  size_t out_space() const REQUIRES(mu) { return OUT_CAPACITY - out_used(); }
  // Appends what fits.
  void out_put(const uint8_t* p, size_t n) REQUIRES(mu) {
    for (size_t i = 0; i < n && out_space(); ++i) out[out_tail++ & (OUT_CAPACITY - 1)] = p[i];
  }
  // Output processing under the current termios into the queue.
  void out_processed(const uint8_t* p, size_t n) REQUIRES(mu) {
    LineDiscipline::process_output(ld.termios(), p, n, [this](const uint8_t* q, size_t m) NO_THREAD_SAFETY_ANALYSIS { out_put(q, m); });
  }
  void add_status(uint8_t bits) REQUIRES(mu) {
    if (packet) status |= bits;
  }

  // LdiscSink: echo goes to the master (dropped when its queue is full).
  // Called by ld.receive(), under mu.
  void echo(const uint8_t* p, size_t n) override NO_THREAD_SAFETY_ANALYSIS { out_processed(p, n); }
  void signal(int sig) override { sigs |= 1u << sig; }

  // Sends what was gathered; call without mu.
  void send_signals(uint32_t s) {
    for (int sig = 1; sig < 32; ++sig)
      if (s >> sig & 1) owner.pty_signal(sig);
  }
  void changed() {
    master_wait.wake_all();
    slave_wait.wake_all();
    master_poll.changed(POLL_ALL);
    slave_poll.changed(POLL_ALL);
  }

  static uint32_t master_events(void* self) {
    State& s = *static_cast<State*>(self);
    MutexGuard g(s.mu);
    uint32_t ev = 0;
    if (s.ld.space() || (s.ld.termios().lflag & ICANON)) ev |= POLL_OUT | POLL_WRNORM;
    if (s.out_used() || (s.packet && s.status)) ev |= POLL_IN | POLL_RDNORM;
    if (s.packet && s.status) ev |= POLL_PRI;
    if (s.slave_seen && !s.slaves) ev |= POLL_HUP;
    return ev;
  }
  static uint32_t slave_events(void* self) {
    State& s = *static_cast<State*>(self);
    MutexGuard g(s.mu);
    if (s.hung_up) return POLL_IN | POLL_RDNORM | POLL_OUT | POLL_WRNORM | POLL_ERR | POLL_HUP;
    uint32_t ev = 0;
    if (s.ld.readable()) ev |= POLL_IN | POLL_RDNORM;
    if (!s.stopped && s.out_space() >= 2) ev |= POLL_OUT | POLL_WRNORM;
    return ev;
  }
};

Termios pty_default_termios() {
  Termios t = default_termios();
  t.iflag &= ~IUTF8;  // Linux's tty_std_termios: ICRNL | IXON
  return t;
}

Pty::Pty(PtyOwner& owner) : s_(new (std::nothrow) State(owner)) {}
Pty::~Pty() { delete s_; }

Pollable& Pty::master_pollable() { return s_->master_poll; }
Pollable& Pty::slave_pollable() { return s_->slave_poll; }

Result<size_t> Pty::master_read(IoBuffer& dst, bool nonblock) {
  State& s = *s_;
  if (!dst.size()) return size_t(0);
  size_t got = 0;
  {
    MutexGuard g(s.mu);
    for (;;) {
      if (s.packet && s.status) {
        uint8_t b = s.status;
        TRY(dst.copy_out(0, &b, 1));
        s.status = 0;
        return size_t(1);
      }
      if (s.out_used()) {  // packet mode with room for one byte: the 0 alone, as N_TTY
        size_t pos = 0;
        if (s.packet) {
          const uint8_t zero = 0;
          TRY(dst.copy_out(0, &zero, 1));
          pos = got = 1;
        }
        while (pos < dst.size() && s.out_used()) {
          size_t at = s.out_head & (OUT_CAPACITY - 1);
          size_t run = OUT_CAPACITY - at;
          if (run > s.out_used()) run = s.out_used();
          if (run > dst.size() - pos) run = dst.size() - pos;
          if (auto r = dst.copy_out(pos, &s.out[at], run); !r.ok()) {
            if (!got) return r.error();
            break;
          }
          s.out_head += run;
          pos += run;
          got = pos;
        }
        break;
      }
      if (s.slave_seen && !s.slaves) return Error::Io;
      if (nonblock) return Error::Again;
      TRY(s.master_wait.wait(s.mu, 0));
    }
  }
  s.changed();  // room for the slave's writers
  return got;
}

Result<size_t> Pty::master_write(IoBuffer& src, bool nonblock) {
  State& s = *s_;
  return write_chunks(src, [&](const uint8_t* chunk, size_t n) -> Result<size_t> {
    size_t pos = 0;
    while (pos < n) {
      uint32_t sigs;
      size_t took;
      {
        MutexGuard g(s.mu);
        took = s.ld.receive(chunk + pos, n - pos, s);
        sigs = s.sigs;
        s.sigs = 0;
        if (!took) {
          if (nonblock) return pos ? Result<size_t>(pos) : Result<size_t>(Error::Again);
          if (auto w = s.master_wait.wait(s.mu, 0); !w.ok())
            return pos ? Result<size_t>(pos) : Result<size_t>(w.error());
          continue;
        }
      }
      pos += took;
      s.changed();
      s.send_signals(sigs);
    }
    return n;
  });
}

size_t Pty::master_available() {
  MutexGuard g(s_->mu);
  return s_->out_used();
}

Result<size_t> Pty::slave_read(IoBuffer& dst, bool nonblock) {
  State& s = *s_;
  if (!dst.size()) return size_t(0);
  size_t got;
  {
    MutexGuard g(s.mu);
    if (s.hung_up) return size_t(0);
    got = TRY(read_input(s.ld, s.mu, s.slave_wait, dst, nonblock, s.hung_up));
  }
  s.changed();  // room for the master's writers
  return got;
}

Result<size_t> Pty::slave_write(IoBuffer& src, bool nonblock) {
  State& s = *s_;
  return write_chunks(src, [&](const uint8_t* chunk, size_t n) -> Result<size_t> {
    size_t pos = 0;
    while (pos < n) {
      {
        MutexGuard g(s.mu);
        if (s.hung_up) return pos ? Result<size_t>(pos) : Result<size_t>(Error::Io);
        // Each byte becomes at most two (ONLCR).
        size_t fit = s.stopped ? 0 : s.out_space() / 2;
        if (!fit) {
          if (nonblock) return pos ? Result<size_t>(pos) : Result<size_t>(Error::Again);
          if (auto w = s.slave_wait.wait(s.mu, 0); !w.ok())
            return pos ? Result<size_t>(pos) : Result<size_t>(w.error());
          continue;
        }
        size_t m = n - pos < fit ? n - pos : fit;
        s.out_processed(chunk + pos, m);
        pos += m;
      }
      s.changed();
    }
    return n;
  });
}

size_t Pty::slave_available() {
  MutexGuard g(s_->mu);
  return s_->ld.available();
}

size_t Pty::output_queued() {
  MutexGuard g(s_->mu);
  return s_->out_used();
}

void Pty::slave_opened() {
  {
    MutexGuard g(s_->mu);
    ++s_->slaves;
    s_->slave_seen = true;
  }
  s_->changed();
}

void Pty::slave_closed() {
  {
    MutexGuard g(s_->mu);
    --s_->slaves;
  }
  s_->changed();
}

void Pty::hang_up() {
  {
    MutexGuard g(s_->mu);
    s_->hung_up = true;
  }
  s_->changed();
}

bool Pty::hung_up() {
  MutexGuard g(s_->mu);
  return s_->hung_up;
}

bool Pty::slave_gone() {
  MutexGuard g(s_->mu);
  return s_->slave_seen && !s_->slaves;
}

void Pty::get_termios(Termios& t) {
  MutexGuard g(s_->mu);
  t = s_->ld.termios();
}

namespace {
// IXON with ^S/^Q: the master may do flow control itself (packet mode's
// TIOCPKT_DOSTOP / NOSTOP tell it when that changes).
bool ixon_flow(const Termios& t) { return (t.iflag & IXON) && t.cc[VSTOP] == 0x13 && t.cc[VSTART] == 0x11; }
}  // namespace

void Pty::set_termios(const Termios& t, int how) {
  {
    MutexGuard g(s_->mu);
    bool was = ixon_flow(s_->ld.termios()), now = ixon_flow(t);
    if (how == 2) s_->ld.flush_input();
    s_->ld.set_termios(t);
    if (was != now) {
      s_->status &= uint8_t(~(PKT_DOSTOP | PKT_NOSTOP));
      s_->add_status(now ? PKT_DOSTOP : PKT_NOSTOP);
    }
  }
  s_->changed();  // VMIN/VTIME or ICANON may have changed what a read needs
}

WinSize Pty::winsize() {
  MutexGuard g(s_->mu);
  return s_->winsize;
}

void Pty::set_winsize(const WinSize& w) {
  bool changed;
  {
    State& s = *s_;
    MutexGuard g(s.mu);
    const WinSize o = s.winsize;
    changed = o.rows != w.rows || o.cols != w.cols || o.xpixel != w.xpixel || o.ypixel != w.ypixel;
    s.winsize = w;
  }
  if (changed) s_->owner.pty_signal(SIGWINCH_NR);
}

void Pty::set_packet(bool on) {
  {
    MutexGuard g(s_->mu);
    if (on && !s_->packet) s_->status = 0;
    s_->packet = on;
  }
  s_->changed();
}

bool Pty::packet() {
  MutexGuard g(s_->mu);
  return s_->packet;
}

void Pty::flush(bool from_master, bool input, bool output) {
  {
    MutexGuard g(s_->mu);
    bool slave_input = from_master ? output : input;
    bool master_input = from_master ? input : output;
    if (slave_input) s_->ld.flush_input();
    if (master_input) s_->out_head = s_->out_tail;
    if (!from_master) s_->add_status(uint8_t((input ? PKT_FLUSHREAD : 0) | (output ? PKT_FLUSHWRITE : 0)));
  }
  s_->changed();
}

void Pty::set_stopped(bool stopped) {
  {
    MutexGuard g(s_->mu);
    s_->stopped = stopped;
    s_->status &= uint8_t(~(PKT_STOP | PKT_START));
    s_->add_status(stopped ? PKT_STOP : PKT_START);
  }
  s_->changed();
}

}  // namespace capsule::tty
