#pragma once
// Values written to procfs files (sysctls, /proc/<pid>/ files): the
// parsing, apart from the stores that keep them (linux/procfs_*.cc,
// linux/sys_inotify.cc), so the host tests and the fuzz target
// (tests/fuzz/procfs_write_fuzz.cc) run it. Each follows the Linux helper
// the same file uses there; the errors are the ones Linux gives.
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::procfs {

// As Linux's kstrtoull(s, 10) (/proc/<pid>/timerslack_ns): an optional
// "+", decimal digits, at most one "\n" after them. Invalid (EINVAL) for
// anything else, Range (ERANGE) past 2^64 - 1.
Result<uint64_t> parse_write_u64(StringView s);

// As Linux's kstrtoint(strstrip(s), 0) (/proc/<pid>/oom_score_adj):
// white space around is ignored; a sign, then decimal, 0x-hexadecimal or
// 0-octal digits. Invalid for anything else, Range outside int.
Result<int32_t> parse_write_int(StringView s);

// A sysctl's unsigned integer (vm.overcommit_memory, fs.inotify.*): decimal
// digits, then only "\n" and " "; Invalid when empty, not a number, or above
// `max` (proc_dointvec_minmax's EINVAL for a value outside its bounds).
Result<uint32_t> parse_write_sysctl_uint(StringView s, uint32_t max);

}  // namespace capsule::procfs
