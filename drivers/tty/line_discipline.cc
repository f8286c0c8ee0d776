// Input processing and canonical editing (drivers/tty/line_discipline.h).
#include "drivers/tty/line_discipline.h"

namespace capsule::tty {
namespace {
constexpr int LINUX_SIGINT = 2, LINUX_SIGQUIT = 3, LINUX_SIGTSTP = 20;
}

void LineDiscipline::set_termios(const Termios& t) {
  bool was_canonical = canonical();
  t_ = t;
  if (was_canonical && !canonical()) {
    // Marks mean nothing outside canonical mode: drop them with the line
    // boundary (termios(3): pending input becomes readable).
    for (uint64_t i = head_; i < tail_; ++i) set_mark(i, false);
    commit_ = tail_;
  }
}

void LineDiscipline::set_mark(uint64_t i, bool v) {
  uint64_t& w = marks_[(i & (CAPACITY - 1)) / 64];
  uint64_t bit = 1ull << (i % 64);
  w = v ? w | bit : w & ~bit;
}

void LineDiscipline::put(uint8_t c, bool eof) {
  buf_[tail_ & (CAPACITY - 1)] = c;
  set_mark(tail_, eof);
  ++tail_;
}

bool LineDiscipline::is_delim(uint8_t c) const {
  return c == '\n' || (t_.cc[VEOL] && c == t_.cc[VEOL]) || (t_.cc[VEOL2] && c == t_.cc[VEOL2]);
}

bool LineDiscipline::readable() const { return commit_ > head_; }

size_t LineDiscipline::available() const {
  size_t n = 0;
  for (uint64_t i = head_; i < commit_; ++i)
    if (!eof_mark(i)) ++n;
  return n;
}

// ECHOCTL: control characters other than TAB and NL echo as ^X, DEL as ^?.
void LineDiscipline::echo_char(uint8_t c, LdiscSink& sink) {
  if ((t_.lflag & ECHOCTL) && ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)) {
    uint8_t two[2] = {'^', uint8_t(c == 0x7f ? '?' : c + 0x40)};
    sink.echo(two, 2);
  } else {
    sink.echo(&c, 1);
  }
}

void LineDiscipline::erase_one(LdiscSink& sink) {
  if (tail_ == commit_) return;
  uint8_t c = at(tail_ - 1);
  --tail_;
  if (!(t_.lflag & ECHO)) return;
  if (t_.lflag & ECHOE) {
    static const uint8_t rub[3] = {'\b', ' ', '\b'};
    int width = ((t_.lflag & ECHOCTL) && ((c < 0x20 && c != '\t') || c == 0x7f)) ? 2 : 1;
    for (int i = 0; i < width; ++i) sink.echo(rub, 3);
  } else {
    echo_char(t_.cc[VERASE], sink);
  }
}

size_t LineDiscipline::receive(const uint8_t* p, size_t n, LdiscSink& sink) {
  const uint32_t lf = t_.lflag, inf = t_.iflag;
  const bool echo = lf & ECHO;
  size_t i = 0;
  for (; i < n; ++i) {
    uint8_t c = p[i];
    if (inf & ISTRIP) c &= 0x7f;
    if (c == '\r') {
      if (inf & IGNCR) continue;
      if (inf & ICRNL) c = '\n';
    } else if (c == '\n' && (inf & INLCR)) {
      c = '\r';
    }
    if (lf & ISIG) {
      int sig = 0;
      if (t_.cc[VINTR] && c == t_.cc[VINTR]) sig = LINUX_SIGINT;
      else if (t_.cc[VQUIT] && c == t_.cc[VQUIT]) sig = LINUX_SIGQUIT;
      else if (t_.cc[VSUSP] && c == t_.cc[VSUSP]) sig = LINUX_SIGTSTP;  // ^Z: the foreground group stops
      if (sig) {
        if (!(lf & NOFLSH)) flush_input();
        if (echo) echo_char(c, sink);
        sink.signal(sig);
        continue;
      }
    }
    if (!canonical()) {
      if (!space()) break;  // the caller keeps the rest (flow control)
      put(c, false);
      commit_ = tail_;
      if (echo) echo_char(c, sink);
      continue;
    }
    if (t_.cc[VERASE] && c == t_.cc[VERASE]) {
      erase_one(sink);
      continue;
    }
    if (t_.cc[VKILL] && c == t_.cc[VKILL]) {
      if ((lf & ECHOKE) && (lf & ECHOE)) {
        while (tail_ > commit_) erase_one(sink);
      } else {
        tail_ = commit_;
        if (echo) {
          echo_char(c, sink);
          if (lf & ECHOK) sink.echo(reinterpret_cast<const uint8_t*>("\n"), 1);
        }
      }
      continue;
    }
    if ((lf & IEXTEN) && t_.cc[VWERASE] && c == t_.cc[VWERASE]) {
      while (tail_ > commit_ && (at(tail_ - 1) == ' ' || at(tail_ - 1) == '\t')) erase_one(sink);
      while (tail_ > commit_ && at(tail_ - 1) != ' ' && at(tail_ - 1) != '\t') erase_one(sink);
      continue;
    }
    if (t_.cc[VEOF] && c == t_.cc[VEOF]) {
      if (!space()) continue;
      put(c, true);
      commit_ = tail_;
      continue;
    }
    if (is_delim(c)) {
      if (!space()) flush_input();  // a line longer than the buffer: keep the newest
      put(c, false);
      commit_ = tail_;
      if (echo || (c == '\n' && (lf & ECHONL))) echo_char(c, sink);
      continue;
    }
    // Keep one slot so that a delimiter always fits (Linux's N_TTY does so).
    if (space() <= 1) continue;
    put(c, false);
    if (echo) echo_char(c, sink);
  }
  return i;
}

}  // namespace capsule::tty
