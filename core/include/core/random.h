#pragma once
// Kernel CSPRNG (getrandom, AT_RANDOM): ChaCha20 (RFC 8439) keyed from
// RDSEED/RDRAND and the TSC, re-keyed from its own output after every
// request (fast key erasure) so earlier outputs cannot be recovered.
#include <cstddef>
#include <cstdint>

namespace capsule {

void random_bytes(void* out, size_t n);
uint64_t x64_hwcap();  // AT_HWCAP: CPUID.1:EDX, as Linux reports on x86-64

}  // namespace capsule
