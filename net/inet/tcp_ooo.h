#pragma once
// The out-of-order part of a TCP receive window (docs/net.md "TCP"): which
// sequence ranges past RCV.NXT have arrived, merged, at most MAX of them
// (a segment that would need another range is dropped: the sender sends
// it again). The bytes themselves sit in the receive ring past its
// in-order end (TcpRing::write_at), so filling a hole copies nothing.
// It also remembers which range changed last, for SACK's first block
// (RFC 2018 4). Pure; unit-tested.
#include <cstdint>

#include "net/inet/tcp_seq.h"

namespace capsule::net {

class TcpOoo {
 public:
  static constexpr int MAX = 16;
  struct Range {
    uint32_t start, end;  // [start, end) in sequence space
  };

  bool empty() const { return n_ == 0; }
  int size() const { return n_; }
  const Range& operator[](int i) const { return r_[i]; }
  void clear() { n_ = 0, last_ = -1; }
  // The range that took the newest segment (-1: none).
  int last() const { return last_; }

  // Records [start, end) (end > start), merging with what it overlaps or
  // touches. False when that would take a range more than MAX.
  bool add(uint32_t start, uint32_t end) {
    int i = 0;
    while (i < n_ && seq_lt(r_[i].end, start)) ++i;  // ranges wholly before
    int j = i;
    while (j < n_ && seq_le(r_[j].start, end)) ++j;  // [i, j) overlap or touch
    if (i == j) {
      if (n_ == MAX) return false;
      for (int k = n_; k > i; --k) r_[k] = r_[k - 1];
      r_[i] = {start, end};
      ++n_;
    } else {
      uint32_t s = seq_lt(start, r_[i].start) ? start : r_[i].start;
      uint32_t e = seq_gt(end, r_[j - 1].end) ? end : r_[j - 1].end;
      r_[i] = {s, e};
      int gone = j - i - 1;
      for (int k = i + 1; k + gone < n_; ++k) r_[k] = r_[k + gone];
      n_ -= gone;
    }
    last_ = i;
    return true;
  }

  // The bytes all ranges hold, and those within [a, b).
  uint32_t bytes() const {
    uint32_t n = 0;
    for (int i = 0; i < n_; ++i) n += r_[i].end - r_[i].start;
    return n;
  }
  uint32_t covered(uint32_t a, uint32_t b) const {
    uint32_t n = 0;
    for (int i = 0; i < n_ && seq_lt(r_[i].start, b); ++i) {
      uint32_t s = seq_gt(r_[i].start, a) ? r_[i].start : a;
      uint32_t e = seq_lt(r_[i].end, b) ? r_[i].end : b;
      if (seq_gt(e, s)) n += e - s;
    }
    return n;
  }
  // The first gap at or after `from` that a range ends above (a SACK
  // sender's next hole, RFC 6675 NextSeg() rule 1): false when none.
  bool next_hole(uint32_t from, uint32_t& start, uint32_t& end) const {
    uint32_t cursor = from;
    for (int i = 0; i < n_; ++i) {
      if (seq_le(r_[i].end, cursor)) continue;
      if (seq_lt(cursor, r_[i].start)) {
        start = cursor, end = r_[i].start;
        return true;
      }
      cursor = r_[i].end;
    }
    return false;
  }

  // Once RCV.NXT reached `upto`: drops the ranges it covers and returns
  // the end of the in-order stretch (upto itself when no range starts at
  // or before it).
  uint32_t advance(uint32_t upto) {
    uint32_t end = upto;
    int k = 0;
    while (k < n_ && seq_le(r_[k].start, end)) {
      if (seq_gt(r_[k].end, end)) end = r_[k].end;
      ++k;
    }
    if (k) {
      for (int m = 0; m + k < n_; ++m) r_[m] = r_[m + k];
      n_ -= k;
      last_ = last_ >= k ? last_ - k : -1;
    }
    return end;
  }

 private:
  Range r_[MAX] = {};
  int n_ = 0;
  int last_ = -1;
};

}  // namespace capsule::net
