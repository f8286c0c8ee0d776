#pragma once
// A set of CPUs: thread affinity (pin/unpin) and the load balancer's view of
// where an entity may run.
#include <bit>
#include <cstdint>

namespace capsule::sched {

class CpuMask {
 public:
  static constexpr uint32_t MAX_CPUS = 256;

  constexpr CpuMask() = default;
  static constexpr CpuMask all() {
    CpuMask m;
    for (auto& w : m.words_) w = ~uint64_t(0);
    return m;
  }
  static constexpr CpuMask only(uint32_t cpu) {
    CpuMask m;
    m.set(cpu);
    return m;
  }

  constexpr bool has(uint32_t cpu) const {
    return cpu < MAX_CPUS && (words_[cpu / 64] >> (cpu % 64) & 1);
  }
  constexpr void set(uint32_t cpu) {
    if (cpu < MAX_CPUS) words_[cpu / 64] |= uint64_t(1) << (cpu % 64);
  }
  constexpr void clear(uint32_t cpu) {
    if (cpu < MAX_CPUS) words_[cpu / 64] &= ~(uint64_t(1) << (cpu % 64));
  }
  constexpr uint32_t count() const {
    uint32_t n = 0;
    for (auto w : words_) n += uint32_t(std::popcount(w));
    return n;
  }
  constexpr bool empty() const { return count() == 0; }
  constexpr bool operator==(const CpuMask&) const = default;

 private:
  static constexpr uint32_t WORDS = MAX_CPUS / 64;
  uint64_t words_[WORDS] = {};
};

}  // namespace capsule::sched
