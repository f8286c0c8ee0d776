// The CPU list format (fs/sysfs/cpulist.h).
#include "fs/sysfs/cpulist.h"

namespace capsule::sysfs {

void format_cpu_list(Sink& out, const bool* set, size_t n) {
  bool first = true;
  for (size_t i = 0; i < n;) {
    if (!set[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j + 1 < n && set[j + 1]) ++j;
    if (!first) out.put(',');
    first = false;
    if (j == i) format(out, "{}", i);
    else format(out, "{}-{}", i, j);
    i = j + 1;
  }
}

}  // namespace capsule::sysfs
