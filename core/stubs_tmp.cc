#include "capsule/arch.h"
#include "capsule/mm.h"
namespace capsule {
void arch_init_boot_cpu() {}
void mm_init(const HvmStartInfo*) {}
MemoryStats memory_stats() { return {}; }
void* kmalloc(size_t) { return nullptr; }
void kfree(void*) {}
}
namespace capsule {
Result<volatile void*> mmio_map(uint64_t phys, size_t) {
  if (phys >= (1ull << 30)) return Error::NotSupported;
  return static_cast<volatile void*>(phys_to_virt(phys));
}
}
