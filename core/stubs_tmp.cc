#include "capsule/arch.h"
#include "capsule/mm.h"
namespace capsule {
void arch_init_boot_cpu() {}
void mm_init(const HvmStartInfo*) {}
MemoryStats memory_stats() { return {}; }
void* kmalloc(size_t) { return nullptr; }
void kfree(void*) {}
}
