#pragma once
// Extent tree nodes as bytes (the kernel.org ext4 layout, "Extent Tree"):
// a 12-byte header {magic, entries, max, depth, generation}, then 12-byte
// entries: leaves {first block, length (past 32768: unwritten), start
// hi16, start lo32}, indexes {first block, child lo32, child hi16}. Shared
// by the tree's writers (extent_write.cc, extent_range.cc).
#include <cstddef>
#include <cstdint>

#include "fs/ext4/layout.h"

namespace capsule::ext4::extent {

constexpr uint16_t EXTENT_MAGIC = 0xF30A;
constexpr uint32_t MAX_LEN = 32768;         // an initialized extent's longest run
constexpr uint32_t MAX_UNINIT_LEN = 32767;  // an unwritten one's
constexpr uint32_t MAX_DEPTH = 5;    // as the reader accepts (fs.cc)

struct Header {
  uint8_t* p;
  uint16_t entries() const { return le16(p + 2); }
  uint16_t max() const { return le16(p + 4); }
  uint16_t depth() const { return le16(p + 6); }
  void set_entries(uint32_t n) { put16(p + 2, n); }
  uint8_t* entry(size_t i) const { return p + 12 + 12 * i; }
};

inline void put_leaf(uint8_t* e, uint32_t first, uint32_t len, bool uninit, uint64_t start) {
  put32(e, first);
  put16(e + 4, uninit ? len + MAX_LEN : len);
  put16(e + 6, uint32_t(start >> 32));
  put32(e + 8, uint32_t(start));
}

inline void put_index(uint8_t* e, uint32_t first, uint64_t child) {
  put32(e, first);
  put32(e + 4, uint32_t(child));
  put16(e + 8, uint32_t(child >> 32));
  put16(e + 10, 0);
}

inline void init_node(uint8_t* p, uint16_t max, uint16_t depth) {
  put16(p, EXTENT_MAGIC);
  put16(p + 2, 0);
  put16(p + 4, max);
  put16(p + 6, depth);
  put32(p + 8, 0);
}

inline void insert_at(Header h, size_t i) {
  __builtin_memmove(h.entry(i + 1), h.entry(i), 12 * (h.entries() - i));
  h.set_entries(h.entries() + 1u);
}

inline void remove_at(Header h, size_t i) {
  __builtin_memmove(h.entry(i), h.entry(i + 1), 12 * (h.entries() - i - 1));
  h.set_entries(h.entries() - 1u);
}

}  // namespace capsule::ext4::extent
