// RLIMIT_AS and RLIMIT_DATA on the address space (setrlimit(2); Linux's
// may_expand_vm): mmap, mremap and brk that would take the process's
// mappings past RLIMIT_AS, or its private writable mappings past
// RLIMIT_DATA, are ENOMEM (brk: refused). docs/syscalls.md.
#include "linux/vm_limits.h"

#include "core/address_space.h"
#include "core/mm/vma.h"
#include "linux/identity.h"

namespace capsule::linux_abi {
namespace {

// Linux's is_data_mapping: writable, private, not a stack.
bool is_data(uint32_t prot, uint32_t flags) {
  return (prot & mm::VM_WRITE) && !(flags & (mm::VM_SHARED | mm::VM_GROWSDOWN));
}

uint64_t overlap(uintptr_t a0, uintptr_t a1, uintptr_t b0, uintptr_t b1) {
  uintptr_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
  return hi > lo ? hi - lo : 0;
}

}  // namespace

Result<void> vm_may_expand(AddressSpace& as, uintptr_t addr, size_t len, uint32_t prot, uint32_t flags,
                           bool replaces) {
  const uint64_t as_limit = rlimit_cur(L_RLIMIT_AS), data_limit = rlimit_cur(L_RLIMIT_DATA);
  const bool data = is_data(prot, flags);
  if (as_limit == L_RLIM_INFINITY && (data_limit == L_RLIM_INFINITY || !data)) return {};
  uint64_t total = 0, data_total = 0;
  const uintptr_t end = addr + len;
  as.for_each_vma([&](const mm::Vma& v) {
    uint64_t size = v.size();
    if (replaces) size -= overlap(v.start, v.end, addr, end);  // MAP_FIXED takes their place
    total += size;
    if (is_data(v.prot, v.flags)) data_total += size;
  });
  if (as_limit != L_RLIM_INFINITY && (len > as_limit || total > as_limit - len)) return Error::NoMemory;
  if (data && data_limit != L_RLIM_INFINITY && (len > data_limit || data_total > data_limit - len))
    return Error::NoMemory;
  return {};
}

Result<void> vm_may_resize(AddressSpace& as, uintptr_t addr, size_t old_len, size_t new_len) {
  if (new_len <= old_len) return {};
  uint32_t prot = 0, flags = 0;
  bool found = false;
  as.for_each_vma([&](const mm::Vma& v) {
    if (!found && v.contains(addr)) prot = v.prot, flags = v.flags, found = true;
  });
  if (!found) return {};  // mremap reports the bad address
  return vm_may_expand(as, 0, new_len - old_len, prot, flags, false);
}

}  // namespace capsule::linux_abi
