#include "capsule/arch.h"
#include "capsule/mm.h"
namespace capsule {
void mm_init(const HvmStartInfo*) {}
MemoryStats memory_stats() { return {}; }
void* kmalloc(size_t) { return nullptr; }
void kfree(void*) {}
// Until the mm branch lands (it knows where the guard pages are).
bool is_stack_guard(uintptr_t) { return false; }
}
