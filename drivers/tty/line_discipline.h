#pragma once
// A minimal line discipline (Linux's N_TTY subset; termios(3) for the
// semantics): input processing (ICRNL, INLCR, IGNCR, ISTRIP), canonical
// editing (ICANON: VERASE, VKILL, VWERASE, VEOF, line delimiters), echo
// (ECHO, ECHOE, ECHOK, ECHONL, ECHOCTL), signal characters (ISIG: VINTR,
// VQUIT, VSUSP: SIGINT, SIGQUIT, SIGTSTP to the foreground group) and output
// processing (OPOST: ONLCR, OCRNL). Pure logic, no locks: the tty
// (drivers/tty/tty.cc) serializes calls; tests/unit/line_discipline_test.cc.
#include <cstddef>
#include <cstdint>

#include "drivers/tty/termios.h"

namespace capsule::tty {

// Where input processing sends what is not input data.
class LdiscSink {
 public:
  virtual void echo(const uint8_t* p, size_t n) = 0;  // raw echo bytes (before OPOST)
  virtual void signal(int sig) = 0;                   // 2 SIGINT, 3 SIGQUIT

 protected:
  ~LdiscSink() = default;
};

class LineDiscipline {
 public:
  static constexpr size_t CAPACITY = 16384;  // a power of two

  explicit LineDiscipline(const Termios& t) : t_(t) {}

  const Termios& termios() const { return t_; }
  // Leaving canonical mode makes a pending partial line readable.
  void set_termios(const Termios& t);

  // Processes input bytes; returns how many it took. In canonical mode
  // every byte is taken (characters beyond a full buffer are dropped, as
  // Linux does); otherwise it stops when the buffer is full.
  size_t receive(const uint8_t* p, size_t n, LdiscSink& sink);

  // True when a read would return now: a complete line (or an end-of-file
  // mark) in canonical mode, any byte otherwise.
  bool readable() const;
  // Bytes a read could return now (FIONREAD).
  size_t available() const;
  // Bytes not yet read, including a line being edited.
  size_t buffered() const { return size_t(tail_ - head_); }
  size_t space() const { return CAPACITY - buffered(); }

  // Moves up to `max` readable bytes to emit(ptr, len) (called once or
  // twice, in order); emit returns false to stop (a fault). Canonical mode
  // stops after a line delimiter; a VEOF mark is consumed and not copied
  // (so a read at the start of a line returns 0). Returns the count.
  template <typename F>
  size_t read(size_t max, F&& emit);

  // At host end of file: a partial canonical line becomes readable.
  void commit_pending() { commit_ = tail_; }
  // Discards all input (VINTR without NOFLSH, TCSETSF, TCFLSH).
  void flush_input() { head_ = commit_ = tail_; }

  // Output processing under `t`: calls emit(ptr, len) with the
  // translated bytes.
  template <typename F>
  static void process_output(const Termios& t, const uint8_t* p, size_t n, F&& emit);

 private:
  bool canonical() const { return t_.lflag & ICANON; }
  uint8_t at(uint64_t i) const { return buf_[i & (CAPACITY - 1)]; }
  bool eof_mark(uint64_t i) const { return marks_[(i & (CAPACITY - 1)) / 64] >> (i % 64) & 1; }
  void set_mark(uint64_t i, bool v);
  void put(uint8_t c, bool eof);
  void echo_char(uint8_t c, LdiscSink& sink);
  void erase_one(LdiscSink& sink);
  bool is_delim(uint8_t c) const;

  Termios t_;
  uint8_t buf_[CAPACITY];
  uint64_t marks_[CAPACITY / 64] = {};  // VEOF positions
  uint64_t head_ = 0;    // next byte to read
  uint64_t commit_ = 0;  // end of readable input
  uint64_t tail_ = 0;    // end of input (commit_..tail_: the line being edited)
};

template <typename F>
size_t LineDiscipline::read(size_t max, F&& emit) {
  size_t done = 0;
  while (done < max && head_ < commit_) {
    uint64_t pos = head_;
    if (eof_mark(pos)) {  // VEOF ends the line and is not part of it
      set_mark(pos, false);
      ++head_;
      return done;
    }
    // A run of plain bytes up to the ring's end, the limit or a delimiter.
    size_t run = 0;
    bool stop = false;
    while (done + run < max && pos + run < commit_ && ((pos + run) & (CAPACITY - 1)) >= (pos & (CAPACITY - 1))) {
      if (eof_mark(pos + run)) break;
      uint8_t c = at(pos + run);
      ++run;
      if (canonical() && is_delim(c)) {
        stop = true;
        break;
      }
    }
    if (!run) break;
    if (!emit(&buf_[pos & (CAPACITY - 1)], run)) break;
    head_ += run;
    done += run;
    if (stop) break;
  }
  return done;
}

template <typename F>
void LineDiscipline::process_output(const Termios& t_, const uint8_t* p, size_t n, F&& emit) {
  if (!(t_.oflag & OPOST) || !(t_.oflag & (ONLCR | OCRNL))) {
    if (n) emit(p, n);
    return;
  }
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == '\n' && (t_.oflag & ONLCR)) {
      if (i > start) emit(p + start, i - start);
      static const uint8_t crlf[2] = {'\r', '\n'};
      emit(crlf, 2);
      start = i + 1;
    } else if (p[i] == '\r' && (t_.oflag & OCRNL)) {
      if (i > start) emit(p + start, i - start);
      static const uint8_t nl = '\n';
      emit(&nl, 1);
      start = i + 1;
    }
  }
  if (n > start) emit(p + start, n - start);
}

}  // namespace capsule::tty
