#pragma once
#include <cstdint>

#include "lib/string_view.h"

namespace capsule {
// Function containing `addr` and the offset into it; false outside the text.
bool symbolize(uintptr_t addr, StringView& name, uintptr_t& offset);
}
