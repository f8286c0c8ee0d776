#pragma once
// TCP sequence number arithmetic (RFC 793 3.3, RFC 1982): 32-bit numbers
// that wrap, compared by the sign of their difference. Pure; unit-tested.
#include <cstdint>

namespace capsule::net {

inline bool seq_lt(uint32_t a, uint32_t b) { return int32_t(a - b) < 0; }
inline bool seq_le(uint32_t a, uint32_t b) { return int32_t(a - b) <= 0; }
inline bool seq_gt(uint32_t a, uint32_t b) { return int32_t(a - b) > 0; }
inline bool seq_ge(uint32_t a, uint32_t b) { return int32_t(a - b) >= 0; }
// lo <= x < hi, in sequence space.
inline bool seq_in(uint32_t x, uint32_t lo, uint32_t hi) { return seq_le(lo, x) && seq_lt(x, hi); }

// RFC 793 p. 26, "Segment Receive Test": is a segment of `len` sequence
// numbers at `seq` acceptable to a receiver expecting rcv_nxt with window
// rcv_wnd?
inline bool seq_acceptable(uint32_t seq, uint32_t len, uint32_t rcv_nxt, uint32_t rcv_wnd) {
  if (len == 0) {
    if (rcv_wnd == 0) return seq == rcv_nxt;
    return seq_in(seq, rcv_nxt, rcv_nxt + rcv_wnd);
  }
  if (rcv_wnd == 0) return false;
  return seq_in(seq, rcv_nxt, rcv_nxt + rcv_wnd) || seq_in(seq + len - 1, rcv_nxt, rcv_nxt + rcv_wnd);
}

}  // namespace capsule::net
