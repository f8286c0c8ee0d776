#pragma once
// Priority → weight. Nice values run from -20 (most CPU) to 19 (least), as
// in Linux, so setpriority()/nice() map directly. Each step multiplies the
// weight by 1.25: two CPU-bound threads one nice level apart then split a
// CPU about 55/45, i.e. one level is worth ~10% of CPU, and the whole range
// spans 1.25^39 ≈ 6000:1. Weights are computed here at compile time rather
// than typed in as a table.
#include <cstdint>

namespace capsule::sched {

inline constexpr int NICE_MIN = -20;
inline constexpr int NICE_MAX = 19;
inline constexpr uint32_t NICE_ZERO_WEIGHT = 1024;

namespace detail {

// round(1024 * 1.25^-nice), exact in 64-bit: 1024 * 5^20 < 2^57.
constexpr uint32_t compute_weight(int nice) {
  uint64_t num = NICE_ZERO_WEIGHT, den = 1;
  for (int i = 0; i < (nice < 0 ? -nice : nice); ++i) {
    num *= nice < 0 ? 5 : 4;
    den *= nice < 0 ? 4 : 5;
  }
  return uint32_t((num + den / 2) / den);
}

struct WeightTable {
  uint32_t w[NICE_MAX - NICE_MIN + 1];
};

constexpr WeightTable make_weight_table() {
  WeightTable t{};
  for (int n = NICE_MIN; n <= NICE_MAX; ++n) t.w[n - NICE_MIN] = compute_weight(n);
  return t;
}

inline constexpr WeightTable NICE_WEIGHTS = make_weight_table();

}  // namespace detail

constexpr int clamp_nice(int nice) {
  return nice < NICE_MIN ? NICE_MIN : nice > NICE_MAX ? NICE_MAX : nice;
}

constexpr uint32_t nice_to_weight(int nice) {
  return detail::NICE_WEIGHTS.w[clamp_nice(nice) - NICE_MIN];
}

static_assert(nice_to_weight(0) == 1024);
static_assert(nice_to_weight(-20) == 88818);
static_assert(nice_to_weight(19) == 15);

}  // namespace capsule::sched
