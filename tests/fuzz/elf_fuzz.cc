// libFuzzer target: the ELF loader's parser (core/elf/elf.cc). Any file
// must give a plan or BadFormat with a reason; an accepted plan must keep
// every promise the loader relies on (ranges inside the file and the user
// address space, segments sorted and disjoint, entry and PT_TLS inside a
// segment), and so must the load bias chosen for it.
#include <cstdlib>
#include <initializer_list>

#include "core/elf/elf.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule;
using namespace capsule::elf;

namespace {

// Reads through the ElfSource interface, as the kernel does from a vnode.
class CountingSource final : public ElfSource {
 public:
  CountingSource(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  uint64_t size() const override { return n_; }
  Result<void> read(uint64_t off, void* buf, size_t n) const override {
    ++reads;
    if (off > n_ || n > n_ - off) return Error::Range;
    __builtin_memcpy(buf, d_ + off, n);
    return {};
  }
  mutable size_t reads = 0;

 private:
  const uint8_t* d_;
  size_t n_;
};

void check_plan(const LoadPlan& p, size_t size) {
  FUZZ_CHECK(p.type == TYPE_EXEC || p.type == TYPE_DYN);
  FUZZ_CHECK(p.segment_count >= 1 && p.segment_count <= MAX_LOAD_SEGMENTS);
  FUZZ_CHECK(p.max_align >= ELF_PAGE_SIZE && (p.max_align & (p.max_align - 1)) == 0);
  for (size_t i = 0; i < p.segment_count; ++i) {
    const Segment& s = p.segments[i];
    FUZZ_CHECK(s.map_start % ELF_PAGE_SIZE == 0 && s.map_end % ELF_PAGE_SIZE == 0);
    FUZZ_CHECK(s.map_start <= s.vaddr && s.vaddr <= s.zero_start && s.zero_start <= s.mem_end);
    FUZZ_CHECK(s.mem_end <= s.map_end && s.map_end <= USER_END && s.map_start < s.map_end);
    FUZZ_CHECK(s.file_offset % ELF_PAGE_SIZE == 0);
    FUZZ_CHECK(s.file_end_vaddr() == s.zero_start);
    FUZZ_CHECK(s.file_offset <= size && s.file_size <= size - s.file_offset);
    if (p.type == TYPE_EXEC) FUZZ_CHECK(s.map_start >= USER_MIN);
    if (i) FUZZ_CHECK(p.segments[i - 1].map_end <= s.map_start);
  }
  FUZZ_CHECK(p.lo == p.segments[0].map_start && p.hi == p.segments[p.segment_count - 1].map_end);
  if (p.has_interp) {
    FUZZ_CHECK(p.interp_size >= 2 && p.interp_size <= MAX_INTERP);
    FUZZ_CHECK(p.interp_offset <= size && p.interp_size <= size - p.interp_offset);
  }
  if (p.tls.present) FUZZ_CHECK(p.tls.file_size <= p.tls.mem_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return -1;
  // A copy of exactly `size` bytes: ASan sees any read past the file.
  uint8_t* copy = static_cast<uint8_t*>(std::malloc(size ? size : 1));
  __builtin_memcpy(copy, data, size);

  LoadPlan plan;
  ElfDiag diag;
  CountingSource src(copy, size);
  Result<void> r = parse_elf(src, plan, &diag);
  FUZZ_SAY("elf: %s (phdr %d), %zu segments, interp %d\n", r.ok() ? "ok" : diag.reason, diag.phdr_index,
           r.ok() ? plan.segment_count : 0, r.ok() && plan.has_interp);
  if (!r.ok()) {
    FUZZ_CHECK(r.error() == Error::BadFormat && diag.reason != nullptr);
  } else {
    FUZZ_CHECK(src.reads <= 2 + (MAX_PHNUM + 15) / 16 + 8);
    check_plan(plan, size);
    char interp[MAX_INTERP];
    auto n = read_interp(src, plan, interp, sizeof interp);
    if (plan.has_interp && n.ok()) FUZZ_CHECK(n.value() + 1 == plan.interp_size && interp[n.value()] == 0);
    // The bias for the usual base and for bases near both ends.
    for (uint64_t base : {DEFAULT_PIE_BASE, USER_MIN, USER_END - ELF_PAGE_SIZE, uint64_t(0), ~uint64_t(0)}) {
      auto bias = choose_load_bias(plan, base);
      if (!bias.ok()) continue;
      uint64_t b = bias.value();
      if (plan.type == TYPE_EXEC) {
        FUZZ_CHECK(b == 0);
        continue;
      }
      FUZZ_CHECK(b % ELF_PAGE_SIZE == 0);
      for (size_t i = 0; i < plan.segment_count; ++i) {
        uint64_t lo = plan.segments[i].map_start + b, hi = plan.segments[i].map_end + b;
        // The bias is modular: an image linked above the base moves down.
        FUZZ_CHECK(lo >= USER_MIN && hi <= USER_END && lo < hi);
        FUZZ_CHECK(plan.segments[i].vaddr % ELF_PAGE_SIZE == (plan.segments[i].vaddr + b) % ELF_PAGE_SIZE);
      }
    }
  }
  // The in-memory form agrees with the stream form, and views the path.
  LoadPlan plan2;
  Result<void> r2 = parse_elf(copy, size, plan2, nullptr);
  if (!r.ok()) FUZZ_CHECK(!r2.ok());
  if (r2.ok()) {
    FUZZ_CHECK(r.ok() && plan2.segment_count == plan.segment_count && plan2.entry == plan.entry);
    if (plan2.has_interp) {
      FUZZ_CHECK(plan2.interp.size() + 1 == plan2.interp_size);
      for (size_t i = 0; i < plan2.interp.size(); ++i) FUZZ_CHECK(plan2.interp[i] != 0);
    }
  }
  std::free(copy);
  return 0;
}
