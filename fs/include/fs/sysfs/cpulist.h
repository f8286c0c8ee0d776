#pragma once
// Linux's CPU list format ("0-3,5,7-8\n", cpulist_parse's input), as sysfs
// and /proc/<pid>/status (Cpus_allowed_list) print it.
#include <cstddef>

#include "lib/format.h"

namespace capsule::sysfs {

// The CPUs i < n with set[i], as ranges; an empty set prints nothing.
void format_cpu_list(Sink& out, const bool* set, size_t n);

}  // namespace capsule::sysfs
