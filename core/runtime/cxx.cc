// The pieces of the C++ runtime a freestanding kernel must provide itself.
#include <cstddef>
#include <cstdint>
#include <new>

#include "core/mm.h"
#include "lib/panic.h"

extern "C" {

// -mstack-protector-guard=global: one canary for the kernel, randomized at
// boot from RDRAND/TSC (kernel/main.cc).
uintptr_t __stack_chk_guard = 0x595e9fbd94fda766ull;

[[noreturn]] void __stack_chk_fail() { capsule::panic("stack protector: stack smashing detected"); }

void __cxa_pure_virtual() { capsule::panic("pure virtual function called"); }

// -fno-use-cxa-atexit: static destructors register through atexit. The
// kernel never exits, so there is nothing to run them for.
int atexit(void (*)()) { return 0; }

void* __dso_handle = nullptr;
}

// The tag object itself lives in libstdc++, which the kernel does not link.
namespace std {
const nothrow_t nothrow{};
}

// Kernel code has no exceptions: a plain `new` that fails returns nullptr,
// and every call site is expected to use `new (std::nothrow)` and check.
void* operator new(size_t n) { return capsule::kmalloc(n); }
void* operator new[](size_t n) { return capsule::kmalloc(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return capsule::kmalloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return capsule::kmalloc(n); }
void operator delete(void* p) noexcept { capsule::kfree(p); }
void operator delete[](void* p) noexcept { capsule::kfree(p); }
void operator delete(void* p, size_t) noexcept { capsule::kfree(p); }
void operator delete[](void* p, size_t) noexcept { capsule::kfree(p); }

// Over-aligned objects (alignas > 16, e.g. cache-line aligned queues): the
// heap's power-of-two size classes are naturally aligned inside page-aligned
// slabs, and large blocks are page-aligned, so rounding the size up to a
// power of two at least as large as the alignment is enough (up to 4 KiB).
static void* aligned_alloc_kernel(size_t n, std::align_val_t al) {
  size_t a = static_cast<size_t>(al);
  if (a > 4096) return nullptr;
#ifdef CAPSULE_DEBUG_KERNEL
  // The debug heap's payloads are only 16-byte aligned (a header and a red
  // zone come first): over-allocate, align up, and keep the heap's pointer
  // in the word below the object for aligned_free.
  auto* raw = static_cast<char*>(capsule::kmalloc(n + a));
  if (!raw) return nullptr;
  uintptr_t obj = (reinterpret_cast<uintptr_t>(raw) + a) & ~(uintptr_t(a) - 1);
  reinterpret_cast<void**>(obj)[-1] = raw;
  return reinterpret_cast<void*>(obj);
#else
  size_t size = n < a ? a : n;
  if (size <= 2048) {
    size_t p = 16;
    while (p < size) p <<= 1;
    size = p;
  }
  return capsule::kmalloc(size);
#endif
}
static void aligned_free(void* p) {
#ifdef CAPSULE_DEBUG_KERNEL
  if (p) capsule::kfree(static_cast<void**>(p)[-1]);
#else
  capsule::kfree(p);
#endif
}
void* operator new(size_t n, std::align_val_t a) { return aligned_alloc_kernel(n, a); }
void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return aligned_alloc_kernel(n, a); }
void* operator new[](size_t n, std::align_val_t a) { return aligned_alloc_kernel(n, a); }
void operator delete(void* p, std::align_val_t) noexcept { aligned_free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { aligned_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { aligned_free(p); }
