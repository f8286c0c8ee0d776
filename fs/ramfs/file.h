#pragma once
// ramfs regular files (private to fs/ramfs): data in whole pages in a
// sparse radix tree (page_tree.h), or the initrd archive's bytes served in
// place until a page is first written or mapped (docs/vfs.md).
#include <cstddef>
#include <cstdint>

#include "fs/ramfs/node.h"
#include "fs/ramfs/page_tree.h"

namespace capsule::ramfs {

class File final : public Node {
 public:
  using Node::Node;
  ~File() override;

  Result<size_t> read(uint64_t offset, vfs::IoBuffer& buf) override;
  Result<size_t> write(uint64_t* offset, vfs::IoBuffer& buf, bool append) override;
  Result<uint64_t> page(uint64_t offset) override;
  Result<void> allocate(uint64_t offset, uint64_t len, bool keep_size) override;
  Result<void> punch_hole(uint64_t offset, uint64_t len) override;
  Result<uint32_t> seals() override;
  Result<void> add_seals(uint32_t s) override;

  // memfd_create(MFD_ALLOW_SEALING): a file that takes seals. Every other
  // ramfs file starts with SEAL_SEAL, as tmpfs files do.
  void allow_sealing();
  // Ramfs::set_name_tag / name_tag: set once before the file is shared,
  // then read without the lock.
  Result<void> set_tag(StringView tag);
  StringView tag() const { return tag_ ? StringView(tag_, tag_len_) : StringView(); }
  // For the initrd populator (Ramfs::set_backing).
  Result<void> set_backing(const uint8_t* data, size_t size);

 protected:
  void fill_size_locked(vfs::Attr& a) override REQUIRES(lock_);
  Result<void> truncate_locked(uint64_t size) override REQUIRES(lock_);

 private:
  // The page at `index`, allocated (zeros, or a copy of the archive's
  // bytes) if absent. NoSpace when the file system is full.
  Result<uint8_t*> materialize_locked(uint64_t index) REQUIRES(lock_);

  PageTree pages_ GUARDED_BY(lock_);
  uint64_t size_ GUARDED_BY(lock_) = 0;
  const uint8_t* backing_ GUARDED_BY(lock_) = nullptr;  // the archive's bytes, until shadowed
  uint64_t backing_size_ GUARDED_BY(lock_) = 0;         // <= size_
  uint64_t shadowed_ GUARDED_BY(lock_) = 0;             // pages_ entries below backing_size_
  uint32_t seals_ GUARDED_BY(lock_) = vfs::SEAL_SEAL;   // memfd seals (vfs::SEAL_*)
  char* tag_ = nullptr;                                 // set_tag's copy (immutable once set)
  size_t tag_len_ = 0;
};

}  // namespace capsule::ramfs
