#include <gtest/gtest.h>

#include <string>

#include "lib/format.h"

using capsule::format_to;

namespace {

template <typename... A>
std::string fmt(const char* f, const A&... a) {
  char buf[256];
  format_to(buf, sizeof(buf), f, a...);
  return buf;
}

struct Point {
  int x, y;
};
void format_value(capsule::Sink& s, const capsule::FormatSpec&, const Point& p) {
  capsule::format(s, "({}, {})", p.x, p.y);
}

TEST(Format, Integers) {
  EXPECT_EQ(fmt("{} {} {}", 0, -42, 18446744073709551615ull), "0 -42 18446744073709551615");
  EXPECT_EQ(fmt("{}", INT64_MIN), "-9223372036854775808");
  EXPECT_EQ(fmt("{:x} {:X} {:#x} {:o} {:b}", 255, 255, 255, 8, 5), "ff FF 0xff 10 101");
  EXPECT_EQ(fmt("{:08x}", 0xbeef), "0000beef");
  EXPECT_EQ(fmt("{:#010x}", 0xbeef), "0x0000beef");
  EXPECT_EQ(fmt("{:05}", -42), "-0042");
}

TEST(Format, WidthAndAlignment) {
  EXPECT_EQ(fmt("[{:>6}]", 42), "[    42]");
  EXPECT_EQ(fmt("[{:<6}]", 42), "[42    ]");
  EXPECT_EQ(fmt("[{:^7}]", "ab"), "[  ab   ]");
  EXPECT_EQ(fmt("[{:*>5}]", "x"), "[****x]");
  EXPECT_EQ(fmt("[{:3}]", "abcdef"), "[abcdef]");  // width never truncates
}

TEST(Format, OtherTypes) {
  EXPECT_EQ(fmt("{} {} {}", true, 'c', "str"), "true c str");
  EXPECT_EQ(fmt("{}", (const char*)nullptr), "(null)");
  EXPECT_EQ(fmt("{}", (void*)0x1000), "0x1000");
  EXPECT_EQ(fmt("{}", capsule::StringView("abcdef", 3)), "abc");
  EXPECT_EQ(fmt("{}", Point{1, -2}), "(1, -2)");
  EXPECT_EQ(fmt("{:c}", 65), "A");
}

TEST(Format, BracesAndMismatches) {
  EXPECT_EQ(fmt("{{}} {}", 1), "{} 1");
  EXPECT_EQ(fmt("{} {}", 1), "1 {?}");   // missing argument is visible, not garbage
  EXPECT_EQ(fmt("{}", 1, 2), "1");         // surplus arguments are ignored
  EXPECT_EQ(fmt("open {", 1), "open {");  // unterminated field printed verbatim
}

TEST(Format, TruncationIsReported) {
  char buf[8];
  size_t n = format_to(buf, sizeof(buf), "{}", "0123456789");
  EXPECT_EQ(n, 10u);
  EXPECT_STREQ(buf, "0123456");
  capsule::BufferSink sink(buf, sizeof(buf));
  capsule::format(sink, "{}", 12345678);
  EXPECT_TRUE(sink.truncated());
  EXPECT_EQ(std::string(sink.view().data(), sink.view().size()), "1234567");
}

}  // namespace
