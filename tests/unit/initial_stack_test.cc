// The initial process stack, walked the way a program's _start and its
// libc read it (x86-64 psABI 3.4.1).
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "linux/process/auxv.h"
#include "linux/process/initial_stack.h"

using namespace capsule;
namespace E = capsule::elf;

namespace {

constexpr uint64_t TOP = 0x7ffffffff000;

// The buffer stands for [TOP - size, TOP); reads go through it with bounds
// checks so a bad pointer in the stack fails the test instead of crashing.
struct Stack {
  std::vector<uint8_t> mem;
  uint64_t bottom() const { return TOP - mem.size(); }
  bool inside(uint64_t va, size_t n) const { return va >= bottom() && va <= TOP && n <= TOP - va; }
  uint64_t word(uint64_t va) const {
    EXPECT_TRUE(inside(va, 8)) << std::hex << va;
    uint64_t v = 0;
    if (inside(va, 8)) std::memcpy(&v, &mem[va - bottom()], 8);
    return v;
  }
  std::string str(uint64_t va) const {
    std::string s;
    while (inside(va, 1) && mem[va - bottom()]) s += char(mem[va++ - bottom()]);
    EXPECT_TRUE(inside(va, 1)) << "string runs off the top";
    return s;
  }
};

struct Walked {
  uint64_t argc;
  std::vector<std::string> argv, envp;
  std::vector<uint64_t> argv_ptrs, envp_ptrs;
  std::vector<std::pair<uint64_t, uint64_t>> auxv;
  std::map<uint64_t, uint64_t> aux;
};

// What a program does at _start: argc at rsp, argv after it, envp after
// argv's NULL, auxv after envp's NULL.
Walked walk(const Stack& s, uint64_t sp) {
  Walked w;
  uint64_t at = sp;
  w.argc = s.word(at);
  at += 8;
  for (uint64_t i = 0; i < w.argc; ++i, at += 8) {
    w.argv_ptrs.push_back(s.word(at));
    w.argv.push_back(s.str(s.word(at)));
  }
  EXPECT_EQ(s.word(at), 0u) << "argv not NULL-terminated";
  at += 8;
  while (s.inside(at, 8) && s.word(at)) {
    w.envp_ptrs.push_back(s.word(at));
    w.envp.push_back(s.str(s.word(at)));
    at += 8;
  }
  at += 8;
  for (;;) {
    if (!s.inside(at, 16)) {
      ADD_FAILURE() << "auxv runs off the stack";
      break;
    }
    uint64_t tag = s.word(at), val = s.word(at + 8);
    w.auxv.push_back({tag, val});
    w.aux[tag] = val;
    at += 16;
    if (tag == 0) break;
  }
  return w;
}

uint64_t tag(E::Aux a) { return uint64_t(a); }

}  // namespace

TEST(InitialStack, LayoutAsAProgramSeesIt) {
  const StringView argv[] = {"/bin/prog", "-x", "hello world"};
  const StringView envp[] = {"HOME=/root", "PATH=/bin:/usr/bin", "TERM=linux"};
  E::StackParams p;
  p.argv = argv;
  p.argc = 3;
  p.envp = envp;
  p.envc = 3;
  p.execfn = "/bin/prog";
  for (int i = 0; i < 16; ++i) p.random[i] = uint8_t(0xa0 + i);
  p.sysinfo_ehdr = 0x7ffff7fc1000;
  p.hwcap = 0x178bfbff;
  p.hwcap2 = 2;
  p.phdr = 0x400040;
  p.phnum = 11;
  p.base = 0x7ffff7fc3000;
  p.entry = 0x401bc0;
  p.uid = 1;
  p.euid = 2;
  p.gid = 3;
  p.egid = 4;

  Stack s;
  s.mem.resize(8192);
  auto r = E::build_initial_stack(s.mem.data(), s.mem.size(), TOP, p);
  ASSERT_TRUE(r.ok());
  const E::StackLayout& l = *r;
  EXPECT_EQ(l.sp % 16, 0u) << "psABI: rsp 16-byte aligned at entry";
  EXPECT_EQ(l.used, TOP - l.sp);
  EXPECT_GE(l.sp, s.bottom());
  EXPECT_EQ(s.word(TOP - 8), 0u) << "Linux leaves the top word NULL";

  Walked w = walk(s, l.sp);
  EXPECT_EQ(w.argc, 3u);
  EXPECT_EQ(w.argv, (std::vector<std::string>{"/bin/prog", "-x", "hello world"}));
  EXPECT_EQ(w.envp, (std::vector<std::string>{"HOME=/root", "PATH=/bin:/usr/bin", "TERM=linux"}));
  EXPECT_EQ(l.argv, l.sp + 8);
  EXPECT_EQ(l.envp, l.argv + 4 * 8);
  EXPECT_EQ(l.auxv, l.envp + 4 * 8);
  EXPECT_EQ(l.auxv_count, w.auxv.size());

  // Strings are contiguous, argv[0] lowest, then envp, then AT_EXECFN just
  // below the NULL top word (what /proc/self/cmdline and environ rely on).
  EXPECT_EQ(w.argv_ptrs[0], l.strings_start);
  for (size_t i = 1; i < 3; ++i) EXPECT_EQ(w.argv_ptrs[i], w.argv_ptrs[i - 1] + w.argv[i - 1].size() + 1);
  EXPECT_EQ(w.envp_ptrs[0], w.argv_ptrs[2] + w.argv[2].size() + 1);
  EXPECT_EQ(l.execfn, w.envp_ptrs[2] + w.envp[2].size() + 1);
  EXPECT_EQ(l.execfn + sizeof("/bin/prog"), TOP - 8);

  // Linux's order of auxv entries.
  const E::Aux order[] = {E::Aux::SysinfoEhdr, E::Aux::Minsigstksz, E::Aux::Hwcap, E::Aux::Pagesz,
                          E::Aux::Clktck,      E::Aux::Phdr,        E::Aux::Phent, E::Aux::Phnum,
                          E::Aux::Base,        E::Aux::Flags,       E::Aux::Entry, E::Aux::Uid,
                          E::Aux::Euid,        E::Aux::Gid,         E::Aux::Egid,  E::Aux::Secure,
                          E::Aux::Random,      E::Aux::Hwcap2,      E::Aux::Execfn, E::Aux::Platform,
                          E::Aux::Null};
  ASSERT_EQ(w.auxv.size(), std::size(order));
  for (size_t i = 0; i < std::size(order); ++i) EXPECT_EQ(w.auxv[i].first, tag(order[i])) << i;

  EXPECT_EQ(w.aux[tag(E::Aux::SysinfoEhdr)], 0x7ffff7fc1000u);
  EXPECT_EQ(w.aux[tag(E::Aux::Hwcap)], 0x178bfbffu);
  EXPECT_EQ(w.aux[tag(E::Aux::Hwcap2)], 2u);
  EXPECT_EQ(w.aux[tag(E::Aux::Pagesz)], 4096u);
  EXPECT_EQ(w.aux[tag(E::Aux::Clktck)], 100u);
  EXPECT_EQ(w.aux[tag(E::Aux::Phdr)], 0x400040u);
  EXPECT_EQ(w.aux[tag(E::Aux::Phent)], 56u);
  EXPECT_EQ(w.aux[tag(E::Aux::Phnum)], 11u);
  EXPECT_EQ(w.aux[tag(E::Aux::Base)], 0x7ffff7fc3000u);
  EXPECT_EQ(w.aux[tag(E::Aux::Entry)], 0x401bc0u);
  EXPECT_EQ(w.aux[tag(E::Aux::Uid)], 1u);
  EXPECT_EQ(w.aux[tag(E::Aux::Euid)], 2u);
  EXPECT_EQ(w.aux[tag(E::Aux::Gid)], 3u);
  EXPECT_EQ(w.aux[tag(E::Aux::Egid)], 4u);
  EXPECT_EQ(w.aux[tag(E::Aux::Secure)], 0u);

  const uint64_t random = w.aux[tag(E::Aux::Random)];
  EXPECT_EQ(random, l.random);
  ASSERT_TRUE(s.inside(random, 16));
  EXPECT_GT(random, l.auxv + l.auxv_count * 16 - 1) << "random bytes above the tables";
  for (int i = 0; i < 16; ++i) EXPECT_EQ(s.mem[random - s.bottom() + i], 0xa0 + i);
  EXPECT_EQ(s.str(w.aux[tag(E::Aux::Execfn)]), "/bin/prog");
  EXPECT_EQ(s.str(w.aux[tag(E::Aux::Platform)]), "x86_64");
  EXPECT_EQ(w.aux[tag(E::Aux::Platform)], l.platform);
  EXPECT_EQ(l.platform, random + 16) << "platform string right above AT_RANDOM";
  EXPECT_LT(l.platform + 7, l.strings_start + 16) << "then at most alignment padding below the strings";
}

TEST(InitialStack, AlignedForEveryParity) {
  // The tables' size changes by 8 bytes per argument; rsp must stay aligned.
  const StringView words[] = {"a", "bb", "ccc", "dddd", "eeeee", "f"};
  for (size_t argc = 0; argc <= 6; ++argc) {
    for (size_t envc = 0; envc <= 3; ++envc) {
      E::StackParams p;
      p.argv = words;
      p.argc = argc;
      p.envp = words;
      p.envc = envc;
      p.execfn = "/x";
      Stack s;
      s.mem.resize(4096);
      auto r = E::build_initial_stack(s.mem.data(), s.mem.size(), TOP, p);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->sp % 16, 0u);
      Walked w = walk(s, r->sp);
      EXPECT_EQ(w.argc, argc);
      EXPECT_EQ(w.envp.size(), envc);
      EXPECT_EQ(w.aux.count(tag(E::Aux::SysinfoEhdr)), 0u) << "no vDSO: no AT_SYSINFO_EHDR";
      EXPECT_EQ(w.auxv.back().first, 0u);
    }
  }
}

TEST(InitialStack, TooBigIsE2big) {
  std::string big(5000, 'x');
  const StringView argv[] = {"/bin/prog", StringView(big.data(), big.size())};
  E::StackParams p;
  p.argv = argv;
  p.argc = 2;
  p.execfn = "/bin/prog";

  // Find the size that fits, then every smaller buffer must fail cleanly;
  // ASan checks that nothing is written outside the exact-size buffer.
  size_t need = 0;
  {
    std::vector<uint8_t> mem(16384);
    auto r = E::build_initial_stack(mem.data(), mem.size(), TOP, p);
    ASSERT_TRUE(r.ok());
    need = r->used;
  }
  for (size_t size = 0; size < need; size += (size < need - 64 ? 61 : 1)) {
    std::vector<uint8_t> mem(size);
    auto r = E::build_initial_stack(mem.data(), mem.size(), TOP, p);
    EXPECT_EQ(r.error(), Error::TooBig) << size;
  }
  std::vector<uint8_t> mem(need);
  EXPECT_TRUE(E::build_initial_stack(mem.data(), mem.size(), TOP, p).ok());

  // One string longer than MAX_ARG_STRLEN is E2BIG whatever the room.
  std::string huge(E::MAX_ARG_STRLEN, 'y');
  const StringView env[] = {StringView(huge.data(), huge.size())};
  p.envp = env;
  p.envc = 1;
  std::vector<uint8_t> roomy(4 * E::MAX_ARG_STRLEN);
  EXPECT_EQ(E::build_initial_stack(roomy.data(), roomy.size(), TOP, p).error(), Error::TooBig);
}

TEST(InitialStack, MisalignedTopIsInvalid) {
  E::StackParams p;
  p.execfn = "/x";
  std::vector<uint8_t> mem(1024);
  EXPECT_EQ(E::build_initial_stack(mem.data(), mem.size(), TOP - 8, p).error(), Error::Invalid);
}

namespace {

// initial_stack_bound: a buffer of that size always fits, and the layout
// (sp, the tables, the strings) is the same as in a much larger buffer,
// whatever the argument and environment sizes.
TEST(InitialStack, BoundFitsAndKeepsTheLayout) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> strs;
    const size_t argc = rng() % 6, envc = rng() % 9;
    for (size_t i = 0; i < argc + envc; ++i) strs.emplace_back(rng() % 300, char('a' + i % 26));
    std::vector<StringView> views;
    for (auto& s : strs) views.emplace_back(s.data(), s.size());
    E::StackParams p;
    p.argv = views.data();
    p.argc = argc;
    p.envp = views.data() + argc;
    p.envc = envc;
    p.execfn = StringView(strs.empty() ? "/x" : strs[0].data(), strs.empty() ? 2 : strs[0].size());
    p.sysinfo_ehdr = round % 2 ? 0x7fff0000 : 0;
    const size_t bound = E::initial_stack_bound(p);
    std::vector<uint8_t> big(1 << 16), exact(bound);
    auto a = E::build_initial_stack(big.data(), big.size(), TOP, p);
    auto b = E::build_initial_stack(exact.data(), exact.size(), TOP, p);
    ASSERT_TRUE(a.ok() && b.ok()) << round;
    EXPECT_EQ(a->sp, b->sp);
    EXPECT_EQ(a->auxv, b->auxv);
    EXPECT_EQ(a->strings_start, b->strings_start);
    EXPECT_LE(b->used, bound);
    EXPECT_EQ(0, memcmp(big.data() + big.size() - a->used, exact.data() + exact.size() - b->used, a->used));
  }
}

}  // namespace
