#include <gtest/gtest.h>

#include <ctime>

#include "core/time/calendar.h"

using namespace capsule;

TEST(Calendar, KnownDates) {
  EXPECT_EQ(civil_to_unix({1970, 1, 1, 0, 0, 0}), 0);
  EXPECT_EQ(civil_to_unix({2000, 3, 1, 0, 0, 0}), 951868800);
  EXPECT_EQ(civil_to_unix({2026, 11, 25, 8, 36, 20}), 1795595780);
  EXPECT_EQ(civil_to_unix({1969, 12, 31, 23, 59, 59}), -1);
}

TEST(Calendar, AgreesWithTheHostLibcOverManyDays) {
  for (int64_t s = -86400LL * 365 * 3; s < 86400LL * 365 * 140; s += 86400 * 7 + 3601) {
    time_t tt = time_t(s);
    struct tm tm;
    gmtime_r(&tt, &tm);
    CivilTime c = unix_to_civil(s);
    ASSERT_EQ(c.year, tm.tm_year + 1900) << s;
    ASSERT_EQ(c.month, unsigned(tm.tm_mon + 1)) << s;
    ASSERT_EQ(c.day, unsigned(tm.tm_mday)) << s;
    ASSERT_EQ(c.hour, unsigned(tm.tm_hour)) << s;
    ASSERT_EQ(civil_to_unix(c), s);
  }
}

TEST(Calendar, RejectsImpossibleDates) {
  EXPECT_TRUE(civil_valid({2024, 2, 29, 0, 0, 0}));
  EXPECT_FALSE(civil_valid({2023, 2, 29, 0, 0, 0}));
  EXPECT_FALSE(civil_valid({1900, 2, 29, 0, 0, 0}));
  EXPECT_TRUE(civil_valid({2000, 2, 29, 0, 0, 0}));
  EXPECT_FALSE(civil_valid({2024, 13, 1, 0, 0, 0}));
  EXPECT_FALSE(civil_valid({2024, 0, 1, 0, 0, 0}));
  EXPECT_FALSE(civil_valid({2024, 4, 31, 0, 0, 0}));
  EXPECT_FALSE(civil_valid({2024, 4, 1, 24, 0, 0}));
}
