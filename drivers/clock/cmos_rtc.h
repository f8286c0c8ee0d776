#pragma once
#include <cstdint>

#include "lib/result.h"

namespace capsule {
// Seconds since the Unix epoch from the CMOS RTC (UTC, as QEMU keeps it).
Result<int64_t> cmos_rtc_read_unix();
}
