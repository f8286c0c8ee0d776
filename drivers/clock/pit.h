#pragma once
// The 8254 PIT as a reference clock for calibrating the TSC (drivers/clock/pit.cc).
#include <cstdint>

namespace capsule {

struct PitCalibration {
  uint64_t tsc_khz = 0;     // 0: failed (see why)
  unsigned attempts = 0;    // 10 ms measurements made
  unsigned accepted = 0;    // of which passed the sanity checks
  const char* why = "";     // on failure: "no PIT", "no agreement", ...
};

// Measures the TSC against PIT channel 2 (one-shot, gated by port 0x61)
// over 10 ms windows until two accepted measurements agree within 0.5%
// (at most 16 tries). Detects a missing PIT (microvm pit=off: the ports
// read as all ones, its output never goes low or its counter does not
// count) and returns at once then. Port I/O only: usable before memory
// management is up.
PitCalibration pit_calibrate_tsc();

}  // namespace capsule
