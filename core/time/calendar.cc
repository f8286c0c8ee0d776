#include "core/time/calendar.h"

namespace capsule {
namespace {

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

// Days since 1970-01-01 of a civil date. Counting from March makes the leap
// day the last day of the "year", so one formula covers every month.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                   // [0, 399]
  int64_t mp = (int64_t(m) + 9) % 12;                            // March = 0
  int64_t doy = (153 * mp + 2) / 5 + int64_t(d) - 1;             // [0, 365]
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
  return era * 146097 + doe - 719468;                            // 719468: 0000-03-01 .. 1970-01-01
}

}  // namespace

bool civil_valid(const CivilTime& t) {
  return t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= days_in_month(t.year, t.month) &&
         t.hour < 24 && t.minute < 60 && t.second < 60;
}

int64_t civil_to_unix(const CivilTime& t) {
  return days_from_civil(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
}

CivilTime unix_to_civil(int64_t s) {
  int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
  int64_t rem = s - days * 86400;
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  CivilTime t;
  t.day = unsigned(doy - (153 * mp + 2) / 5 + 1);
  t.month = unsigned(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2);
  t.hour = unsigned(rem / 3600);
  t.minute = unsigned(rem / 60 % 60);
  t.second = unsigned(rem % 60);
  return t;
}

}  // namespace capsule
