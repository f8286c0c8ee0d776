// The console tty (drivers/include/drivers/tty.h, docs/console.md): one line
// discipline between the stdio device and the program's descriptors.
//
// Input arrives in thread context (the virtio-console service thread or the
// serial input thread); the line discipline runs under the tty's Mutex and
// collects echo and signals. Echo is written before the Mutex is dropped
// (so it precedes anything the reader prints in reply); signals are sent
// after it (they take the signal layer's locks). Readers sleep on a
// WaitList woken by input.
#include "drivers/tty.h"

#include <new>

#include "arch/x64/cpu/x64.h"
#include "core/console.h"
#include "core/mm.h"
#include "core/time.h"
#include "core/event/wait.h"
#include "core/thread.h"
#include "lib/log.h"
#include "core/sync/wait_queue.h"
#include "drivers/tty/input_read.h"
#include "drivers/tty/line_discipline.h"
#include "drivers/tty/serial_input.h"
#include "drivers/tty/termios.h"

namespace capsule::tty {
namespace {

using event::WaitList;

constexpr size_t BIG_PIECE = 16384;  // the virtio-console transmit buffer

// `src` through kernel memory, for writers that must see the bytes or
// have no ring of their own to copy into: emit(p, n) per piece. Large
// writes use large pieces (each may cost a device round trip), small ones
// the stack. The count copied, or the error if nothing was.
template <typename F>
Result<size_t> in_pieces(IoBuffer& src, F&& emit) {
  uint8_t small[256];
  uint8_t* piece = small;
  size_t cap = sizeof(small);
  if (src.size() > sizeof(small)) {
    size_t want = src.size() < BIG_PIECE ? src.size() : BIG_PIECE;
    if (auto* p = static_cast<uint8_t*>(kmalloc(want))) piece = p, cap = want;
  }
  size_t done = 0;
  Error err = Error::None;
  while (done < src.size()) {
    size_t n = src.size() - done < cap ? src.size() - done : cap;
    if (auto r = src.copy_in(done, piece, n); !r.ok()) {
      err = r.error();
      break;
    }
    emit(piece, n);
    done += n;
  }
  if (piece != small) kfree(piece);
  if (!done && err != Error::None) return err;
  return done;
}

// The UART has no transmit ring: bytes go out from a bounce buffer.
Result<size_t> serial_write(Stream, IoBuffer& src) {
  return in_pieces(src, [](const uint8_t* p, size_t n) { console_write(reinterpret_cast<const char*>(p), n); });
}

const Backend SERIAL_BACKEND{"serial", serial_write, nullptr};

uint32_t query_events(void*);

struct Tty {
  Mutex mu;
  LineDiscipline ld GUARDED_BY(mu){raw_termios()};
  bool eof GUARDED_BY(mu) = false;  // the host's input ended
  bool terminal = false;
  bool one_output = false;  // stderr leaves through stdout's channel (init)
  WinSize winsize{24, 80, 0, 0};
  WaitList readers;
  PollSource poll{query_events, nullptr};
};

Tty g_tty_state;  // static: devices may deliver input before init()
Tty* g_tty = &g_tty_state;
const Backend* g_backend = &SERIAL_BACKEND;
void (*g_signal_hook)(int) = nullptr;
void (*g_host_signal_hook)(int) = nullptr;
void (*g_host_stats_hook)() = nullptr;
constexpr int SIGWINCH_NR = 28;
constexpr int MAX_SIGNAL = 64;

// Kernel bytes (echo, processed output) to the device.
void write_kernel(Stream s, const uint8_t* p, size_t n) {
  KernelBuffer b(p, n);
  (void)g_backend->write(s, b);
}

// Echo and signals gathered under the Mutex, acted on after it.
class Effects final : public LdiscSink {
 public:
  void echo(const uint8_t* p, size_t n) override {
    for (size_t i = 0; i < n && len < sizeof(buf); ++i) buf[len++] = p[i];
  }
  void signal(int sig) override { sigs |= 1u << sig; }
  uint8_t buf[512];
  size_t len = 0;
  uint32_t sigs = 0;
};

// Echo is written with the tty's Mutex held, before readers are woken: a
// program sees its input only after the terminal showed it (as on Linux,
// where the line discipline echoes before the line becomes readable). The
// device write may sleep; it takes no tty lock.
void echo_locked(Effects& e) REQUIRES(g_tty->mu) {
  g_tty->mu.assert_held();
  if (!e.len) return;
  LineDiscipline::process_output(g_tty->ld.termios(), e.buf, e.len,
                                 [](const uint8_t* q, size_t m) { write_kernel(Stream::Out, q, m); });
}

void send_signals(const Effects& e) {
  for (int sig = 1; sig < 32; ++sig)
    if ((e.sigs >> sig & 1) && g_signal_hook) g_signal_hook(sig);
}

uint32_t query_events(void*) {
  if (!g_tty) return POLL_OUT | POLL_WRNORM;
  MutexGuard g(g_tty->mu);
  uint32_t ev = POLL_OUT | POLL_WRNORM;
  if (g_tty->ld.readable()) ev |= POLL_IN | POLL_RDNORM;
  if (g_tty->eof) ev |= POLL_IN | POLL_RDNORM | POLL_HUP;
  return ev;
}

// Without a device and without a terminal the serial line has no end of
// file: a read returns what the UART holds now, and nothing reads as end of
// file (what the test harness, whose QEMU stdin is /dev/null, relies on).
Result<size_t> read_uart_now(IoBuffer& r, size_t max) {
  size_t n = 0;
  while (n < max && (x64::inb(0x3f8 + 5) & 1)) {
    uint8_t c = x64::inb(0x3f8);
    if (auto res = r.copy_out(n, &c, 1); !res.ok()) return n ? Result<size_t>(n) : Result<size_t>(res.error());
    ++n;
    if (c == '\n') break;
  }
  return n;
}

}  // namespace

void init(bool terminal, uint16_t rows, uint16_t cols, bool one_output) {
  g_tty->terminal = terminal;
  g_tty->one_output = terminal && one_output;
  if (terminal) {
    {
      MutexGuard g(g_tty->mu);  // input may already be arriving (see g_tty_state)
      g_tty->ld.set_termios(default_termios());
    }
    if (rows && cols) g_tty->winsize = WinSize{rows, cols, 0, 0};
    if (g_backend == &SERIAL_BACKEND) serial_input_start();
  }
}

void set_backend(const Backend* b) { g_backend = b ? b : &SERIAL_BACKEND; }
void set_signal_hook(void (*hook)(int)) { g_signal_hook = hook; }
void set_host_signal_hook(void (*hook)(int)) { g_host_signal_hook = hook; }
void set_host_stats_hook(void (*hook)()) { g_host_stats_hook = hook; }

namespace {

// The next decimal number of `s` after spaces; false if there is none or it
// does not fit.
bool next_number(StringView& s, uint32_t& out) {
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  size_t start = i;
  uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && v <= 0xffffffffu) v = v * 10 + uint64_t(s[i++] - '0');
  if (i == start || v > 0xffffffffu) return false;
  out = uint32_t(v);
  s = s.substr(i);
  return true;
}

bool only_spaces(StringView s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] != ' ' && s[i] != '\r') return false;
  return true;
}

}  // namespace

void host_request(StringView line) {
  uint32_t a = 0, b = 0;
  if (line.starts_with("signal ")) {
    StringView rest = line.substr(7);
    if (next_number(rest, a) && only_spaces(rest) && a >= 1 && a <= MAX_SIGNAL) {
      if (g_host_signal_hook) g_host_signal_hook(int(a));
      return;
    }
  } else if (line.starts_with("winsize ")) {
    StringView rest = line.substr(8);
    if (next_number(rest, a) && next_number(rest, b) && only_spaces(rest) && a && b && a <= 0xffff && b <= 0xffff) {
      if (g_tty && g_tty->terminal) set_winsize(WinSize{uint16_t(a), uint16_t(b), 0, 0});
      return;
    }
  } else if (line.starts_with("dump") && only_spaces(line.substr(4))) {
    thread_dump("requested by the host (SIGQUIT to capsule run, or Ctrl-A t)");
    return;
  } else if (line.starts_with("stats") && only_spaces(line.substr(5))) {
    if (g_host_stats_hook) g_host_stats_hook();
    return;
  }
  log_warn("tty: ignored a malformed request from the host ({} bytes)", line.size());
}

size_t input(const uint8_t* p, size_t n) {
  if (!g_tty) return n;
  // In pieces small enough that their echo fits Effects' buffer (at most 6
  // echo bytes per input byte: a two-column rub-out).
  constexpr size_t PIECE = sizeof(Effects::buf) / 6;
  size_t total = 0;
  while (total < n) {
    size_t piece = n - total < PIECE ? n - total : PIECE;
    Effects e;
    size_t took;
    {
      MutexGuard g(g_tty->mu);
      took = g_tty->ld.receive(p + total, piece, e);
      echo_locked(e);
    }
    total += took;
    if (took) {
      g_tty->readers.wake_all();
      g_tty->poll.changed(POLL_IN | POLL_RDNORM);
    }
    send_signals(e);
    if (took < piece) break;  // full: the device keeps the rest
  }
  return total;
}

void input_eof() {
  if (!g_tty) return;
  {
    MutexGuard g(g_tty->mu);
    g_tty->eof = true;
  }
  g_tty->readers.wake_all();
  g_tty->poll.changed(POLL_IN | POLL_RDNORM | POLL_HUP);
}

Result<size_t> read(IoBuffer& r, bool nonblock) {
  size_t max = r.size();
  if (!g_tty) return size_t(0);
  if (max == 0) return size_t(0);
  if (g_backend == &SERIAL_BACKEND && !g_tty->terminal) return read_uart_now(r, max);
  size_t got = 0;
  {
    Tty& t = *g_tty;
    MutexGuard g(t.mu);
    got = TRY(read_input(t.ld, t.mu, t.readers, r, nonblock, t.eof));
  }
  if (g_backend->input_space) g_backend->input_space();
  return got;
}

Result<size_t> write(Stream s, IoBuffer& src) {
  if (!g_tty || !g_tty->terminal) return g_backend->write(s, src);
  if (g_tty->one_output) s = Stream::Out;
  // Output processing (ONLCR...) reads the bytes.
  Termios t;
  {
    MutexGuard g(g_tty->mu);
    t = g_tty->ld.termios();
  }
  return in_pieces(src, [&](const uint8_t* p, size_t n) {
    LineDiscipline::process_output(t, p, n, [&](const uint8_t* q, size_t m) { write_kernel(s, q, m); });
  });
}

bool is_terminal() { return g_tty && g_tty->terminal; }

void get_termios(Termios& t) {
  MutexGuard g(g_tty->mu);
  t = g_tty->ld.termios();
}

void set_termios(const Termios& t, int how) {
  {
    MutexGuard g(g_tty->mu);
    if (how == 2) g_tty->ld.flush_input();
    g_tty->ld.set_termios(t);
  }
  g_tty->readers.wake_all();  // VMIN/VTIME or ICANON may have changed what a read needs
  g_tty->poll.changed(POLL_IN | POLL_RDNORM);
}

void get_winsize(WinSize& w) { w = g_tty->winsize; }
void set_winsize(const WinSize& w) {
  bool changed;
  {
    MutexGuard g(g_tty->mu);
    changed = g_tty->winsize.rows != w.rows || g_tty->winsize.cols != w.cols;
    g_tty->winsize = w;
  }
  if (changed && g_signal_hook) g_signal_hook(SIGWINCH_NR);
}

size_t input_available() {
  if (!g_tty) return 0;
  MutexGuard g(g_tty->mu);
  return g_tty->ld.available();
}

void flush_input() {
  {
    MutexGuard g(g_tty->mu);
    g_tty->ld.flush_input();
  }
  if (g_backend->input_space) g_backend->input_space();
}

Pollable& pollable() { return g_tty->poll; }

}  // namespace capsule::tty
