// VmaSet (core/mm/vma.h): targeted cases with Linux's semantics, and a long
// random sequence of map/unmap/protect/remap/brk checked page by page
// against a simple model.
#include "core/mm/vma.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

using namespace capsule;
using namespace capsule::mm;

namespace {

constexpr uintptr_t P = PAGE_SIZE;
constexpr uint32_t RW = VM_READ | VM_WRITE;

// The page-table side, simulated: "populated" pages carry a token (what a
// real page would hold) and their protection.
struct FakePages final : VmaObserver {
  struct Page {
    int token;
    uint32_t prot;
  };
  std::map<uintptr_t, Page> pages;
  int unmap_calls = 0, protect_calls = 0, move_calls = 0;
  bool fail_move = false;

  void unmap_pages(const Vma& v, uintptr_t s, uintptr_t e) override {
    EXPECT_LE(v.start, s);
    EXPECT_GE(v.end, e);
    EXPECT_LT(s, e);
    ++unmap_calls;
    pages.erase(pages.lower_bound(s), pages.lower_bound(e));
  }
  void protect_pages(uintptr_t s, uintptr_t e, uint32_t prot) override {
    ++protect_calls;
    for (auto it = pages.lower_bound(s); it != pages.end() && it->first < e; ++it) it->second.prot = prot;
  }
  Result<void> move_pages(uintptr_t from, uintptr_t to, size_t len) override {
    if (fail_move) return Error::NoMemory;
    ++move_calls;
    std::map<uintptr_t, Page> moved;
    for (auto it = pages.lower_bound(from); it != pages.end() && it->first < from + len;) {
      moved[it->first - from + to] = it->second;
      it = pages.erase(it);
    }
    for (auto& [a, p] : moved) {
      EXPECT_EQ(pages.count(a), 0u);
      pages[a] = p;
    }
    return {};
  }
};

struct CountingBacking final : VmBacking {
  int refs = 0;
  Result<uint64_t> page(uint64_t offset) override { return offset; }
  void retain() override { ++refs; }
  void release() override { --refs; }
};

MapRequest anon(uintptr_t addr, size_t len, uint32_t prot = RW, Placement pl = Placement::Fixed) {
  MapRequest r;
  r.addr = addr;
  r.len = len;
  r.prot = prot;
  r.placement = pl;
  return r;
}

std::vector<std::pair<uintptr_t, uintptr_t>> ranges(const VmaSet& s) {
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  for (Vma* v = s.first(); v; v = VmaSet::next(*v)) out.emplace_back(v->start, v->end);
  return out;
}

constexpr uintptr_t B = 0x10000000;  // a base for fixed mappings

TEST(Vma, MapFindAndMergeAdjacentAnonymous) {
  VmaSet s;
  FakePages pg;
  ASSERT_EQ(s.map(anon(B, 4 * P), pg).value(), B);
  ASSERT_EQ(s.map(anon(B + 4 * P, 2 * P), pg).value(), B + 4 * P);
  EXPECT_EQ(s.count(), 1u);  // merged
  EXPECT_EQ(s.find(B + 5 * P)->start, B);
  EXPECT_EQ(s.find(B + 6 * P), nullptr);
  EXPECT_EQ(s.find(B - 1), nullptr);
  // Different protection: no merge.
  ASSERT_TRUE(s.map(anon(B + 6 * P, P, VM_READ), pg).ok());
  EXPECT_EQ(s.count(), 2u);
  EXPECT_TRUE(s.check());
}

TEST(Vma, ArgumentErrors) {
  VmaSet s;
  FakePages pg;
  EXPECT_EQ(s.map(anon(B, 0), pg).error(), Error::Invalid);
  EXPECT_EQ(s.map(anon(B + 1, P), pg).error(), Error::Invalid);
  EXPECT_EQ(s.map(anon(B, P, 8), pg).error(), Error::Invalid);
  EXPECT_EQ(s.map(anon(0x1000, P), pg).error(), Error::Permission);  // below mmap_min_addr
  EXPECT_EQ(s.map(anon(USER_END - P, 2 * P), pg).error(), Error::NoMemory);
  EXPECT_EQ(s.map(anon(0, ~size_t(0), RW, Placement::Hint), pg).error(), Error::NoMemory);
  EXPECT_EQ(s.unmap(B + 1, P, pg).error(), Error::Invalid);
  EXPECT_EQ(s.unmap(B, 0, pg).error(), Error::Invalid);
  EXPECT_EQ(s.unmap(USER_END, P, pg).error(), Error::Invalid);
  EXPECT_TRUE(s.unmap(B, 100 * P, pg).ok());  // a hole is fine
  EXPECT_EQ(s.protect(B + 1, P, VM_READ, pg).error(), Error::Invalid);
  EXPECT_TRUE(s.protect(B, 0, VM_READ, pg).ok());
  EXPECT_EQ(s.protect(B, P, VM_READ, pg).error(), Error::NoMemory);
  EXPECT_EQ(s.protect(B, P, 16, pg).error(), Error::Invalid);
  EXPECT_EQ(s.count(), 0u);
}

TEST(Vma, HintUsedWhenFreeElseTopDownBelowMmapBase) {
  VmaSet s;
  FakePages pg;
  const uintptr_t base = 0x7f0000000000;
  s.set_mmap_base(base);
  EXPECT_EQ(s.map(anon(B, P, RW, Placement::Hint), pg).value(), B);
  // Hint taken: search top-down, each below the previous.
  EXPECT_EQ(s.map(anon(B, 2 * P, RW, Placement::Hint), pg).value(), base - 2 * P);
  EXPECT_EQ(s.map(anon(0, 3 * P, VM_READ, Placement::Hint), pg).value(), base - 5 * P);
  // A hole that fits is reused.
  ASSERT_TRUE(s.unmap(base - 2 * P, 2 * P, pg).ok());
  EXPECT_EQ(s.map(anon(0, P, VM_EXEC, Placement::Hint), pg).value(), base - P);
  // An unaligned hint rounds up.
  EXPECT_EQ(s.map(anon(B + 0x10000 + 1, P, RW, Placement::Hint), pg).value(), B + 0x11000);
  EXPECT_TRUE(s.check());
}

TEST(Vma, TopDownFallsBackBottomUpAboveMmapBase) {
  VmaSet s;
  FakePages pg;
  s.set_mmap_base(USER_START + 4 * P);
  ASSERT_EQ(s.map(anon(0, 4 * P, RW, Placement::Hint), pg).value(), USER_START);
  EXPECT_EQ(s.map(anon(0, P, RW, Placement::Hint), pg).value(), USER_START + 4 * P);
}

TEST(Vma, SearchKeepsStackGuardGap) {
  VmaSet s;
  FakePages pg;
  const uintptr_t stack_top = 0x7ff000000000;
  MapRequest st = anon(stack_top - 16 * P, 16 * P);
  st.flags = VM_GROWSDOWN;
  ASSERT_TRUE(s.map(st, pg).ok());
  s.set_mmap_base(stack_top);
  EXPECT_EQ(s.map(anon(0, P, RW, Placement::Hint), pg).value(), stack_top - 16 * P - STACK_GUARD_GAP - P);
  // A hint inside the guard gap is not honoured.
  EXPECT_NE(s.map(anon(stack_top - 17 * P, P, RW, Placement::Hint), pg).value(), stack_top - 17 * P);
}

TEST(Vma, FixedReplacesAndSplits) {
  VmaSet s;
  FakePages pg;
  ASSERT_TRUE(s.map(anon(B, 10 * P), pg).ok());
  for (int i = 0; i < 10; ++i) pg.pages[B + i * P] = {i, RW};
  ASSERT_EQ(s.map(anon(B + 3 * P, 2 * P, VM_READ), pg).value(), B + 3 * P);
  EXPECT_EQ(ranges(s), (std::vector<std::pair<uintptr_t, uintptr_t>>{
                           {B, B + 3 * P}, {B + 3 * P, B + 5 * P}, {B + 5 * P, B + 10 * P}}));
  EXPECT_EQ(pg.pages.size(), 8u);  // the replaced pages went away
  EXPECT_EQ(pg.pages.count(B + 3 * P), 0u);
  // Replacing with the same attributes merges back into one VMA.
  ASSERT_TRUE(s.map(anon(B + 3 * P, 2 * P), pg).ok());
  EXPECT_EQ(s.count(), 1u);
  EXPECT_TRUE(s.check());
}

TEST(Vma, FixedNoReplace) {
  VmaSet s;
  FakePages pg;
  ASSERT_TRUE(s.map(anon(B, 4 * P), pg).ok());
  EXPECT_EQ(s.map(anon(B + 3 * P, 2 * P, RW, Placement::FixedNoReplace), pg).error(), Error::Exists);
  EXPECT_EQ(s.map(anon(B + 4 * P, 2 * P, RW, Placement::FixedNoReplace), pg).value(), B + 4 * P);
}

TEST(Vma, UnmapSplitsTrimsAndRemoves) {
  VmaSet s;
  FakePages pg;
  ASSERT_TRUE(s.map(anon(B, 10 * P), pg).ok());
  ASSERT_TRUE(s.map(anon(B + 20 * P, 10 * P), pg).ok());
  ASSERT_TRUE(s.unmap(B + 2 * P, 3 * P, pg).ok());  // middle: split
  EXPECT_EQ(s.count(), 3u);
  ASSERT_TRUE(s.unmap(B + 8 * P, 14 * P, pg).ok());  // tail of one, head of another
  EXPECT_EQ(ranges(s), (std::vector<std::pair<uintptr_t, uintptr_t>>{
                           {B, B + 2 * P}, {B + 5 * P, B + 8 * P}, {B + 22 * P, B + 30 * P}}));
  ASSERT_TRUE(s.unmap(B, 100 * P, pg).ok());
  EXPECT_EQ(s.count(), 0u);
  // Unaligned length rounds up.
  ASSERT_TRUE(s.map(anon(B, 3 * P), pg).ok());
  ASSERT_TRUE(s.unmap(B, P + 1, pg).ok());
  EXPECT_EQ(s.first()->start, B + 2 * P);
}

TEST(Vma, ProtectSplitsMergesAndIsAllOrNothing) {
  VmaSet s;
  FakePages pg;
  ASSERT_TRUE(s.map(anon(B, 10 * P), pg).ok());
  ASSERT_TRUE(s.protect(B + 4 * P, 2 * P, VM_READ, pg).ok());
  EXPECT_EQ(s.count(), 3u);
  EXPECT_EQ(s.find(B + 4 * P)->prot, VM_READ);
  EXPECT_EQ(s.find(B + 6 * P)->prot, RW);
  ASSERT_TRUE(s.protect(B + 4 * P, 2 * P, RW, pg).ok());
  EXPECT_EQ(s.count(), 1u);
  // Same protection again: nothing to do, no observer call.
  int calls = pg.protect_calls;
  ASSERT_TRUE(s.protect(B, 10 * P, RW, pg).ok());
  EXPECT_EQ(pg.protect_calls, calls);
  // A hole in the range: ENOMEM, nothing changed.
  ASSERT_TRUE(s.map(anon(B + 11 * P, P), pg).ok());
  EXPECT_EQ(s.protect(B, 12 * P, VM_READ, pg).error(), Error::NoMemory);
  EXPECT_EQ(s.find(B)->prot, RW);
  EXPECT_TRUE(s.check());
}

TEST(Vma, MapCountLimit) {
  VmaSet s;
  FakePages pg;
  s.set_max_count(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.map(anon(B + i * 2 * P, P), pg).ok());
  EXPECT_EQ(s.map(anon(B + 10 * P, P), pg).error(), Error::NoMemory);
  ASSERT_TRUE(s.unmap(B, P, pg).ok());
  ASSERT_TRUE(s.map(anon(B + 10 * P, 3 * P), pg).ok());
  // Splitting at the limit fails, and changes nothing.
  EXPECT_EQ(s.unmap(B + 11 * P, P, pg).error(), Error::NoMemory);
  EXPECT_EQ(s.protect(B + 11 * P, P, VM_READ, pg).error(), Error::NoMemory);
  EXPECT_EQ(s.count(), 3u);
  EXPECT_EQ(s.find(B + 11 * P)->prot, RW);
  // Trimming at the limit is fine.
  EXPECT_TRUE(s.unmap(B + 12 * P, P, pg).ok());
}

TEST(Vma, RemapShrinkGrowInPlaceAndMove) {
  VmaSet s;
  FakePages pg;
  ASSERT_TRUE(s.map(anon(B, 4 * P), pg).ok());
  pg.pages[B] = {7, RW};
  EXPECT_EQ(s.remap(B, 4 * P, 2 * P, 0, 0, pg).value(), B);  // shrink
  EXPECT_EQ(s.find(B)->end, B + 2 * P);
  EXPECT_EQ(s.remap(B, 2 * P, 8 * P, 0, 0, pg).value(), B);  // grow in place
  EXPECT_EQ(s.find(B)->end, B + 8 * P);
  ASSERT_TRUE(s.map(anon(B + 8 * P, P, VM_READ), pg).ok());
  EXPECT_EQ(s.remap(B, 8 * P, 9 * P, 0, 0, pg).error(), Error::NoMemory);  // blocked, may not move
  auto moved = s.remap(B, 8 * P, 9 * P, REMAP_MAYMOVE, 0, pg);
  ASSERT_TRUE(moved.ok());
  EXPECT_NE(*moved, B);
  EXPECT_EQ(s.find(B), nullptr);
  EXPECT_EQ(s.find(*moved)->end, *moved + 9 * P);
  EXPECT_EQ(pg.pages.at(*moved).token, 7);
  EXPECT_EQ(pg.pages.count(B), 0u);
  // Errors.
  EXPECT_EQ(s.remap(B, P, P, 0, 0, pg).error(), Error::Fault);                      // unmapped
  EXPECT_EQ(s.remap(B + 8 * P, 2 * P, 3 * P, 0, 0, pg).error(), Error::Fault);      // past the VMA
  EXPECT_EQ(s.remap(*moved, P, 0, 0, 0, pg).error(), Error::Invalid);
  EXPECT_EQ(s.remap(*moved, P, P, REMAP_FIXED, B, pg).error(), Error::Invalid);      // FIXED needs MAYMOVE
  EXPECT_EQ(s.remap(*moved, 2 * P, 2 * P, 3, *moved + P, pg).error(), Error::Invalid);  // overlap
  EXPECT_TRUE(s.check());
}

TEST(Vma, RemapFixedReplacesDestinationAndMovesMiddle) {
  VmaSet s;
  FakePages pg;
  ASSERT_TRUE(s.map(anon(B, 10 * P), pg).ok());
  ASSERT_TRUE(s.map(anon(B + 40 * P, 4 * P, VM_READ), pg).ok());
  for (int i = 0; i < 10; ++i) pg.pages[B + i * P] = {i, RW};
  pg.pages[B + 41 * P] = {99, VM_READ};
  // Move pages 3..5 over the read-only mapping, growing to 4 pages.
  ASSERT_EQ(s.remap(B + 3 * P, 3 * P, 4 * P, REMAP_MAYMOVE | REMAP_FIXED, B + 40 * P, pg).value(),
            B + 40 * P);
  EXPECT_EQ(pg.pages.at(B + 40 * P).token, 3);
  EXPECT_EQ(pg.pages.at(B + 42 * P).token, 5);
  EXPECT_EQ(pg.pages.count(B + 41 * P), 1u);
  EXPECT_EQ(pg.pages.at(B + 41 * P).token, 4);
  EXPECT_EQ(s.find(B + 40 * P)->prot, RW);
  EXPECT_EQ(s.find(B + 40 * P)->end, B + 44 * P);
  EXPECT_EQ(s.find(B + 4 * P), nullptr);
  EXPECT_EQ(s.count(), 3u);
  EXPECT_TRUE(s.check());
}

TEST(Vma, RemapFailedMoveChangesNothing) {
  VmaSet s;
  FakePages pg;
  ASSERT_TRUE(s.map(anon(B, 2 * P), pg).ok());
  ASSERT_TRUE(s.map(anon(B + 2 * P, P, VM_READ), pg).ok());
  pg.fail_move = true;
  EXPECT_EQ(s.remap(B, 2 * P, 4 * P, REMAP_MAYMOVE, 0, pg).error(), Error::NoMemory);
  EXPECT_EQ(ranges(s), (std::vector<std::pair<uintptr_t, uintptr_t>>{{B, B + 2 * P}, {B + 2 * P, B + 3 * P}}));
}

TEST(Vma, Brk) {
  VmaSet s;
  FakePages pg;
  const uintptr_t bss_end = B + 0x1234;
  s.set_brk_base(bss_end);
  const uintptr_t start = B + 2 * P;
  EXPECT_EQ(s.brk(0, pg), start);
  EXPECT_EQ(s.brk(start + 100, pg), start + 100);
  EXPECT_EQ(s.find(start)->end, start + P);
  EXPECT_EQ(s.brk(start + 10 * P, pg), start + 10 * P);
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(s.brk(start - 1, pg), start + 10 * P);  // below the start: unchanged
  EXPECT_EQ(s.brk(start + 3 * P + 1, pg), start + 3 * P + 1);
  EXPECT_EQ(s.find(start)->end, start + 4 * P);
  // Something mapped just above: the heap must keep a page's distance.
  ASSERT_TRUE(s.map(anon(start + 6 * P, P, VM_READ), pg).ok());
  EXPECT_EQ(s.brk(start + 6 * P, pg), start + 3 * P + 1);
  EXPECT_EQ(s.brk(start + 5 * P, pg), start + 5 * P);
  EXPECT_EQ(s.brk(start, pg), start);
  EXPECT_EQ(s.find(start), nullptr);
  EXPECT_TRUE(s.check());
}

TEST(Vma, GrowStack) {
  VmaSet s;
  FakePages pg;
  const uintptr_t top = 0x7ff000000000;
  MapRequest st = anon(top - 4 * P, 4 * P);
  st.flags = VM_GROWSDOWN;
  ASSERT_TRUE(s.map(st, pg).ok());
  s.set_stack_limit(64 * P);
  EXPECT_EQ(s.grow_stack(top - 10 * P + 8), s.find(top - P));
  EXPECT_EQ(s.find(top - 10 * P)->start, top - 10 * P);
  EXPECT_EQ(s.grow_stack(top - 65 * P), nullptr);  // past the stack limit
  EXPECT_EQ(s.grow_stack(top), nullptr);           // above: not a stack
  // Not into the guard gap of the mapping below.
  ASSERT_TRUE(s.map(anon(top - 10 * P - STACK_GUARD_GAP - 2 * P, P), pg).ok());
  s.set_stack_limit(1 << 30);
  // That mapping ends at top - 10 pages - gap - 1 page: the stack may reach
  // down to a full gap above it.
  EXPECT_EQ(s.grow_stack(top - 12 * P), nullptr);
  EXPECT_NE(s.grow_stack(top - 11 * P), nullptr);
  EXPECT_EQ(s.find(top - P)->start, top - 11 * P);
}

TEST(Vma, BackingReferencesFollowSplitsAndOffsets) {
  CountingBacking file;
  {
    VmaSet s;
    FakePages pg;
    MapRequest r = anon(B, 8 * P, VM_READ);
    r.backing = &file;
    r.offset = 16 * P;
    ASSERT_TRUE(s.map(r, pg).ok());
    EXPECT_EQ(file.refs, 1);
    EXPECT_EQ(file.vm_maps.load(), 1u);  // VMAs mapping it (mm::backing_shrinking)
    ASSERT_TRUE(s.unmap(B + 2 * P, P, pg).ok());
    EXPECT_EQ(file.refs, 2);
    EXPECT_EQ(file.vm_maps.load(), 2u);
    EXPECT_EQ(s.find(B + 3 * P)->offset, 19 * P);
    // Remapping the hole with the right offset merges again.
    r.addr = B + 2 * P;
    r.len = P;
    r.offset = 18 * P;
    ASSERT_TRUE(s.map(r, pg).ok());
    EXPECT_EQ(s.count(), 1u);
    // The merged nodes' references (the hole's new one and the right
    // half's) wait for the caller, which releases them once it holds no
    // spinlock (a file's release may sleep).
    EXPECT_EQ(file.refs, 3);
    EXPECT_EQ(file.vm_maps.load(), 1u);
    VmaSet::release_dropped(s.take_dropped());
    EXPECT_EQ(file.refs, 1);
    EXPECT_EQ(s.take_dropped(), nullptr);
    // A wrong offset does not merge.
    ASSERT_TRUE(s.map(anon(B + 8 * P, P, VM_READ), pg).ok());
    r.addr = B + 8 * P;
    r.offset = 0;
    ASSERT_TRUE(s.map(r, pg).ok());
    EXPECT_EQ(s.count(), 2u);
    ASSERT_TRUE(s.remap(B + 4 * P, 2 * P, 2 * P, REMAP_MAYMOVE | REMAP_FIXED, B + 20 * P, pg).ok());
    EXPECT_EQ(s.find(B + 20 * P)->offset, 20 * P);
    VmaSet::release_dropped(s.take_dropped());
    EXPECT_EQ(file.refs, 4);
    EXPECT_EQ(file.vm_maps.load(), 4u);
    s.clear(pg);
  }
  EXPECT_EQ(file.refs, 0);
  EXPECT_EQ(file.vm_maps.load(), 0u);
}

TEST(Vma, ClearUnmapsEverything) {
  VmaSet s;
  FakePages pg;
  ASSERT_TRUE(s.map(anon(B, 4 * P), pg).ok());
  ASSERT_TRUE(s.map(anon(B + 8 * P, 4 * P, VM_READ), pg).ok());
  pg.pages[B] = {1, RW};
  s.clear(pg);
  EXPECT_EQ(s.count(), 0u);
  EXPECT_TRUE(pg.pages.empty());
  EXPECT_EQ(pg.unmap_calls, 2);
}

// ---- random sequence against a page-granular model -------------------------

struct ModelPage {
  uint32_t prot;
  int token;  // -1: not populated
};

class RandomOps : public ::testing::Test {
 protected:
  static constexpr uintptr_t WIN = 0x40000000;   // window for fixed operations
  static constexpr size_t WIN_PAGES = 256;

  VmaSet s;
  FakePages pg;
  std::map<uintptr_t, ModelPage> model;
  std::mt19937_64 rng{12345};
  int next_token = 1;

  uint64_t rnd(uint64_t n) { return rng() % n; }
  uintptr_t rnd_addr() { return WIN + rnd(WIN_PAGES) * P; }
  size_t rnd_len() { return (1 + rnd(16)) * P - (rnd(4) == 0 ? rnd(P - 1) : 0); }
  uint32_t rnd_prot() { return uint32_t(rnd(8)); }

  bool model_has_any(uintptr_t s0, uintptr_t e) {
    auto it = model.lower_bound(s0);
    return it != model.end() && it->first < e;
  }
  bool model_has_all(uintptr_t s0, uintptr_t e) {
    for (uintptr_t a = s0; a < e; a += P)
      if (!model.count(a)) return false;
    return true;
  }
  void model_erase(uintptr_t s0, uintptr_t e) { model.erase(model.lower_bound(s0), model.lower_bound(e)); }

  // The model and the set agree page for page; populated pages agree too.
  void verify() {
    ASSERT_TRUE(s.check());
    size_t pages = 0;
    for (Vma* v = s.first(); v; v = VmaSet::next(*v)) {
      for (uintptr_t a = v->start; a < v->end; a += P) {
        auto it = model.find(a);
        ASSERT_NE(it, model.end()) << std::hex << a;
        ASSERT_EQ(it->second.prot, v->prot) << std::hex << a;
        ++pages;
      }
    }
    ASSERT_EQ(pages, model.size());
    size_t populated = 0;
    for (auto& [a, m] : model) {
      if (m.token < 0) continue;
      ++populated;
      auto it = pg.pages.find(a);
      ASSERT_NE(it, pg.pages.end()) << std::hex << a;
      ASSERT_EQ(it->second.token, m.token);
      ASSERT_EQ(it->second.prot, m.prot);
    }
    ASSERT_EQ(populated, pg.pages.size());
  }

  // Like a fault: populate a random mapped page.
  void touch() {
    if (model.empty()) return;
    auto it = model.begin();
    std::advance(it, rnd(model.size()));
    if (it->second.token >= 0) return;
    it->second.token = next_token++;
    pg.pages[it->first] = {it->second.token, it->second.prot};
  }

  void op_map() {
    MapRequest r;
    r.len = rnd_len();
    r.prot = rnd_prot();
    const size_t len = (r.len + P - 1) & ~(P - 1);
    int kind = int(rnd(3));
    r.placement = kind == 0 ? Placement::Hint : kind == 1 ? Placement::Fixed : Placement::FixedNoReplace;
    r.addr = rnd(8) == 0 ? 0 : rnd_addr();
    if (r.placement != Placement::Hint && r.addr == 0) r.addr = rnd_addr();
    const bool taken = model_has_any(r.addr, r.addr + len);
    auto res = s.map(r, pg);
    if (r.placement == Placement::FixedNoReplace && taken) {
      ASSERT_EQ(res.error(), Error::Exists);
      return;
    }
    ASSERT_TRUE(res.ok());
    uintptr_t at = *res;
    if (r.placement != Placement::Hint) ASSERT_EQ(at, r.addr);
    else ASSERT_FALSE(model_has_any(at, at + len));
    model_erase(at, at + len);
    for (uintptr_t a = at; a < at + len; a += P) model[a] = {r.prot, -1};
  }

  void op_unmap() {
    uintptr_t a = rnd_addr();
    size_t len = rnd_len();
    ASSERT_TRUE(s.unmap(a, len, pg).ok());
    model_erase(a, a + ((len + P - 1) & ~(P - 1)));
  }

  void op_protect() {
    uintptr_t a = rnd_addr();
    if (rnd(2) && !model.empty()) {  // often start at a mapped page
      auto it = model.lower_bound(a);
      if (it != model.end()) a = it->first;
    }
    size_t len = rnd_len();
    uintptr_t e = a + ((len + P - 1) & ~(P - 1));
    uint32_t prot = rnd_prot();
    auto res = s.protect(a, len, prot, pg);
    if (!model_has_all(a, e)) {
      ASSERT_EQ(res.error(), Error::NoMemory);
      return;
    }
    ASSERT_TRUE(res.ok());
    for (uintptr_t x = a; x < e; x += P) model[x].prot = prot;
  }

  // One VMA in the model: every page mapped with the same protection (the
  // set merges such neighbours, so this is exactly "inside one VMA").
  bool one_vma(uintptr_t a, uintptr_t e) {
    if (!model_has_all(a, e)) return false;
    for (uintptr_t x = a; x < e; x += P)
      if (model[x].prot != model[a].prot) return false;
    return true;
  }

  void op_remap() {
    if (model.empty()) return;
    auto it = model.begin();
    std::advance(it, rnd(model.size()));
    uintptr_t old = it->first;
    size_t old_len = (1 + rnd(6)) * P, new_len = (1 + rnd(12)) * P;
    uint32_t flags = uint32_t(rnd(3));  // 0, MAYMOVE, FIXED (invalid alone)
    if (rnd(4) == 0) flags = REMAP_MAYMOVE | REMAP_FIXED;
    uintptr_t new_addr = rnd_addr();
    auto res = s.remap(old, old_len, new_len, flags, new_addr, pg);
    if (flags == REMAP_FIXED) {
      ASSERT_EQ(res.error(), Error::Invalid);
      return;
    }
    if ((flags & REMAP_FIXED) && new_addr < old + old_len && old < new_addr + new_len) {
      ASSERT_EQ(res.error(), Error::Invalid);
      return;
    }
    if (!one_vma(old, old + old_len)) {
      ASSERT_EQ(res.error(), Error::Fault);
      return;
    }
    if (res.error() == Error::NoMemory) {
      ASSERT_FALSE(flags & REMAP_MAYMOVE);
      ASSERT_GT(new_len, old_len);
      return;
    }
    ASSERT_TRUE(res.ok()) << error_name(res.error());
    const uint32_t prot = model[old].prot;
    std::vector<ModelPage> moved;
    for (uintptr_t x = old; x < old + old_len; x += P) moved.push_back(model[x]);
    model_erase(old, old + old_len);
    uintptr_t at = *res;
    if (flags & REMAP_FIXED) {
      ASSERT_EQ(at, new_addr);
      model_erase(at, at + new_len);
    } else if (at != old) {
      ASSERT_TRUE(flags & REMAP_MAYMOVE);
    }
    ASSERT_FALSE(model_has_any(at, at + new_len));
    for (size_t i = 0; i < new_len / P; ++i) model[at + i * P] = i < moved.size() ? moved[i] : ModelPage{prot, -1};
    // Shrinking drops the tail's pages from the page tables as well.
  }

  void op_brk() {
    uintptr_t cur = s.brk_current();
    uintptr_t want = cur + (rnd(2) ? rnd(8 * P) : 0) - (rnd(2) ? rnd(8 * P) : 0);
    uintptr_t old_end = (cur + P - 1) & ~(P - 1);
    uintptr_t got = s.brk(want, pg);
    ASSERT_TRUE(got == want || got == cur);
    uintptr_t new_end = (got + P - 1) & ~(P - 1);
    if (new_end > old_end) {
      ASSERT_FALSE(model_has_any(old_end, new_end));
      for (uintptr_t a = old_end; a < new_end; a += P) model[a] = {RW, -1};
    } else {
      model_erase(new_end, old_end);
    }
  }
};

TEST_F(RandomOps, AgainstModel) {
  s.set_mmap_base(WIN + WIN_PAGES * P + 64 * P);
  s.set_brk_base(WIN - 64 * P);
  for (int i = 0; i < 10000; ++i) {
    switch (rnd(7)) {
      case 0: case 1: op_map(); break;
      case 2: op_unmap(); break;
      case 3: op_protect(); break;
      case 4: op_remap(); break;
      case 5: op_brk(); break;
      default: touch(); touch(); break;
    }
    if (HasFatalFailure()) {
      ADD_FAILURE() << "operation " << i;
      return;
    }
    verify();
    if (HasFatalFailure()) {
      ADD_FAILURE() << "after operation " << i;
      return;
    }
  }
  s.clear(pg);
  EXPECT_TRUE(pg.pages.empty());
}

}  // namespace
