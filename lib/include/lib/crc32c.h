#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as ext4's
// metadata_csum uses it: the running value is passed in and returned with
// no final inversion (ext4 seeds with ~0 and stores the raw result).
#include <cstddef>
#include <cstdint>

namespace capsule {

uint32_t crc32c(uint32_t crc, const void* data, size_t len);

}  // namespace capsule
