#pragma once
// The hash of a name in an htree directory (docs/ext4.md "Directories"):
// the three functions ext3/ext4 define (the kernel.org "ext4 Data
// Structures and Algorithms", "Hash Tree Directories"), each over names
// read as signed or unsigned chars. Pure: the host tests check it against
// e2fsprogs' `debugfs -R "dx_hash -h N -s SEED name"`.
#include <cstddef>
#include <cstdint>

namespace capsule::ext4 {

// dx_root_info.hash_version; the unsigned variants are these plus 3 (the
// superblock's s_flags says which a volume uses).
enum class DxHash : uint8_t { Legacy = 0, HalfMd4 = 1, Tea = 2, LegacyUnsigned = 3, HalfMd4Unsigned = 4, TeaUnsigned = 5 };

// The 32-bit hash of `name` with its low bit clear (the index keeps that
// bit for "continued from the previous block"), 0xFFFFFFFE never (that
// is the end-of-directory cookie: it becomes 0xFFFFFFFC). `seed`: the
// superblock's s_hash_seed (all zeros: the default). An unknown version
// hashes as Legacy.
uint32_t dx_hash(DxHash version, const uint32_t seed[4], const char* name, size_t len);

}  // namespace capsule::ext4
