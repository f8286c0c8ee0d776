#pragma once
// ramfs: a read-write file system in memory with tmpfs's semantics
// (docs/vfs.md). Regular files keep their data in whole pages from the page
// allocator, in a sparse radix tree (fs/ramfs/page_tree.h): holes read as
// zeros and cost nothing. Files populated from the initrd serve the
// archive's bytes in place and copy a page only when it is first written
// (or mapped), so a 100 MB image costs no copy at boot.
//
// Locking: each node has a mutex over its attributes and contents.
// Operations that lock two directories (rename, rmdir) first take the file
// system's rename lock, so no two threads ever hold two directory locks
// in different orders; everything else locks one directory and then, at
// most, one non-directory child.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "fs/vfs.h"
#include "fs/cpio/newc.h"
#include "lib/format.h"

namespace capsule::ramfs {

struct Options {
  // Data pages allowed (NoSpace beyond); 0: no limit but memory. Either
  // way the kernel's reserve (kernel_reserve_pages) is never taken.
  uint64_t max_pages = 0;
  uint32_t root_mode = 0755;
  uint32_t uid = 0, gid = 0;
};

class Ramfs final : public vfs::FileSystem {
 public:
  static Result<RefPtr<Ramfs>> create(const Options& options = {});

  const char* name() const override { return "ramfs"; }
  vfs::VnodeRef root() override;
  // Unlinks the whole tree; open files keep what they hold.
  void shutdown() override;

  vfs::FsStat statfs() override;

  // A regular file with no name (memfd_create(2), O_TMPFILE): nlink 0,
  // lives while referenced. `sealable`: it takes memfd seals.
  Result<vfs::VnodeRef> create_unlinked(const vfs::CreateArgs& args, bool sealable);
  // The name an unlinked file is shown by (memfd_create's "memfd:NAME",
  // shared anonymous memory's "dev/zero"): set once, before the file is
  // shared (NoMemory); empty if none was set or `file` is not a regular
  // file of this instance. Lives as long as the file.
  Result<void> set_name_tag(vfs::Vnode& file, StringView tag);
  StringView name_tag(vfs::Vnode& file);

  // Data pages held by files (not counting archive bytes served in place).
  uint64_t pages_used() const { return pages_used_.load(std::memory_order_relaxed); }
  // Pages a write could still get: the size limit left, and what the page
  // allocator has above the kernel's reserve, whichever is smaller.
  uint64_t pages_available() const;
  // Nodes alive (statfs's f_files - f_ffree).
  uint64_t inodes_used() const { return inodes_.load(std::memory_order_relaxed); }
  // tmpfs's default size: half of the guest's RAM (mount(2) without size=).
  static uint64_t default_max_pages();
  // What file data may never take from the page allocator, so that the
  // kernel (page tables, stacks, buffers) still finds memory when files
  // have filled the rest: 1/32 of RAM plus 4 MiB.
  static uint64_t kernel_reserve_pages();

  // For the initrd populator: a regular file that is still empty serves
  // [data, data + size) (which must outlive it) until written.
  Result<void> set_backing(vfs::Vnode& file, const uint8_t* data, size_t size);

  // Internal to fs/ramfs (its nodes).
  // archive_copy: a copy of an initrd file's bytes (its last, partial
  // page): the file's existing contents, not new data, so the kernel's
  // reserve does not apply (the size limit does).
  Result<uint8_t*> alloc_page(bool archive_copy = false);
  void free_page(uint8_t* p);
  uint64_t next_ino() {
    inodes_.fetch_add(1, std::memory_order_relaxed);
    return next_ino_.fetch_add(1, std::memory_order_relaxed);
  }
  void inode_gone() { inodes_.fetch_sub(1, std::memory_order_relaxed); }
  vfs::FsMutex& rename_lock() { return rename_lock_; }

 private:
  explicit Ramfs(const Options& o) : options_(o) {}
  ~Ramfs() override = default;

  Options options_;
  vfs::VnodeRef root_;
  std::atomic<uint64_t> pages_used_{0};
  std::atomic<uint64_t> next_ino_{1};
  std::atomic<uint64_t> inodes_{0};
  vfs::FsMutex rename_lock_;
};

// --- population from a cpio "newc" archive (docs/initrd.md) ----------------

struct PopulateError {
  const char* reason = nullptr;
  Error error = Error::None;
  size_t offset = 0;  // of the entry's header, or where the archive went wrong
  StringView entry;
};
// "initrd: <reason> at offset 0x... (entry '<name>')".
void format_value(Sink& sink, const FormatSpec& spec, const PopulateError& e);

struct PopulateStats {
  size_t entries = 0, files = 0, dirs = 0, symlinks = 0, hard_links = 0, nodes = 0;
  uint64_t bytes = 0;  // file data served from the archive
};

// Creates the archive's tree under fs's root. Zero-copy: files refer to the
// archive, which must outlive them (the initrd's pages are never freed).
// BadFormat with *err filled on a malformed archive or an entry that cannot
// be placed (a ".." leaving the root, a file where a directory must be);
// other errors (NoMemory) also fill *err.
Result<void> populate(Ramfs& fs, const uint8_t* data, size_t size, PopulateError* err,
                      PopulateStats* stats = nullptr);

// Boot: a ramfs filled from the initrd (data may be null), mounted as the
// root of a new kernel Vfs (vfs::kernel_vfs()). On a bad archive prints
// the message and returns the error: the caller stops the boot.
// `wrap`, if given, makes the root file system from the ramfs (a union
// over it: docs/overlay.md "A disk root").
using RootWrap = Result<vfs::FsRef> (*)(RefPtr<Ramfs> ramfs);
Result<void> mount_boot_root(const uint8_t* data, size_t size, RootWrap wrap = nullptr);

}  // namespace capsule::ramfs
