// libFuzzer target: the parsers of values written to procfs files
// (fs/procfs/write_value.cc), against references written here from the
// C library's strtoull/strtol (what Linux's kstrto* mean, checked on the
// host: tests/unit/pseudofs_test.cc): same value, same error.
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fs/procfs/write_value.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule;

namespace {

bool all_of(const std::string& s, size_t from, const char* set) {
  for (size_t i = from; i < s.size(); ++i)
    if (!std::strchr(set, s[i]) || s[i] == 0) return false;
  return true;
}

// kstrtoull(s, 10): [+]digits[\n].
Result<uint64_t> ref_u64(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  size_t at = !s.empty() && s[0] == '+' ? 1 : 0;
  if (at == s.size() || !all_of(s, at, "0123456789")) return Error::Invalid;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str() + at, nullptr, 10);
  if (errno == ERANGE) return Error::Range;
  return uint64_t(v);
}

// kstrtoint(strstrip(s), 0).
Result<int32_t> ref_int(std::string s) {
  const char* ws = " \t\n\v\f\r";
  size_t b = s.find_first_not_of(ws, 0, 6);
  if (b == std::string::npos) return Error::Invalid;
  size_t e = s.find_last_not_of(ws, std::string::npos, 6);
  s = s.substr(b, e - b + 1);
  size_t at = s[0] == '-' || s[0] == '+' ? 1 : 0;
  std::string body = s.substr(at);
  const char* digits = "0123456789";
  size_t from = 0;
  if (body.size() > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    digits = "0123456789abcdefABCDEF";
    from = 2;
  } else if (body.size() > 1 && body[0] == '0') {
    digits = "01234567";
    from = 1;
  }
  if (from == body.size() || body.empty() || !all_of(body, from, digits)) return Error::Invalid;
  errno = 0;
  long long v = std::strtoll(s.c_str(), nullptr, 0);  // long long: 64 bits, then the int's range
  if (errno == ERANGE || v < INT_MIN || v > INT_MAX) return Error::Range;
  return int32_t(v);
}

// A sysctl's unsigned: digits, then only "\n" and " ".
Result<uint32_t> ref_sysctl(std::string s, uint32_t max) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.empty() || !all_of(s, 0, "0123456789")) return Error::Invalid;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno == ERANGE || v > max) return Error::Invalid;
  return uint32_t(v);
}

template <typename T>
void same(const Result<T>& got, const Result<T>& want) {
  FUZZ_CHECK(got.ok() == want.ok());
  if (got.ok()) FUZZ_CHECK(got.value() == want.value());
  else FUZZ_CHECK(got.error() == want.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return -1;  // one write is at most a page (fs/procfs/procfs.cc)
  char* copy = static_cast<char*>(std::malloc(size ? size : 1));
  __builtin_memcpy(copy, data, size);
  StringView v(copy, size);
  std::string s(copy, size);
  same(procfs::parse_write_u64(v), ref_u64(s));
  same(procfs::parse_write_int(v), ref_int(s));
  same(procfs::parse_write_sysctl_uint(v, 2), ref_sysctl(s, 2));
  same(procfs::parse_write_sysctl_uint(v, 0x7fffffff), ref_sysctl(s, 0x7fffffff));
  std::free(copy);
  return 0;
}
