#pragma once
// memfd_create(2)'s seals at the descriptor boundary (linux/sys_memfd.cc).
#include "fs/file.h"

namespace capsule::linux_abi {

// fcntl(2) F_ADD_SEALS / F_GET_SEALS. EINVAL for files that are not
// memfds (Linux: files of file systems without seals).
Result<int> fcntl_file_seals(vfs::OpenFile& f, int cmd, uint64_t arg);

// The object behind shared anonymous memory (mmap MAP_SHARED|MAP_ANONYMOUS,
// MAP_SHARED of /dev/zero): an unlinked file of `size` bytes in memfd's
// ramfs instance, shown as "/dev/zero (deleted)" as Linux shows it. Each
// mapping holds it; mremap, MADV_DONTNEED and fork keep its data.
Result<vfs::VnodeRef> shared_anon_object(uint64_t size);

// "memfd:NAME" or "dev/zero" for the files above (procfs shows
// "/<tag> (deleted)"); empty for any other vnode.
StringView anon_file_tag(vfs::Vnode& v);

}  // namespace capsule::linux_abi
