#pragma once
// devpts (fs/devpts/devpts.cc, docs/pty.md): /dev/pts as Linux presents
// it, one instance for the machine. Its root lists `ptmx` (c 5:2, mode
// 0000, opening it is opening /dev/ptmx) and one node per pseudo-terminal
// slave, named by its number. The nodes are linux/'s (linux/pty_file.cc):
// it creates them on this file system (fs()), publishes each when its
// master is opened and withdraws it when the pair goes away, so a lookup
// of a number nobody holds is NotFound.
#include "fs/vfs.h"

namespace capsule::devpts {

inline constexpr uint32_t MAX_PTYS = 1024;  // slave numbers 0 .. MAX_PTYS-1
inline constexpr uint64_t PTMX_RDEV = (5ull << 32) | 2;
// A slave's device number: majors 136-143 (UNIX98_PTY_SLAVE_MAJOR), 256
// minors each.
constexpr uint64_t slave_rdev(uint32_t index) { return (uint64_t(136 + index / 256) << 32) | (index % 256); }
// A slave node's inode number (the root is 1, ptmx 2).
constexpr uint64_t slave_ino(uint32_t index) { return uint64_t(index) + 3; }

// The instance (created on first use; NoMemory if it cannot be).
Result<vfs::FsRef> instance();
// The lowest free number, reserved until remove(); NoSpace when none is left.
Result<uint32_t> reserve();
// Makes /dev/pts/<index> name `node` (a vnode of this file system).
void publish(uint32_t index, vfs::VnodeRef node);
// The name disappears and the number is free again.
void remove(uint32_t index);

}  // namespace capsule::devpts
