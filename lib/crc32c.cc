// CRC-32C, one table lookup per byte (lib/include/lib/crc32c.h).
#include "lib/crc32c.h"

namespace capsule {
namespace {

struct Table {
  uint32_t v[256];
  constexpr Table() : v() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      v[i] = c;
    }
  }
};
constexpr Table TABLE;

}  // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t len) {
  auto* p = static_cast<const uint8_t*>(data);
  while (len--) crc = TABLE.v[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

}  // namespace capsule
