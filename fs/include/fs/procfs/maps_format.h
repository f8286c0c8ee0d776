#pragma once
// One line of /proc/<pid>/maps in Linux's format (fs/proc/task_mmu.c's
// layout, which parsers rely on):
//   "start-end perms offset major:minor inode" + a space, then, if the
//   mapping has a name, spaces up to column 73 and the name; then '\n'.
// Addresses at least 8 hex digits, offset 8, device 2+2, all lower case.
#include <cstdint>

#include "lib/format.h"

namespace capsule::procfs {

struct MapsLine {
  uint64_t start = 0, end = 0;
  bool read = false, write = false, exec = false, shared = false;
  uint64_t offset = 0;
  uint32_t major = 0, minor = 0;
  uint64_t ino = 0;
  StringView name;  // a path, "[heap]", "[stack]", "[vdso]", "[vvar]", or empty
};

void format_maps_line(Sink& out, const MapsLine& l);

}  // namespace capsule::procfs
