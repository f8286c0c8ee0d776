// TSC calibration against the 8254 PIT, channel 2 [Intel 8254 data sheet;
// the IBM PC wiring: channel 2's gate is port 0x61 bit 0, its output reads
// back as port 0x61 bit 5; the input clock is 1.193182 MHz].
//
// One measurement: channel 2 in mode 0 (interrupt on terminal count) loaded
// with 10 ms worth of PIT ticks; its output is low from the load until the
// count reaches zero. The TSC is read around the load and on each poll of
// the output, so the window is known to within one poll. Pauses of the vCPU
// inside the window do not matter (both clocks go on counting: under TCG
// both follow the host's clock, and a single-threaded TCG vCPU does stop
// for milliseconds now and then); pauses at either end do.
//
// Sanity checks, because a calibration that goes wrong silently makes every
// timer wrong (PLATFORM.md: Linux's PIT calibration failed once in 16 boots
// under TCG, then hung): a measurement is thrown away when the load or any
// the poll that saw the output go high took more than 0.2% of the window
// (the vCPU was paused there, so that end of the window is uncertain) or the rate is implausible; two accepted
// measurements must agree within 0.5%, else it tries again.
#include "drivers/clock/pit.h"

#include "arch/x64/cpu/x64.h"

namespace capsule {
namespace {

constexpr uint32_t PIT_HZ = 1193182;
constexpr uint16_t PIT_CH2 = 0x42, PIT_CMD = 0x43, PORT_B = 0x61;
constexpr uint16_t WINDOW_TICKS = PIT_HZ / 100;  // 10 ms
constexpr unsigned MAX_ATTEMPTS = 6;
constexpr uint64_t MIN_KHZ = 100000, MAX_KHZ = 20000000;  // 100 MHz .. 20 GHz

uint16_t latch_count() {
  x64::outb(PIT_CMD, 0x80);  // channel 2, counter latch
  uint8_t lo = x64::inb(PIT_CH2);
  uint8_t hi = x64::inb(PIT_CH2);
  return uint16_t(lo | hi << 8);
}

bool out2_high() { return x64::inb(PORT_B) & 0x20; }

enum class Result { Ok, NoPit, Noisy, Timeout };

Result measure(uint64_t& khz) {
  // Gate on, speaker off; mode 0, binary, low byte then high byte.
  x64::outb(PORT_B, uint8_t((x64::inb(PORT_B) & ~0x02) | 0x01));
  x64::outb(PIT_CMD, 0xb0);
  x64::outb(PIT_CH2, WINDOW_TICKS & 0xff);
  uint64_t a = x64::rdtsc();
  x64::outb(PIT_CH2, WINDOW_TICKS >> 8);  // counting starts with this write
  uint64_t b = x64::rdtsc();
  uint64_t start = a + (b - a) / 2;
  uint64_t load_gap = b - a;
  // A PIT that exists has its output low now and a count at or below the
  // one loaded; missing ports read as all ones.
  if (out2_high()) return Result::NoPit;
  uint16_t c0 = latch_count();
  if (c0 > WINDOW_TICKS) return Result::NoPit;
  uint64_t prev = x64::rdtsc(), end_gap = 0, end = 0;
  bool counted = false;
  for (uint64_t polls = 0;; ++polls) {
    bool high = out2_high();
    uint64_t now = x64::rdtsc();
    if (high) {
      end = prev + (now - prev) / 2;
      end_gap = now - prev;
      break;
    }
    prev = now;
    if ((polls & 1023) == 1023 && !counted) {
      // Still the loaded value after a thousand polls: not counting.
      if (latch_count() == c0) return Result::NoPit;
      counted = true;
    }
    if (polls > 50000000 || now - start > (uint64_t(1) << 34)) return Result::Timeout;
  }
  uint64_t window = end - start;
  if (load_gap > window / 500 || end_gap > window / 500) return Result::Noisy;
  khz = window * PIT_HZ / (uint64_t(WINDOW_TICKS) * 1000);
  if (khz < MIN_KHZ || khz > MAX_KHZ) return Result::Noisy;
  return Result::Ok;
}

bool agree(uint64_t x, uint64_t y) {
  uint64_t d = x > y ? x - y : y - x;
  return d * 200 <= (x < y ? x : y);  // within 0.5%
}

}  // namespace

PitCalibration pit_calibrate_tsc() {
  PitCalibration r;
  uint64_t good[MAX_ATTEMPTS];
  unsigned ngood = 0;
  bool timed_out = false;
  while (r.attempts < MAX_ATTEMPTS) {
    ++r.attempts;
    uint64_t khz = 0;
    Result m = measure(khz);
    if (m == Result::NoPit) {
      r.why = "no PIT (its output or counter does not respond)";
      return r;
    }
    if (m == Result::Timeout) timed_out = true;
    if (m != Result::Ok) continue;
    for (unsigned i = 0; i < ngood; ++i) {
      if (agree(good[i], khz)) {
        r.accepted = ngood + 1;
        r.tsc_khz = (good[i] + khz) / 2;
        return r;
      }
    }
    good[ngood++] = khz;
  }
  r.accepted = ngood;
  r.why = timed_out ? "the PIT's output never went high" : "no two measurements agreed within 0.5%";
  return r;
}

}  // namespace capsule
