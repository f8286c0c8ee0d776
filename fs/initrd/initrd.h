#pragma once
// The initrd (QEMU's -initrd, a cpio "newc" archive that arrives as PVH
// module 0) as a read-only file index. Zero-copy: entries point into the
// archive's pages, which mm keeps reserved. The VFS issue replaces this with
// a ramfs populated from the same archive.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::initrd {

struct File {
  StringView path;        // without the leading '/', e.g. "bin/busybox"
  uint32_t mode = 0;      // type and permission bits (S_IF*)
  const uint8_t* data = nullptr;
  size_t size = 0;
  uint32_t mtime = 0;
};

// Indexes the archive. A malformed archive is an error whose message (with
// the entry name and byte offset) has been printed.
Result<void> load(const uint8_t* data, size_t size);
// Looks up an absolute or root-relative path, following symlinks (at most
// 16). nullptr if absent.
const File* lookup(StringView path);
size_t file_count();
const File* file_at(size_t index);  // in archive order

}  // namespace capsule::initrd
