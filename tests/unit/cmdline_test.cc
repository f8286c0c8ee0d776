#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "kernel/cmdline.h"

using namespace capsule;

namespace {

struct Parsed {
  CmdlineResult r;
  char storage[4096];
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
  EXPECT_FALSE(s.log_missing);
}

TEST(Cmdline, LogMissing) {
  Parsed p;
  parse("--log-missing -- /bin/prog", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_TRUE(p.r.settings.log_missing);
  EXPECT_FALSE(p.r.settings.strace);
  EXPECT_EQ(p.r.settings.log_level, LogLevel::Warn);
}

// capsule run --gdb passes --gdb: a panic halts for the debugger (docs/gdb.md).
TEST(Cmdline, Gdb) {
  Parsed p;
  parse("--gdb -- /bin/prog", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_TRUE(p.r.settings.gdb);
  Parsed q;
  parse("-- /bin/prog --gdb", q);
  ASSERT_TRUE(q.r.ok) << q.r.error;
  EXPECT_FALSE(q.r.settings.gdb);  // the program's argument, not the kernel's
}

TEST(Cmdline, StraceFilterAndSummary) {
  Parsed p;
  parse("--strace --strace-filter=openat,%file --strace-summary -- /bin/prog", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_TRUE(p.r.settings.strace);
  EXPECT_EQ(str(p.r.settings.strace_filter), "openat,%file");
  EXPECT_TRUE(p.r.settings.strace_summary);
}

TEST(Cmdline, TraceGroupsAndBuffer) {
  Parsed p;
  parse("--trace -- /bin/prog", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_TRUE(p.r.settings.trace);
  EXPECT_EQ(str(p.r.settings.trace_groups), "");  // all
  EXPECT_EQ(p.r.settings.trace_buffer_kib, 1024u);
  Parsed q;
  parse("--trace=sched,syscall --trace-buffer=16 -- /bin/prog", q);
  ASSERT_TRUE(q.r.ok) << q.r.error;
  EXPECT_EQ(str(q.r.settings.trace_groups), "sched,syscall");
  EXPECT_EQ(q.r.settings.trace_buffer_kib, 16u);
  Parsed n;
  parse("-- /bin/prog", n);
  EXPECT_FALSE(n.r.settings.trace);
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

TEST(Cmdline, TtyOneOutput) {
  Parsed p;
  parse("--tty=24x80 --tty-one-output", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_TRUE(p.r.settings.tty_one_output);
  Parsed q;
  parse("--tty=24x80", q);
  ASSERT_TRUE(q.r.ok) << q.r.error;
  EXPECT_FALSE(q.r.settings.tty_one_output);
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

TEST(Cmdline, Cwd) {
  Parsed p;
  parse("--cwd=/srv/app -- prog", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_EQ(str(p.r.settings.cwd), "/srv/app");
  Parsed q;
  parse("-- prog", q);
  EXPECT_TRUE(q.r.settings.cwd.empty());
  for (const char* bad : {"--cwd=", "--cwd=relative", "--cwd"}) {
    Parsed b;
    parse(bad, b);
    EXPECT_FALSE(b.r.ok) << bad;
    EXPECT_NE(std::string(b.r.error).find("--cwd"), std::string::npos) << b.r.error;
  }
}

TEST(Cmdline, Share) {
  Parsed p;
  parse("--share=capsule0:/mnt/data --share=capsule1:/srv/ro:ro -- prog", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  ASSERT_EQ(p.r.settings.share_count, 2u);
  EXPECT_EQ(str(p.r.settings.shares[0].tag), "capsule0");
  EXPECT_EQ(str(p.r.settings.shares[0].dir), "/mnt/data");
  EXPECT_FALSE(p.r.settings.shares[0].read_only);
  EXPECT_EQ(str(p.r.settings.shares[1].dir), "/srv/ro");
  EXPECT_TRUE(p.r.settings.shares[1].read_only);
  // No tag, no directory, a relative one, a suffix other than ro: refused.
  for (const char* bad : {"--share=", "--share=tag", "--share=:/mnt", "--share=tag:", "--share=tag:mnt",
                          "--share=tag:/mnt:rw", "--share=tag:/mnt:ro:x"}) {
    Parsed b;
    parse(bad, b);
    EXPECT_FALSE(b.r.ok) << bad;
    EXPECT_NE(std::string(b.r.error).find("--share"), std::string::npos) << b.r.error;
  }
  std::string many;
  for (int i = 0; i < 17; ++i) many += "--share=t" + std::to_string(i) + ":/d" + std::to_string(i) + " ";
  Parsed m;
  parse(many.c_str(), m);
  EXPECT_FALSE(m.r.ok);
}

TEST(Cmdline, VirtiofsShare) {
  Parsed p;
  parse("--share=capsule0:/a --virtiofs=capsule1:/mnt/v:ro -- prog", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  ASSERT_EQ(p.r.settings.share_count, 2u);
  EXPECT_FALSE(p.r.settings.shares[0].virtiofs);
  EXPECT_TRUE(p.r.settings.shares[1].virtiofs);
  EXPECT_EQ(str(p.r.settings.shares[1].tag), "capsule1");
  EXPECT_EQ(str(p.r.settings.shares[1].dir), "/mnt/v");
  EXPECT_TRUE(p.r.settings.shares[1].read_only);
  for (const char* bad : {"--virtiofs=", "--virtiofs=tag", "--virtiofs=tag:mnt", "--virtiofs=tag:/mnt:rw"}) {
    Parsed b;
    parse(bad, b);
    EXPECT_FALSE(b.r.ok) << bad;
    EXPECT_NE(std::string(b.r.error).find("--virtiofs"), std::string::npos) << b.r.error;
  }
}

TEST(Cmdline, Disks) {
  Parsed p;
  parse("--disk=capsule0:/data:ro --disk=capsule1:/srv --disk=vdc --disk=vdd:ro -- prog", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  const BootSettings& s = p.r.settings;
  ASSERT_EQ(s.disk_count, 4u);
  EXPECT_EQ(str(s.disks[0].id), "capsule0");
  EXPECT_EQ(str(s.disks[0].mount), "/data");
  EXPECT_TRUE(s.disks[0].read_only);
  EXPECT_EQ(str(s.disks[1].mount), "/srv");
  EXPECT_FALSE(s.disks[1].read_only);
  EXPECT_TRUE(s.disks[2].mount.empty());
  EXPECT_FALSE(s.disks[2].read_only);
  EXPECT_TRUE(s.disks[3].mount.empty());
  EXPECT_TRUE(s.disks[3].read_only);
  // Bad input: no id, a trailing colon, an unknown flag, "/" as the mount
  // point, an id longer than virtio's 20 bytes.
  for (const char* bad : {"--disk=", "--disk=:/data", "--disk=a:", "--disk=a:/data:", "--disk=a:/data:rw",
                          "--disk=a:/", "--disk=a:rw", "--disk=123456789012345678901"}) {
    Parsed b;
    parse(bad, b);
    EXPECT_FALSE(b.r.ok) << bad;
    EXPECT_NE(std::string(b.r.error).find("--disk"), std::string::npos) << b.r.error;
  }
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
      {"--strace-summary=yes", "takes no value"},
      {"--strace-filter", "needs a set"},
      {"--strace-filter=", "needs a set"},
      {"--log-missing=yes", "takes no value"},
      {"--gdb=1234", "takes no value"},
      {"--trace=", "needs groups"},
      {"--trace-buffer=1", "bad value '1' for --trace-buffer"},
      {"--trace-buffer=lots", "bad value"},
      {"--trace-buffer=5000", "bad value"},
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
  for (size_t i = 0; i <= BootSettings::MAX_WORDS; ++i) text += " w";
  Parsed p;
  parse(text.c_str(), p);
  EXPECT_FALSE(p.r.ok);
  EXPECT_NE(std::string(p.r.error).find("too many"), std::string::npos);
}

TEST(Cmdline, OneProgramIsOneCommand) {
  Parsed p;
  parse("-- /bin/echo a b", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_EQ(p.r.settings.command_count, 1u);
  EXPECT_EQ(p.r.settings.command_argc[0], 3u);
  parse("--verbose", p);
  ASSERT_TRUE(p.r.ok);
  EXPECT_EQ(p.r.settings.command_count, 0u);
  parse("--verbose --", p);
  ASSERT_TRUE(p.r.ok);
  EXPECT_EQ(p.r.settings.command_count, 0u);
  EXPECT_EQ(p.r.settings.argc, 0u);
}

TEST(Cmdline, SemicolonSeparatesCommands) {
  Parsed p;
  parse("--env=A=1 -- busybox mkdir /tmp/x ; busybox ls \\; ; /prog \\\\\\; \";\" a;b", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  const BootSettings& s = p.r.settings;
  // The quoted ";" is a separator too: only the backslash makes it literal.
  ASSERT_EQ(s.command_count, 4u);
  EXPECT_EQ(s.command_argc[0], 3u);
  EXPECT_EQ(s.command_argc[1], 3u);
  EXPECT_EQ(s.command_argc[2], 2u);
  EXPECT_EQ(s.command_argc[3], 1u);
  ASSERT_EQ(s.argc, 9u);
  EXPECT_EQ(str(s.argv[0]), "busybox");
  EXPECT_EQ(str(s.argv[2]), "/tmp/x");
  EXPECT_EQ(str(s.argv[3]), "busybox");
  EXPECT_EQ(str(s.argv[5]), ";");      // "\;" on the command line: a literal ";"
  EXPECT_EQ(str(s.argv[6]), "/prog");
  EXPECT_EQ(str(s.argv[7]), "\\;");  // \\\; on the command line: \\ -> \ (word escape), then one backslash removed
  EXPECT_EQ(str(s.argv[8]), "a;b");    // ";" inside a word is nothing special
  EXPECT_EQ(s.env_count, 1u);
}

TEST(Cmdline, EmptyCommandsAreErrors) {
  const char* bad[] = {"-- ;", "-- ; a", "-- a ;", "-- a ; ; b", "-- a ; b ;"};
  for (const char* text : bad) {
    Parsed p;
    parse(text, p);
    EXPECT_FALSE(p.r.ok) << text;
    EXPECT_NE(std::string(p.r.error).find("empty command"), std::string::npos) << text << " -> " << p.r.error;
  }
}

TEST(Cmdline, TooManyCommandsIsAnError) {
  std::string text = "-- a";
  for (size_t i = 0; i < BootSettings::MAX_COMMANDS; ++i) text += " ; a";
  Parsed p;
  parse(text.c_str(), p);
  EXPECT_FALSE(p.r.ok);
  EXPECT_NE(std::string(p.r.error).find("too many commands"), std::string::npos) << p.r.error;
}

}  // namespace

namespace {

TEST(Cmdline, HungTaskOptions) {
  Parsed d;
  parse("", d);
  ASSERT_TRUE(d.r.ok);
  EXPECT_EQ(d.r.settings.hung_task_s, 120u);  // on by default, like Linux's 120 s
  EXPECT_EQ(d.r.settings.cpu_stall_s, 20u);
  EXPECT_FALSE(d.r.settings.hung_task_panic);
  Parsed p;
  parse("--hung-task=2 --cpu-stall=0 --hung-task-panic -- /prog", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_EQ(p.r.settings.hung_task_s, 2u);
  EXPECT_EQ(p.r.settings.cpu_stall_s, 0u);  // 0 turns the check off
  EXPECT_TRUE(p.r.settings.hung_task_panic);
  for (const char* bad : {"--hung-task", "--hung-task=x", "--cpu-stall=-1", "--hung-task=86401", "--hung-task-panic=1"}) {
    Parsed q;
    parse(bad, q);
    EXPECT_FALSE(q.r.ok) << bad;
  }
}

}  // namespace

TEST(Cmdline, StaticNetwork) {
  Parsed p;
  parse("--ip=10.0.2.15/24 --gw=10.0.2.2 --dns=8.8.4.4", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_EQ(p.r.settings.net_ip, 0x0a00020fu);
  EXPECT_EQ(p.r.settings.net_prefix, 24);
  EXPECT_EQ(p.r.settings.net_gw, 0x0a000202u);
  EXPECT_EQ(p.r.settings.net_dns, 0x08080404u);
  // Bad values: each is refused with the option's name.
  for (const char* bad : {"--ip=10.0.2.15", "--ip=10.0.2/24", "--ip=10.0.2.256/24", "--ip=10.0.2.15/0",
                          "--ip=10.0.2.15/33", "--ip=0.0.0.0/8", "--ip=1.2.3.4.5/8", "--ip=a.b.c.d/8",
                          "--ip=1..2.3/8", "--ip=1234.0.0.1/8", "--gw=10.0.2", "--ip=1.2.3.4/8 --dns=x"}) {
    Parsed q;
    parse(bad, q);
    EXPECT_FALSE(q.r.ok) << bad;
  }
  Parsed q;
  parse("--dns=10.0.2.3", q);  // without --ip: DHCP gives the rest
  EXPECT_FALSE(q.r.ok);
  EXPECT_NE(std::string(q.r.error).find("--ip"), std::string::npos);
}

TEST(Cmdline, StaticNetwork6) {
  Parsed p;
  parse("--ip6=fec0::99/64 --gw6=fe80::2 --dns=2001:DB8:0:0:1::53 --dns=10.0.2.3 --ip=10.0.2.15/24", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  const uint8_t ip6[16] = {0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99};
  const uint8_t gw6[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  const uint8_t dns6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x53};
  EXPECT_EQ(0, memcmp(p.r.settings.net_ip6, ip6, 16));
  EXPECT_EQ(p.r.settings.net_prefix6, 64);
  EXPECT_EQ(0, memcmp(p.r.settings.net_gw6, gw6, 16));
  EXPECT_EQ(0, memcmp(p.r.settings.net_dns6, dns6, 16));
  EXPECT_EQ(p.r.settings.net_dns, 0x0a000203u);  // one of each family
  // RFC 4291 2.2's forms: full, "::" anywhere, a dotted quad at the end.
  struct Form {
    const char* text;
    uint8_t want[16];
  } forms[] = {
      {"--ip6=1:2:3:4:5:6:7:8/128", {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}},
      {"--ip6=::2/64", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}},
      {"--ip6=2001::/16", {0x20, 1}},
      {"--ip6=::1.2.3.4/96", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}},
      {"--ip6=64:ff9b::10.0.0.1/96", {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1}},
      {"--ip6=1:0:0:0:0:0:0:ABCD/1", {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd}},
  };
  for (const Form& f : forms) {
    Parsed q;
    parse(f.text, q);
    ASSERT_TRUE(q.r.ok) << f.text << ": " << q.r.error;
    EXPECT_EQ(0, memcmp(q.r.settings.net_ip6, f.want, 16)) << f.text;
  }
  // Bad values: each refused with the option's name.
  for (const char* bad :
       {"--ip6=fec0::99", "--ip6=fec0::99/0", "--ip6=fec0::99/129", "--ip6=fec0::99/", "--ip6=fec0:::99/64",
        "--ip6=1::2::3/64", "--ip6=1:2:3:4:5:6:7:8:9/64", "--ip6=1:2:3:4:5:6:7/64", "--ip6=12345::/64",
        "--ip6=:1::/64", "--ip6=1:/64", "--ip6=g::1/64", "--ip6=::/64", "--ip6=::1/128", "--ip6=ff02::1/64",
        "--ip6=::ffff:10.0.0.1/96", "--ip6=::1.2.3/96", "--ip6=1:2:3:4:5:6:7:1.2.3.4/64", "--ip6=10.0.2.15/24",
        "--ip6=fec0::1/64 --gw6=ff02::2", "--ip6=fec0::1/64 --gw6=::", "--ip6=fec0::1/64 --dns=ff02::1",
        "--ip=10.0.2.15/24 --dns=0.0.0.0", "--ip=10.0.2.15/24 --dns=fec0::3::"}) {
    Parsed q;
    parse(bad, q);
    EXPECT_FALSE(q.r.ok) << bad;
  }
  Parsed q;
  parse("--gw6=fe80::2", q);  // without --ip6: the RA's router
  EXPECT_FALSE(q.r.ok);
  EXPECT_NE(std::string(q.r.error).find("--ip6"), std::string::npos);
  Parsed r;
  parse("--dns=fec0::3", r);  // with neither address: DHCP's and the RA's
  EXPECT_FALSE(r.r.ok);
  Parsed t;
  parse("--ip6=fec0::9/64 --dns=fec0::3", t);
  EXPECT_TRUE(t.r.ok) << t.r.error;
}

TEST(Cmdline, NetDrop) {
  Parsed p;
  parse("--net-drop=4", p);
  ASSERT_TRUE(p.r.ok) << p.r.error;
  EXPECT_EQ(p.r.settings.net_drop_bp, 400u);
  EXPECT_EQ(p.r.settings.net_drop_seed, 1u);
  EXPECT_TRUE(p.r.settings.net_drop_rx);
  EXPECT_TRUE(p.r.settings.net_drop_tx);
  Parsed q;
  parse("--net-drop=2.5,77,rx", q);
  ASSERT_TRUE(q.r.ok) << q.r.error;
  EXPECT_EQ(q.r.settings.net_drop_bp, 250u);
  EXPECT_EQ(q.r.settings.net_drop_seed, 77u);
  EXPECT_TRUE(q.r.settings.net_drop_rx);
  EXPECT_FALSE(q.r.settings.net_drop_tx);
  Parsed t;
  parse("--net-drop=0.05,9,tx", t);
  ASSERT_TRUE(t.r.ok) << t.r.error;
  EXPECT_EQ(t.r.settings.net_drop_bp, 5u);
  EXPECT_FALSE(t.r.settings.net_drop_rx);
  EXPECT_TRUE(t.r.settings.net_drop_tx);
  Parsed none;
  parse("", none);
  EXPECT_EQ(none.r.settings.net_drop_bp, 0u);
  for (const char* bad : {"--net-drop", "--net-drop=", "--net-drop=101", "--net-drop=100.01", "--net-drop=1.234",
                          "--net-drop=x", "--net-drop=5,", "--net-drop=5,s", "--net-drop=5,1,", "--net-drop=5,1,up",
                          "--net-drop=-1", "--net-drop=5.", "--net-drop=.5"}) {
    Parsed b;
    parse(bad, b);
    EXPECT_FALSE(b.r.ok) << bad;
    EXPECT_NE(std::string(b.r.error).find("--net-drop"), std::string::npos) << bad;
  }
}
