// The pieces of the C++ runtime a freestanding kernel must provide itself.
#include <cstddef>
#include <cstdint>
#include <new>

#include "capsule/mm.h"
#include "capsule/panic.h"

extern "C" {

// -mstack-protector-guard=global: one canary for the kernel, randomized at
// boot from RDRAND/TSC (core/boot/main.cc).
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
