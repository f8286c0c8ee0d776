#pragma once
// memfd_create(2)'s seals at the descriptor boundary (linux/sys_memfd.cc).
#include "fs/file.h"

namespace capsule::linux_abi {

// fcntl(2) F_ADD_SEALS / F_GET_SEALS. EINVAL for files that are not
// memfds (Linux: files of file systems without seals).
Result<int> fcntl_file_seals(vfs::OpenFile& f, int cmd, uint64_t arg);

}  // namespace capsule::linux_abi
