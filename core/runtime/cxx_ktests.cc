// The C++ runtime's ktests.
#include <cstdint>

#include "lib/ktest.h"

extern "C" uintptr_t __stack_chk_guard;

namespace capsule {

// The stack protector's canary is set at boot from RDRAND and the TSC
// (kernel/main.cc), in every build: it must not be the image's constant
// (core/runtime/cxx.cc), nor the 0 it holds for the first few calls.
KTEST(runtime_stack_guard_random) {
  KEXPECT(__stack_chk_guard != 0x595e9fbd94fda766ull);
  KEXPECT(__stack_chk_guard != 0);
  // Enough entropy that it is not a small or byte-repeated value.
  KEXPECT(__stack_chk_guard >> 32 != 0);
  KEXPECT(__stack_chk_guard != 0x0101010101010101ull * (__stack_chk_guard & 0xff));
}

}  // namespace capsule
