// What the libFuzzer targets in tests/fuzz share: FUZZ_CHECK stops the run
// (a crash libFuzzer reports and keeps) when an invariant of the parser
// under test does not hold. Built only by tests/fuzz/CMakeLists.txt.
#pragma once
#include <cstdio>

#define FUZZ_CHECK(c)                                                        \
  do {                                                                       \
    if (!(c)) {                                                              \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); \
      __builtin_trap();                                                      \
    }                                                                        \
  } while (0)

// FUZZ_VERBOSE=1 in the environment: targets say what each input gave
// (replaying a seed or a finding: FUZZ_VERBOSE=1 build/fuzz/elf_fuzz FILE).
#include <cstdlib>
inline bool fuzz_verbose() {
  static const bool v = std::getenv("FUZZ_VERBOSE") != nullptr;
  return v;
}
#define FUZZ_SAY(...)                                   \
  do {                                                  \
    if (fuzz_verbose()) std::fprintf(stderr, __VA_ARGS__); \
  } while (0)
