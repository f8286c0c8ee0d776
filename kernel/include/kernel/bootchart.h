#pragma once
// Boot phase timestamps (--bootchart). mark() records the time since the
// kernel's first instruction; print() lists each phase's duration and the
// final "booted in X.XXX ms" line.
#include <cstdint>

#include "lib/string_view.h"

namespace capsule {

void bootchart_mark(const char* phase);
void bootchart_print();
uint64_t boot_elapsed_ns();  // time at the last mark

}  // namespace capsule
