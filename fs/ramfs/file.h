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
  Result<uint64_t> page_for_read(uint64_t offset, bool zero_ok, uint64_t* next) override;
  Result<uint64_t> seek_data(uint64_t offset, bool hole) override;
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
  // bytes) if absent; a whole, page-aligned page of the archive becomes the
  // file's page where it lies (no copy, nothing allocated). NoSpace when
  // the file system is full.
  Result<uint8_t*> materialize_locked(uint64_t index) REQUIRES(lock_);
  // Gives a page of pages_ back: to the file system, unless it is one of
  // the archive's (those stay where the initrd is, unused).
  void drop_page(uint8_t* p);
  Result<uint64_t> page_locked(uint64_t offset) REQUIRES(lock_);
  Result<uint64_t> page_for_read_locked(uint64_t offset, bool zero_ok, uint64_t* next) REQUIRES(lock_);
  // Mappings that show the zero page where materialize_locked just put a
  // page drop it (mm::backing_filled); resets the range.
  void filled_locked() REQUIRES(lock_);
  // Whether the file holds data at page `index` (its own page or the
  // archive's bytes).
  bool has_page_locked(uint64_t index) REQUIRES(lock_);

  PageTree pages_ GUARDED_BY(lock_);
  uint64_t size_ GUARDED_BY(lock_) = 0;
  const uint8_t* backing_ GUARDED_BY(lock_) = nullptr;  // the archive's bytes, until shadowed
  uint64_t backing_size_ GUARDED_BY(lock_) = 0;         // <= size_
  uint64_t shadowed_ GUARDED_BY(lock_) = 0;             // pages_ entries below backing_size_
  // The archive's bytes as set_backing gave them (truncation does not
  // shrink this): pages_ entries inside are the archive's own pages. Set
  // once by the populator before the file is shared, read-only after.
  const uint8_t* archive_ = nullptr;
  uint64_t archive_size_ = 0;
  uint32_t seals_ GUARDED_BY(lock_) = vfs::SEAL_SEAL;   // memfd seals (vfs::SEAL_*)
  // Pages [fresh_lo_, fresh_hi_) include every hole materialize_locked
  // filled since the last filled_locked (empty when lo >= hi).
  uint64_t fresh_lo_ GUARDED_BY(lock_) = ~uint64_t(0);
  uint64_t fresh_hi_ GUARDED_BY(lock_) = 0;
  char* tag_ = nullptr;                                 // set_tag's copy (immutable once set)
  size_t tag_len_ = 0;
};

}  // namespace capsule::ramfs
