// Parsing values written to procfs files (fs/include/fs/procfs/write_value.h).
#include "fs/procfs/write_value.h"

namespace capsule::procfs {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// Digits of `base` making up all of s, into *v; Range on overflow.
Result<void> digits(StringView s, unsigned base, uint64_t* v) {
  if (s.empty()) return Error::Invalid;
  uint64_t x = 0;
  bool overflow = false;
  for (char c : s) {
    int d = digit_value(c);
    if (d >= int(base)) return Error::Invalid;
    if (__builtin_mul_overflow(x, base, &x) || __builtin_add_overflow(x, uint64_t(d), &x)) overflow = true;
  }
  if (overflow) return Error::Range;
  *v = x;
  return {};
}

}  // namespace

Result<uint64_t> parse_write_u64(StringView s) {
  if (!s.empty() && s[s.size() - 1] == '\n') s = s.substr(0, s.size() - 1);
  if (!s.empty() && s[0] == '+') s = s.substr(1);
  uint64_t v;
  TRY(digits(s, 10, &v));
  return v;
}

Result<int32_t> parse_write_int(StringView s) {
  while (!s.empty() && is_space(s[0])) s = s.substr(1);
  while (!s.empty() && is_space(s[s.size() - 1])) s = s.substr(0, s.size() - 1);
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s = s.substr(1);
  }
  unsigned base = 10;
  if (s.size() > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s = s.substr(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s = s.substr(1);
  }
  uint64_t v;
  TRY(digits(s, base, &v));
  if (neg ? v > uint64_t(1) << 31 : v > 0x7fffffff) return Error::Range;
  return neg ? int32_t(-int64_t(v)) : int32_t(v);
}

Result<uint32_t> parse_write_sysctl_uint(StringView s, uint32_t max) {
  while (!s.empty() && (s[s.size() - 1] == '\n' || s[s.size() - 1] == ' ')) s = s.substr(0, s.size() - 1);
  uint64_t v;
  if (!digits(s, 10, &v).ok() || v > max) return Error::Invalid;
  return uint32_t(v);
}

}  // namespace capsule::procfs
