#pragma once
// File descriptors for this stage of the Linux ABI: the console (0-2) and
// read-only files and directories of the initrd. The VFS issue replaces
// this with open file descriptions over vnodes; the syscall surface stays.
#include <cstddef>
#include <cstdint>

#include "fs/initrd/initrd.h"

namespace capsule::linux_abi {

enum class FdKind : uint8_t { Free, Console, File, Directory };

struct FileDesc {
  FdKind kind = FdKind::Free;
  const initrd::File* file = nullptr;  // File and Directory
  uint64_t offset = 0;                 // bytes (File) or entry index (Directory)
  bool cloexec = false;
  uint32_t status_flags = 0;           // O_* status bits (fcntl F_GETFL)
  char dir_path[256] = {};             // Directory: its path without '/' ("" = root)
};

constexpr int MAX_FDS = 1024;

FileDesc* fd_get(int64_t fd);          // nullptr: EBADF
int fd_install(const FileDesc& d, int min_fd = 0);  // lowest free >= min_fd, or -EMFILE
void fd_close(int fd);

}  // namespace capsule::linux_abi
