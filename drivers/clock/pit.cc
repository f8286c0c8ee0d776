// TSC calibration against the 8254 PIT, channel 2 [Intel 8254 data sheet;
// the IBM PC wiring: channel 2's gate is port 0x61 bit 0, its output reads
// back as port 0x61 bit 5; the input clock is 1.193182 MHz].
//
// One measurement: channel 2 in mode 0 loaded with 0xfffe and left to
// count down (~55 ms to wrap); the counter is read (latched) between two TSC
// reads, once at the start and again once at least 10 ms of PIT ticks have
// passed. The rate is TSC ticks / PIT ticks between the two readings.
//
// Sanity checks, because a calibration that goes wrong silently makes every
// timer wrong (PLATFORM.md: Linux's PIT calibration failed once in 16 boots
// under TCG, then hung). Under TCG the vCPU is paused now and then (for
// milliseconds on a busy host): a pause inside the window is harmless (both
// clocks go on), a pause during an end-point reading is not. So only quick
// readings (at most 4x the quickest) serve as end points, their combined
// uncertainty must stay under 0.1% of the window, the rate must be
// plausible, and two accepted measurements must agree within 0.5%; at most
// 16 tries (~0.2 s; more on a busy host), else the caller guesses and warns — never a hang. An
// earlier version timed the output edge (port 0x61 bit 5) and needed the
// poll around the edge to be quick; under load 9 boots in 12 found no two
// good measurements.
#include "drivers/clock/pit.h"

#include "arch/x64/cpu/x64.h"

namespace capsule {
namespace {

constexpr uint32_t PIT_HZ = 1193182;
constexpr uint16_t PIT_CH2 = 0x42, PIT_CMD = 0x43, PORT_B = 0x61;
constexpr uint16_t WINDOW_TICKS = PIT_HZ / 100;  // 10 ms
constexpr unsigned MAX_ATTEMPTS = 16;
constexpr uint64_t MIN_KHZ = 100000, MAX_KHZ = 20000000;  // 100 MHz .. 20 GHz

uint16_t latch_count() {
  x64::outb(PIT_CMD, 0x80);  // channel 2, counter latch
  uint8_t lo = x64::inb(PIT_CH2);
  uint8_t hi = x64::inb(PIT_CH2);
  return uint16_t(lo | hi << 8);
}

bool out2_high() { return x64::inb(PORT_B) & 0x20; }

enum class Result { Ok, NoPit, Noisy, Timeout };

constexpr uint16_t LOAD = 0xfffe;  // ~55 ms; below all ones, which a missing PIT reads

struct Sample {
  uint64_t tsc;     // middle of the bracket
  uint64_t width;   // TSC ticks the reading took
  uint16_t count;
};

Sample sample() {
  uint64_t a = x64::rdtsc();
  uint16_t c = latch_count();
  uint64_t b = x64::rdtsc();
  return {a + (b - a) / 2, b - a, c};
}

// One measurement: two readings of the counter, each bracketed by TSC reads,
// at least WINDOW_TICKS apart. Only quick readings count as end points: a
// reading during which the vCPU was paused (its bracket is much wider than
// the quickest one seen) is skipped, and the next one used. Pauses between
// the two end points do not matter: both clocks go on counting.
Result measure(uint64_t& khz) {
  // Gate on, speaker off; channel 2, mode 0, binary, low byte then high byte.
  x64::outb(PORT_B, uint8_t((x64::inb(PORT_B) & ~0x02) | 0x01));
  x64::outb(PIT_CMD, 0xb0);
  x64::outb(PIT_CH2, LOAD & 0xff);
  x64::outb(PIT_CH2, LOAD >> 8);
  // A PIT that exists has its output low now and a count at or below the
  // one loaded; missing ports read as all ones.
  if (out2_high()) return Result::NoPit;
  uint64_t quickest = ~0ull;
  Sample first{};
  bool counting = false;
  for (int i = 0; i < 16; ++i) {  // the quickest of the first readings
    Sample x = sample();
    if (x.count > LOAD) return Result::NoPit;
    if (x.count != LOAD) counting = true;
    if (x.width < quickest) {
      quickest = x.width;
      first = x;
    }
  }
  for (unsigned polls = 0; !counting; ++polls) {
    if (sample().count != LOAD) counting = true;
    if (polls > 1000) return Result::NoPit;  // the counter does not count
  }
  for (uint64_t polls = 0;; ++polls) {
    Sample x = sample();
    if (x.width < quickest) quickest = x.width;
    uint16_t elapsed = uint16_t(first.count - x.count);
    if (x.count > first.count || elapsed > LOAD / 2) return Result::Noisy;  // paused past a wrap
    if (elapsed >= WINDOW_TICKS && x.width <= 4 * quickest) {
      uint64_t window = x.tsc - first.tsc;
      if (first.width + x.width > window / 1000) return Result::Noisy;  // > 0.1% uncertain
      khz = window * PIT_HZ / (uint64_t(elapsed) * 1000);
      if (khz < MIN_KHZ || khz > MAX_KHZ) return Result::Noisy;
      return Result::Ok;
    }
    if (polls > 10000000) return Result::Timeout;
  }
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
  r.why = timed_out ? "the PIT's counter never got far enough" : "no two measurements agreed within 0.5%";
  return r;
}

}  // namespace capsule
