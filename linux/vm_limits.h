#pragma once
// RLIMIT_AS / RLIMIT_DATA checks for the memory calls (linux/vm_limits.cc).
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule {
class AddressSpace;
}

namespace capsule::linux_abi {

// May len more bytes with VM prot/flags be mapped (at addr, replacing
// what is there when `replaces`: MAP_FIXED)? NoMemory past RLIMIT_AS, or
// past RLIMIT_DATA for a private writable non-stack mapping. Free when
// both limits are infinite (the default).
Result<void> vm_may_expand(AddressSpace& as, uintptr_t addr, size_t len, uint32_t prot, uint32_t flags,
                           bool replaces);
// mremap growing the mapping at addr from old_len to new_len.
Result<void> vm_may_resize(AddressSpace& as, uintptr_t addr, size_t old_len, size_t new_len);

}  // namespace capsule::linux_abi
