#pragma once
// Civil date <-> seconds since the Unix epoch (proleptic Gregorian, UTC).
#include <cstdint>

namespace capsule {

struct CivilTime {
  int64_t year;
  unsigned month;   // 1..12
  unsigned day;     // 1..31
  unsigned hour, minute, second;
};

// Returns false for an impossible date (month 13, Feb 30, hour 24, ...).
bool civil_valid(const CivilTime& t);
int64_t civil_to_unix(const CivilTime& t);
CivilTime unix_to_civil(int64_t seconds);

}  // namespace capsule
