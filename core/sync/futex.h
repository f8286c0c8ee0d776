#pragma once
// Futex internals shared by core/sync/futex.cc and the host tests: the
// FUTEX_WAKE_OP decoder (pure arithmetic, no kernel dependencies).
#include <cstdint>

#include "core/futex.h"
#include "lib/result.h"

namespace capsule::futex {

struct DecodedOp {
  uint32_t op;      // FutexOp without the shift flag
  uint32_t cmp;     // FutexCmp
  int32_t oparg;    // after FUTEX_OP_OPARG_SHIFT: 1 << (oparg & 31)
  int32_t cmparg;
};

// Splits an encoded FUTEX_WAKE_OP argument; Error::NotSupported (ENOSYS, as
// Linux) for an op above Xor or a comparison above Ge.
inline Result<DecodedOp> decode_op(uint32_t encoded) {
  auto sext12 = [](uint32_t v) { return int32_t(v << 20) >> 20; };
  DecodedOp d;
  d.op = (encoded >> 28) & 7;
  d.cmp = (encoded >> 24) & 15;
  d.oparg = sext12((encoded >> 12) & 0xfff);
  d.cmparg = sext12(encoded & 0xfff);
  // Linux masks a shift count outside 0..31 (and warns once) rather than
  // failing; so does this.
  if (encoded & (FUTEX_OP_OPARG_SHIFT << 28)) d.oparg = int32_t(1u << (uint32_t(d.oparg) & 31));
  if (d.op > uint32_t(FutexOp::Xor) || d.cmp > uint32_t(FutexCmp::Ge)) return Error::NotSupported;
  return d;
}

// The new value of the word.
inline uint32_t apply_op(const DecodedOp& d, uint32_t old) {
  uint32_t a = uint32_t(d.oparg);
  switch (FutexOp(d.op)) {
    case FutexOp::Set: return a;
    case FutexOp::Add: return old + a;
    case FutexOp::Or: return old | a;
    case FutexOp::AndNot: return old & ~a;
    case FutexOp::Xor: return old ^ a;
  }
  return old;
}

// The comparison, on the old value as a signed int (futex(2)).
inline bool compare(const DecodedOp& d, uint32_t old_u) {
  int32_t old = int32_t(old_u);
  switch (FutexCmp(d.cmp)) {
    case FutexCmp::Eq: return old == d.cmparg;
    case FutexCmp::Ne: return old != d.cmparg;
    case FutexCmp::Lt: return old < d.cmparg;
    case FutexCmp::Le: return old <= d.cmparg;
    case FutexCmp::Gt: return old > d.cmparg;
    case FutexCmp::Ge: return old >= d.cmparg;
  }
  return false;
}

}  // namespace capsule::futex
