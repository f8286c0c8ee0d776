// The console's line discipline (drivers/tty/line_discipline.h): feed
// bytes, check what a read returns, what is echoed and which signals are
// raised, against termios(3)/Linux N_TTY behaviour.
#include "drivers/tty/line_discipline.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

using namespace capsule::tty;

namespace {

struct Sink final : LdiscSink {
  std::string echoed;
  std::vector<int> sigs;
  void echo(const uint8_t* p, size_t n) override { echoed.append(reinterpret_cast<const char*>(p), n); }
  void signal(int sig) override { sigs.push_back(sig); }
};

struct Fixture {
  std::unique_ptr<LineDiscipline> ld;
  Sink sink;
  explicit Fixture(const Termios& t) : ld(new LineDiscipline(t)) {}
  size_t feed(const std::string& s) {
    return ld->receive(reinterpret_cast<const uint8_t*>(s.data()), s.size(), sink);
  }
  std::string read(size_t max = 4096) {
    std::string out;
    ld->read(max, [&](const uint8_t* p, size_t n) {
      out.append(reinterpret_cast<const char*>(p), n);
      return true;
    });
    return out;
  }
};

std::string out_processed(const Termios& t, const std::string& s) {
  std::string out;
  LineDiscipline::process_output(t, reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                                 [&](const uint8_t* p, size_t n) { out.append(reinterpret_cast<const char*>(p), n); });
  return out;
}

TEST(LineDiscipline, CanonicalLineWaitsForNewline) {
  Fixture f(default_termios());
  f.feed("hello");
  EXPECT_FALSE(f.ld->readable());
  EXPECT_EQ(f.ld->available(), 0u);
  f.feed("\r");  // ICRNL
  EXPECT_TRUE(f.ld->readable());
  EXPECT_EQ(f.ld->available(), 6u);
  EXPECT_EQ(f.read(), "hello\n");
  EXPECT_EQ(f.sink.echoed, "hello\n");
}

TEST(LineDiscipline, ReadStopsAtEachLine) {
  Fixture f(default_termios());
  f.feed("one\ntwo\n");
  EXPECT_EQ(f.read(), "one\n");
  EXPECT_EQ(f.read(), "two\n");
  EXPECT_FALSE(f.ld->readable());
}

TEST(LineDiscipline, ShortReadLeavesRestOfLine) {
  Fixture f(default_termios());
  f.feed("abcdef\n");
  EXPECT_EQ(f.read(4), "abcd");
  EXPECT_EQ(f.read(), "ef\n");
}

TEST(LineDiscipline, EraseAndKill) {
  Fixture f(default_termios());
  f.feed("abx\x7f" "c\n");
  EXPECT_EQ(f.read(), "abc\n");
  EXPECT_EQ(f.sink.echoed, "abx\b \bc\n");  // ECHOE
  f.sink.echoed.clear();
  f.feed("junk\x15ok\n");  // VKILL (^U) with ECHOKE: each character rubbed out
  EXPECT_EQ(f.read(), "ok\n");
  EXPECT_EQ(f.sink.echoed, "junk\b \b\b \b\b \b\b \bok\n");
  f.feed("\x7f\x7fz\n");  // erase on an empty line does nothing
  EXPECT_EQ(f.read(), "z\n");
}

TEST(LineDiscipline, WordErase) {
  Fixture f(default_termios());
  f.feed("ls foo  \x17" "bar\n");
  EXPECT_EQ(f.read(), "ls bar\n");
}

TEST(LineDiscipline, EofAtLineStartReadsZeroThenContinues) {
  Fixture f(default_termios());
  f.feed("\x04");
  EXPECT_TRUE(f.ld->readable());
  EXPECT_EQ(f.read(), "");
  EXPECT_FALSE(f.ld->readable());
  f.feed("abc\x04");  // ^D after text: the text without a newline
  EXPECT_EQ(f.read(), "abc");
  EXPECT_FALSE(f.ld->readable());  // the ^D went with it
  EXPECT_EQ(f.sink.echoed, "abc");  // VEOF is not echoed
}

TEST(LineDiscipline, SignalsFlushAndEcho) {
  Fixture f(default_termios());
  f.feed("partial\x03");
  ASSERT_EQ(f.sink.sigs, std::vector<int>{2});
  EXPECT_EQ(f.sink.echoed, "partial^C");
  f.feed("\n");
  EXPECT_EQ(f.read(), "\n");  // the partial line was discarded
  f.feed("\x1c");
  EXPECT_EQ(f.sink.sigs, (std::vector<int>{2, 3}));
  f.feed("y\x1a" "x\n");  // VSUSP: SIGTSTP, the partial line discarded, ^Z echoed
  EXPECT_EQ(f.sink.sigs, (std::vector<int>{2, 3, 20}));
  EXPECT_EQ(f.read(), "x\n");
}

TEST(LineDiscipline, NoflshKeepsInputAndIsigOffPassesCharacters) {
  Termios t = default_termios();
  t.lflag |= NOFLSH;
  Fixture f(t);
  f.feed("ab\x03" "c\n");
  EXPECT_EQ(f.read(), "abc\n");
  t.lflag &= ~(ISIG | ECHOCTL);
  f.ld->set_termios(t);
  f.feed("\x03\n");
  EXPECT_EQ(f.read(), "\x03\n");
  EXPECT_EQ(f.sink.sigs.size(), 1u);
}

TEST(LineDiscipline, EchoOffAndEchoNl) {
  Termios t = default_termios();
  t.lflag &= ~ECHO;
  Fixture f(t);
  f.feed("secret\n");
  EXPECT_EQ(f.sink.echoed, "");
  t.lflag |= ECHONL;
  f.ld->set_termios(t);
  f.feed("x\n");
  EXPECT_EQ(f.sink.echoed, "\n");
}

TEST(LineDiscipline, EchoCtlShowsCaret) {
  Fixture f(default_termios());
  f.feed("\x01\t\n");
  EXPECT_EQ(f.sink.echoed, "^A\t\n");
  f.sink.echoed.clear();
  f.feed("\x01\x7f");  // erasing a ^A rubs out two columns
  EXPECT_EQ(f.sink.echoed, "^A\b \b\b \b");
}

TEST(LineDiscipline, RawModeReturnsBytesAsTheyCome) {
  Termios t = default_termios();
  t.lflag &= ~(ICANON | ECHO);
  t.iflag &= ~ICRNL;
  Fixture f(t);
  f.feed("a\rb");
  EXPECT_TRUE(f.ld->readable());
  EXPECT_EQ(f.read(), "a\rb");
  f.feed("\x7f\x04");  // no editing in raw mode
  EXPECT_EQ(f.read(), "\x7f\x04");
}

TEST(LineDiscipline, LeavingCanonicalModeReleasesPartialLine) {
  Fixture f(default_termios());
  f.feed("abc");
  EXPECT_FALSE(f.ld->readable());
  Termios t = default_termios();
  t.lflag &= ~ICANON;
  f.ld->set_termios(t);
  EXPECT_EQ(f.read(), "abc");
}

TEST(LineDiscipline, PassThroughIsBinarySafeWithFlowControl) {
  Fixture f(raw_termios());
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  f.feed(all);
  EXPECT_EQ(f.read(), all);
  EXPECT_EQ(f.sink.echoed, "");
  EXPECT_TRUE(f.sink.sigs.empty());
  std::string big(LineDiscipline::CAPACITY + 100, 'x');
  EXPECT_EQ(f.feed(big), LineDiscipline::CAPACITY);  // the rest waits for room
  EXPECT_EQ(f.ld->space(), 0u);
  EXPECT_EQ(f.read(100).size(), 100u);
  EXPECT_EQ(f.ld->space(), 100u);
}

TEST(LineDiscipline, ReadAcrossTheRingEnd) {
  Fixture f(raw_termios());
  std::string a(LineDiscipline::CAPACITY - 10, 'a');
  f.feed(a);
  EXPECT_EQ(f.read(a.size()), a);
  f.feed("0123456789abcdefghij");  // wraps
  EXPECT_EQ(f.read(), "0123456789abcdefghij");
}

TEST(LineDiscipline, OverlongCanonicalLineKeepsRoomForNewline) {
  Fixture f(default_termios());
  std::string big(LineDiscipline::CAPACITY + 50, 'y');
  EXPECT_EQ(f.feed(big), big.size());  // canonical mode takes (and drops) all
  f.feed("\n");
  std::string line = f.read(LineDiscipline::CAPACITY);
  EXPECT_EQ(line.size(), LineDiscipline::CAPACITY);
  EXPECT_EQ(line.back(), '\n');
}

TEST(LineDiscipline, CommitPendingAtHostEof) {
  Fixture f(default_termios());
  f.feed("tail");
  f.ld->commit_pending();
  EXPECT_EQ(f.read(), "tail");
}

TEST(LineDiscipline, OutputProcessing) {
  Termios t = default_termios();
  EXPECT_EQ(out_processed(t, "a\nb\n"), "a\r\nb\r\n");
  t.oflag &= ~ONLCR;
  EXPECT_EQ(out_processed(t, "a\nb"), "a\nb");
  t.oflag = OPOST | OCRNL;
  EXPECT_EQ(out_processed(t, "a\rb"), "a\nb");
  t.oflag = ONLCR;  // without OPOST nothing is translated
  EXPECT_EQ(out_processed(t, "a\n"), "a\n");
}

}  // namespace
