#include <gtest/gtest.h>

#include <string>

#include "capsule/cmdline.h"

using namespace capsule;

namespace {

struct Parsed {
  CmdlineResult r;
  char storage[1024];
};

std::string str(StringView v) { return std::string(v.data(), v.size()); }

void parse(const char* text, Parsed& p) { parse_cmdline(text, p.storage, sizeof(p.storage), p.r); }

TEST(Cmdline, EmptyIsDefaults) {
  Parsed p;
  parse("", p);
  ASSERT_TRUE(p.r.ok);
  EXPECT_FALSE(p.r.settings.verbose);
  EXPECT_FALSE(p.r.settings.bootchart);
  EXPECT_EQ(p.r.settings.log_level, LogLevel::Warn);
  EXPECT_EQ(p.r.settings.argc, 0u);
}

TEST(Cmdline, KernelOptions) {
  Parsed p;
  parse("--verbose --bootchart --strace --test=mm.buddy --test=fault.ud --tsc-khz=2596000", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  const BootSettings& s = p.r.settings;
  EXPECT_TRUE(s.verbose);
  EXPECT_EQ(s.log_level, LogLevel::Debug);
  EXPECT_TRUE(s.bootchart);
  EXPECT_TRUE(s.strace);
  ASSERT_EQ(s.test_count, 2u);
  EXPECT_EQ(str(s.tests[0]), "mm.buddy");
  EXPECT_EQ(str(s.tests[1]), "fault.ud");
  EXPECT_EQ(s.tsc_khz, 2596000u);
}

TEST(Cmdline, TscKhzZeroMeansCalibrate) {
  Parsed p;
  parse("--tsc-khz=0", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_EQ(p.r.settings.tsc_khz, 0u);  // not given: kvmclock, CPUID or the PIT
  Parsed q;
  parse("--tsc-khz=999", q);
  EXPECT_FALSE(q.r.ok);  // below 1 MHz and not 0
  EXPECT_NE(std::string(q.r.error).find("or 0 to calibrate"), std::string::npos);
}

TEST(Cmdline, TtyWithAndWithoutWindowSize) {
  Parsed p;
  parse("--tty=40x132", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_TRUE(p.r.settings.tty);
  EXPECT_EQ(p.r.settings.tty_rows, 40);
  EXPECT_EQ(p.r.settings.tty_cols, 132);
  Parsed q;
  parse("--tty", q);
  ASSERT_TRUE(q.r.ok) << q.r.error;
  EXPECT_TRUE(q.r.settings.tty);
  EXPECT_EQ(q.r.settings.tty_rows, 0);
  Parsed e;
  parse("", e);
  EXPECT_FALSE(e.r.settings.tty);
  for (const char* bad : {"--tty=40", "--tty=x80", "--tty=40x", "--tty=70000x80", "--tty=ax80"}) {
    Parsed b;
    parse(bad, b);
    EXPECT_FALSE(b.r.ok) << bad;
  }
}

TEST(Cmdline, ProgramAndQuotes) {
  Parsed p;
  parse("--env=HOME=/root -- /bin/echo \"hello world\" a\\\"b --verbose", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  const BootSettings& s = p.r.settings;
  EXPECT_FALSE(s.verbose);  // after "--" everything belongs to the program
  ASSERT_EQ(s.argc, 4u);
  EXPECT_EQ(str(s.argv[0]), "/bin/echo");
  EXPECT_EQ(str(s.argv[1]), "hello world");
  EXPECT_EQ(str(s.argv[2]), "a\"b");
  EXPECT_EQ(str(s.argv[3]), "--verbose");
  ASSERT_EQ(s.env_count, 1u);
  EXPECT_EQ(str(s.env[0]), "HOME=/root");
}

TEST(Cmdline, QemuTokensAreKeptApart) {
  Parsed p;
  parse("--bootchart -- prog x virtio_mmio.device=512@0xfeb00e00:12", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_EQ(p.r.settings.argc, 2u);
  ASSERT_EQ(p.r.settings.virtio_mmio_count, 1u);
  EXPECT_EQ(str(p.r.settings.virtio_mmio[0]), "512@0xfeb00e00:12");
}

TEST(Cmdline, BadInputIsRejectedWithAMessage) {
  struct Case {
    const char* text;
    const char* message_part;
  } cases[] = {
      {"--frobnicate", "unknown option '--frobnicate'"},
      {"--verbose=yes", "takes no value"},
      {"--strace=1", "takes no value"},
      {"--tsc-khz=fast", "bad value 'fast' for --tsc-khz"},
      {"--tsc-khz=99999999999999999999", "bad value"},
      {"--test", "needs a name"},
      {"--test=", "needs a name"},
      {"--log=loud", "bad value 'loud' for --log"},
      {"--env=NOEQUALS", "bad value 'NOEQUALS' for --env"},
      {"stray", "unexpected word 'stray'"},
      {"-- \"unterminated", "unterminated quote"},
  };
  for (const Case& c : cases) {
    Parsed p;
    parse(c.text, p);
    EXPECT_FALSE(p.r.ok) << c.text;
    EXPECT_NE(std::string(p.r.error).find(c.message_part), std::string::npos)
        << c.text << " -> " << p.r.error;
  }
}

TEST(Cmdline, TooManyWordsIsAnError) {
  std::string text = "--";
  for (int i = 0; i < 100; ++i) text += " w";
  Parsed p;
  parse(text.c_str(), p);
  EXPECT_FALSE(p.r.ok);
  EXPECT_NE(std::string(p.r.error).find("too many"), std::string::npos);
}

}  // namespace
