#pragma once
// The out-of-memory killer (linux/oom.cc, docs/process.md "Out of
// memory"): what happens when a page fault finds no free page.
#include <cstdint>

namespace capsule::linux_abi {

// The calling process could not get a page for a fault at `addr`: the
// process holding the most memory (resident pages, shifted by
// oom_score_adj as Linux's badness; -1000 never; pid 1 only if nothing
// else is left) is sent SIGKILL, with one "capsule: out of memory ..."
// line naming it. Returns true once another process was chosen and has
// ended (its memory is back: the fault may be retried), false when the
// victim is the caller (or the victim did not end in time): the caller
// then ends by SIGKILL itself.
bool oom_kill_largest(uintptr_t addr);

}  // namespace capsule::linux_abi
