// Splits a fuzzer's input into the pieces a target consumes (tests/fuzz):
// bytes, integers, and length-prefixed records.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fuzz {

struct Input {
  const uint8_t* p;
  size_t n;
  bool take(size_t k, const uint8_t** out) {
    if (n < k) return false;
    *out = p;
    p += k;
    n -= k;
    return true;
  }
  int byte() {
    const uint8_t* b;
    return take(1, &b) ? *b : -1;
  }
  // A record: a 16-bit little-endian length, then that many bytes (what
  // is left if fewer).
  bool record(const uint8_t** out, size_t* len) {
    const uint8_t* h;
    if (!take(2, &h)) return false;
    size_t want = size_t(h[0]) | size_t(h[1]) << 8;
    if (want > n) want = n;
    *len = want;
    return take(want, out);
  }
};

}  // namespace fuzz
