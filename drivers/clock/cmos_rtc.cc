// The CMOS real-time clock (MC146818-compatible), read once at boot for the
// wall clock. Registers: 0 sec, 2 min, 4 hour, 7 day, 8 month, 9 year,
// 0x32 century (QEMU fills it), 0x0a status A (bit 7: update in progress),
// 0x0b status B (bit 2: binary, bit 1: 24-hour).
#include "arch/x64/cpu/x64.h"
#include "lib/log.h"
#include "core/time/calendar.h"
#include "drivers/clock/cmos_rtc.h"

namespace capsule {
namespace {

uint8_t cmos(uint8_t reg) {
  x64::outb(0x70, reg | 0x80);  // bit 7 keeps NMIs disabled while we read
  return x64::inb(0x71);
}

struct Raw {
  uint8_t s, m, h, d, mo, y, c;
  bool operator==(const Raw&) const = default;
};

Raw read_raw() {
  for (int spin = 0; spin < 100000 && (cmos(0x0a) & 0x80); ++spin) x64::pause();
  return {cmos(0x00), cmos(0x02), cmos(0x04), cmos(0x07), cmos(0x08), cmos(0x09), cmos(0x32)};
}

unsigned bcd(uint8_t v) { return (v >> 4) * 10 + (v & 0xf); }

}  // namespace

Result<int64_t> cmos_rtc_read_unix() {
  // No RTC answers 0xff on every port.
  if (cmos(0x0a) == 0xff && cmos(0x0b) == 0xff) return Error::NotFound;
  Raw a = read_raw(), b = read_raw();
  for (int tries = 0; !(a == b) && tries < 5; ++tries) {  // an update ran between reads
    a = b;
    b = read_raw();
  }
  uint8_t status_b = cmos(0x0b);
  bool binary = status_b & 0x04;
  bool h24 = status_b & 0x02;
  auto conv = [&](uint8_t v) { return binary ? unsigned(v) : bcd(v); };
  bool pm = (b.h & 0x80) != 0;
  unsigned hour = conv(b.h & 0x7f);
  if (!h24) hour = (hour % 12) + (pm ? 12 : 0);
  unsigned century = b.c ? conv(b.c) : 20;
  if (century < 19 || century > 30) century = 20;
  CivilTime t{int64_t(century) * 100 + conv(b.y), conv(b.mo), conv(b.d), hour, conv(b.m), conv(b.s)};
  if (!civil_valid(t)) {
    log_warn("rtc: implausible time {}-{}-{} {}:{}:{}", t.year, t.month, t.day, t.hour, t.minute, t.second);
    return Error::BadFormat;
  }
  return civil_to_unix(t);
}

}  // namespace capsule
