// libFuzzer target: the tty line discipline (drivers/tty/line_discipline.cc).
// The input is a termios (36 bytes) then operations: input bytes, reads,
// new termios, output processing, commit (host EOF) and flush. After each
// operation the buffer's invariants must hold: counts within the capacity,
// a read never returns more than it was asked or than available() said,
// canonical reads stop at a delimiter, signals are the three it may raise.
#include <cstdlib>
#include <deque>
#include <vector>

#include "drivers/tty/line_discipline.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

using namespace capsule::tty;

namespace {

struct Sink final : LdiscSink {
  size_t echoed = 0;
  void echo(const uint8_t* p, size_t n) override {
    FUZZ_CHECK(n >= 1 && n <= 3);
    echoed += n;
  }
  void signal(int sig) override { FUZZ_CHECK(sig == 2 || sig == 3 || sig == 20); }
};

Termios termios_from(const uint8_t* b) {
  Termios t;
  __builtin_memcpy(&t, b, sizeof t);
  return t;
}

bool is_delim(const Termios& t, uint8_t c) {
  return c == '\n' || (t.cc[VEOL] && c == t.cc[VEOL]) || (t.cc[VEOL2] && c == t.cc[VEOL2]);
}

// Raw input (neither ICANON nor ISIG) is a FIFO of the bytes taken, after
// the input translations: checked byte for byte while every byte buffered
// came in that way.
bool raw(const Termios& t) { return !(t.lflag & (ICANON | ISIG)); }

void expect_input(const Termios& t, const uint8_t* p, size_t n, std::deque<uint8_t>& q) {
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = p[i];
    if (t.iflag & ISTRIP) c &= 0x7f;
    if (c == '\r') {
      if (t.iflag & IGNCR) continue;
      if (t.iflag & ICRNL) c = '\n';
    } else if (c == '\n' && (t.iflag & INLCR)) {
      c = '\r';
    }
    q.push_back(c);
  }
}

void check(const LineDiscipline& ld) {
  FUZZ_CHECK(ld.buffered() <= LineDiscipline::CAPACITY);
  FUZZ_CHECK(ld.space() == LineDiscipline::CAPACITY - ld.buffered());
  FUZZ_CHECK(ld.available() <= ld.buffered());
  if (ld.available()) FUZZ_CHECK(ld.readable());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in{data, size};
  const uint8_t* tb;
  if (!in.take(sizeof(Termios), &tb)) return -1;
  auto* ld = new LineDiscipline(termios_from(tb));
  Sink sink;
  std::vector<uint8_t> got;
  std::deque<uint8_t> expect;
  bool tracking = true;  // expect holds exactly what is buffered
  for (int op; (op = in.byte()) >= 0;) {
    switch (op % 6) {
      case 0: {  // input: a count, then that many bytes (repeated to fill the buffer)
        int k = in.byte();
        if (k < 0) break;
        const uint8_t* p;
        size_t n = size_t(k) & 0x3f;
        if (!in.take(n, &p)) break;
        size_t reps = (k & 0x40) ? 400 : 1;  // reaches a full buffer in a few ops
        for (size_t r = 0; r < reps && n; ++r) {
          size_t before = ld->buffered();
          size_t took = ld->receive(p, n, sink);
          FUZZ_CHECK(took <= n);
          if (tracking && raw(ld->termios())) {
            expect_input(ld->termios(), p, took, expect);
            FUZZ_CHECK(expect.size() == ld->buffered());
          } else {
            tracking = false;
          }
          if (ld->termios().lflag & ICANON) FUZZ_CHECK(took == n);
          if (!(ld->termios().lflag & ICANON) && !(ld->termios().lflag & ISIG)) FUZZ_CHECK(ld->buffered() >= before);
          FUZZ_CHECK(ld->buffered() <= LineDiscipline::CAPACITY);
        }
        check(*ld);
        break;
      }
      case 1: {  // read up to N bytes
        int k = in.byte();
        if (k < 0) break;
        size_t max = size_t(k) * 97;
        size_t avail = ld->available();
        got.clear();
        size_t n = ld->read(max, [&](const uint8_t* p, size_t len) {
          got.insert(got.end(), p, p + len);
          return true;
        });
        FUZZ_CHECK(n == got.size() && n <= max && n <= avail);
        if (tracking) {
          for (uint8_t c : got) {
            FUZZ_CHECK(!expect.empty() && expect.front() == c);
            expect.pop_front();
          }
        }
        if (!ld->buffered()) {
          tracking = true;
          expect.clear();
        }
        if (ld->termios().lflag & ICANON)
          for (size_t i = 0; i + 1 < got.size(); ++i) FUZZ_CHECK(!is_delim(ld->termios(), got[i]));
        check(*ld);
        break;
      }
      case 2: {  // new termios
        const uint8_t* p;
        if (!in.take(sizeof(Termios), &p)) break;
        ld->set_termios(termios_from(p));
        if (!raw(ld->termios())) tracking = false;
        if (!ld->buffered()) {
          tracking = true;
          expect.clear();
        }
        check(*ld);
        break;
      }
      case 3: {  // output processing
        int k = in.byte();
        const uint8_t* p;
        if (k < 0 || !in.take(size_t(k) & 0x3f, &p)) break;
        size_t n = size_t(k) & 0x3f, out = 0;
        LineDiscipline::process_output(ld->termios(), p, n, [&](const uint8_t*, size_t len) { out += len; });
        FUZZ_CHECK(out >= n && out <= 2 * n);
        break;
      }
      case 4:
        ld->commit_pending();
        check(*ld);
        break;
      case 5:
        ld->flush_input();
        FUZZ_CHECK(ld->buffered() == 0 && !ld->readable());
        tracking = true;
        expect.clear();
        break;
    }
  }
  delete ld;
  return 0;
}
