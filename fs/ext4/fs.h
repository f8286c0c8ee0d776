#pragma once
// The ext4 volume (fs/include/fs/ext4.h): superblock, group descriptors,
// inodes read through the block cache, and the map from a file's logical
// blocks to the disk's (extents or ext2's block map). docs/ext4.md.
#include <atomic>

#include "fs/block_cache.h"
#include "fs/ext4.h"
#include "fs/ext4/journal.h"
#include "fs/ext4/layout.h"
#include "fs/vfs.h"

namespace capsule::ext4 {

class Node;

class Ext4Fs final : public vfs::FileSystem {
 public:
  Ext4Fs(bcache::BlockIo& io, const Super& s, GroupDesc* groups);
  ~Ext4Fs() override;

  const char* name() const override { return "ext4"; }
  vfs::VnodeRef root() override { return root_; }
  vfs::FsStat statfs() override;
  void shutdown() override;

  const Super& super() const { return s_; }
  bcache::BlockCache& cache() { return cache_; }
  uint32_t block_size() const { return s_.block_size; }
  bool writable() const { return writable_; }

  // Guards every piece of metadata a change touches: bitmaps, group
  // descriptors, the superblock, inode table blocks, directory and extent
  // blocks, each Node's inode, and the inode cache. Lock order: a Node's
  // page lock, then this.
  vfs::FsMutex& meta() RETURN_CAPABILITY(meta_) { return meta_; }

  // The vnode for inode `ino`: one per inode while any reference lives
  // (the inode cache). Io for a corrupted inode or a free one.
  Result<vfs::VnodeRef> node(uint32_t ino) EXCLUDES(meta_);
  Result<vfs::VnodeRef> node_locked(uint32_t ino) REQUIRES(meta_);
  // A Node's last reference is going: off the cache (Node::release).
  // Returns true if the caller's reference was the last.
  bool forget_if_last(Node* n) REQUIRES(meta_);
  Result<void> read_inode(uint32_t ino, Inode& in);
  // The disk block holding logical block `lblk` of the file: 0 for a hole
  // (or an unwritten extent: then *unwritten, if given, says so); *run: how
  // many blocks from lblk on map the same way (contiguous on disk, or all
  // hole, or all unwritten). Io for a corrupted map.
  Result<uint64_t> map(const Inode& in, uint64_t lblk, uint64_t* run, bool* unwritten = nullptr);

  Result<void> set_root(uint32_t ino);
  // Reads the group descriptors (mount, and again after a replay). `note`
  // says what failed.
  Result<void> load_groups(char* note, size_t cap);
  // A volume that needs recovery, on a writable disk: its journal replayed
  // (fs/ext4/journal.h), then the superblock and descriptors read again.
  // Returns the transactions replayed; `why` says why not.
  Result<uint32_t> recover(uint64_t device_bytes, Why& why);
  bool recovered() const { return recovered_; }

  // --- writing (docs/ext4.md "Writing"); all REQUIRES(meta_) ---
  // One change: the meta lock held, and when it goes the metadata blocks
  // the change wrote join the running journal transaction, which commits
  // at fsync/sync, every flusher period, when it holds batch_limit()
  // blocks, and at unmount (docs/ext4.md "Journal"); without a journal
  // they were written in place as they came.
  class SCOPED_CAPABILITY Txn {
   public:
    explicit Txn(Ext4Fs& fs) ACQUIRE(fs.meta_) : fs_(fs), g_(fs.meta_) {}
    ~Txn() RELEASE() { (void)fs_.end_change_locked(); }
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;

   private:
    Ext4Fs& fs_;
    vfs::FsGuard g_;
  };
  // A changed metadata block (held): into the open transaction, or to the
  // device now when there is no journal.
  Result<void> write_meta(const bcache::BlockRef& b) REQUIRES(meta_);
  // The running transaction to the journal (its frees applied first), then
  // in place; nothing when it is empty.
  Result<void> commit_locked() REQUIRES(meta_);
  // A change ends (Txn): the running transaction commits if it is full,
  // or always without a journal.
  Result<void> end_change_locked() REQUIRES(meta_);
  // Everything changed so far on stable storage: the running transaction
  // committed (its flushes), or, if `flush`, the device's cache flushed
  // when there is none. fsync, fdatasync, sync; the flusher (no flush).
  Result<void> commit(bool flush = true) EXCLUDES(meta_);
  // Switches the volume to read-write: the superblock says "not clean"
  // (and, with a journal, "needs recovery") until shutdown() or the VM's
  // exit marks it clean again. NotSupported/Busy (why says it) for a
  // journal this writer cannot use.
  Result<void> begin_writing(Why& why);
  // `in` into its inode table slot (fs/ext4/inode_write.cc).
  Result<void> write_inode(const Inode& in) REQUIRES(meta_);
  // A new inode of `mode` (its number from the bitmaps, near `dir`),
  // written with an empty extent tree (regular files, directories, slow
  // symlinks) and returned; links 0 until the caller sets them.
  Result<Inode> new_inode(const Inode& dir, uint32_t mode, uint32_t uid, uint32_t gid) REQUIRES(meta_);
  // A file whose last link and last reference are gone: its blocks and
  // its inode back to the bitmaps (off the orphan list if it was on it).
  Result<void> delete_inode(Inode& in) REQUIRES(meta_);
  // The orphan list (s_last_orphan, chained through i_dtime): a file with
  // no link left that something still holds goes on it in the same
  // transaction as its last unlink, so that after a crash e2fsck (or
  // Linux's mount) frees it; it leaves the list when it is deleted.
  Result<void> orphan_add(Inode& in) REQUIRES(meta_);
  Result<void> orphan_remove(Inode& in) REQUIRES(meta_);

  // Blocks and inode numbers (fs/ext4/alloc.cc). NoSpace when none is free.
  Result<uint64_t> alloc_block(uint64_t goal) REQUIRES(meta_);
  Result<void> free_blocks(uint64_t start, uint64_t count) REQUIRES(meta_);
  Result<uint32_t> alloc_ino(uint32_t near_group, bool dir) REQUIRES(meta_);
  Result<void> free_ino(uint32_t ino, bool dir) REQUIRES(meta_);
  Result<void> write_super() REQUIRES(meta_);

  // A file's extent tree (fs/ext4/extent_write.cc). map_alloc: the disk
  // block of `lblk`, allocated (and the tree grown) if it is a hole;
  // *fresh says it was. drop_blocks: every block from logical block
  // `first` on goes back to the bitmaps.
  Result<uint64_t> map_alloc(Inode& in, uint64_t lblk, bool* fresh) REQUIRES(meta_);
  Result<void> drop_blocks(Inode& in, uint64_t first) REQUIRES(meta_);
  // Unwritten extents (fs/ext4/extent_range.cc; fallocate). prealloc: the
  // holes of [first, end) get blocks in unwritten extents (read as zeros);
  // NoSpace part way keeps what was allocated (in the file, counted).
  // punch_blocks: every block of [first, end) goes back to the bitmaps.
  // map_alloc converts an unwritten block it is asked for (written next).
  Result<void> prealloc(Inode& in, uint64_t first, uint64_t end) REQUIRES(meta_);
  Result<void> punch_blocks(Inode& in, uint64_t first, uint64_t end) REQUIRES(meta_);
  Result<uint64_t> convert_unwritten(Inode& in, uint32_t lblk) REQUIRES(meta_);

  // Linear directories (fs/ext4/dir_write.cc); the directory's inode is
  // written with its new size and times. dir_remove returns the inode the
  // entry named; dir_retarget points an existing entry at another inode.
  Result<uint32_t> dir_find(const Inode& dir, StringView name) REQUIRES(meta_);
  Result<void> dir_add(Inode& dir, StringView name, uint32_t ino, uint32_t mode) REQUIRES(meta_);
  Result<uint32_t> dir_remove(Inode& dir, StringView name) REQUIRES(meta_);
  Result<void> dir_retarget(Inode& dir, StringView name, uint32_t ino, uint32_t mode) REQUIRES(meta_);
  Result<bool> dir_empty(const Inode& dir) REQUIRES(meta_);
  // A name into one directory block if it has room (then the block's
  // checksum and write_meta): false when full.
  Result<bool> dir_block_insert(const Inode& dir, bcache::BlockRef& b, StringView name, uint32_t ino, uint8_t type)
      REQUIRES(meta_);
  // htree directories (fs/ext4/htree_write.cc). dx_indexed: the index is
  // in use (the inode's flag and the volume's dir_index). dx_candidates:
  // the leaves (logical blocks) that may hold `name`, by its hash (Range
  // past `cap`). dx_add: `name` into its leaf, split when full.
  // dx_set_dotdot: ".." in the index root. OpNotSupported for an index
  // this driver does not write (three levels, an unknown hash), Io for a
  // damaged one.
  bool dx_indexed(const Inode& dir) const;
  Result<uint32_t> dx_candidates(const Inode& dir, StringView name, uint32_t* leaves, uint32_t cap) REQUIRES(meta_);
  Result<void> dx_add(Inode& dir, StringView name, uint32_t ino, uint8_t type) REQUIRES(meta_);
  Result<void> dx_set_dotdot(Inode& dir, uint32_t ino) REQUIRES(meta_);
  // A new directory's first block: "." and "..".
  Result<void> dir_init(Inode& dir, uint32_t parent) REQUIRES(meta_);
  // Extended attributes (fs/ext4/xattr.cc): every attribute of `in` into
  // an attribute list (xattr.cc's AttrList), and the list laid out again
  // (the inode's area, then a block; NoSpace when they do not fit). The
  // block's hold released (freed at its last holder): deletion.
  Result<void> xattr_load(const Inode& in, void* list) REQUIRES(meta_);
  Result<void> xattr_store(Inode& in, void* list) REQUIRES(meta_);
  Result<void> xattr_release_block(Inode& in) REQUIRES(meta_);
  // A file being deleted lets go of its attribute block (i_file_acl 0).
  Result<void> xattr_forget(Inode& in) REQUIRES(meta_);
  // The cached Node of inode `ino`, if any (not retained).
  Node* cached_node(uint32_t ino) REQUIRES(meta_);

  // The device's cache to stable storage, with the superblock's free
  // counts written first (sync(2), unmount).
  Result<void> sync();

  // Every read-write volume marked clean at the VM's exit.
  static void shutdown_all();

  // Write-back (node_write.cc, docs/ext4.md "Write-back"). `n`, whose page
  // lock the caller holds and which has dirty pages, on the dirty list with
  // a reference (once).
  void dirty_add(Node& n);
  // Every file on the dirty list written back (no lock held); the first
  // error (the files that failed keep their dirty pages).
  Result<void> writeback_all();
  // Pages waiting to be written back, every volume together; a write()
  // that would take them past dirty_limit() writes through.
  static inline std::atomic<uint64_t> dirty_pages{0};
  static uint64_t dirty_limit();

 private:
  Result<uint64_t> map_extents(const Inode& in, uint64_t lblk, uint64_t* run, bool* unwritten);
  Result<uint64_t> map_blockmap(const Inode& in, uint64_t lblk, uint64_t* run);
  // A group descriptor's figures back into its table block; the bitmaps'
  // checksums from the blocks given (nullptr: unchanged).
  Result<void> write_group(uint32_t g, const uint8_t* block_bitmap, const uint8_t* inode_bitmap) REQUIRES(meta_);
  Result<void> mark_clean();
  // Every cached file's dirty times written (Node::times_dirty_).
  Result<void> write_times_all() REQUIRES(meta_);
  bool build_block_bitmap(uint32_t g, uint8_t* map) REQUIRES(meta_);
  // Extent tree helpers (extent_write.cc).
  Result<void> insert_extent(Inode& in, uint32_t lblk, uint64_t pblk, bool uninit) REQUIRES(meta_);
  Result<void> grow_tree(Inode& in) REQUIRES(meta_);
  struct ExtentPath {
    struct Level {
      bcache::BlockRef b;  // none for the root (the inode's i_block)
      uint8_t* p;
      size_t pick;         // the index entry followed
    } level[6];
  };
  Result<uint32_t> extent_path(Inode& in, uint32_t lblk, ExtentPath& path) REQUIRES(meta_);
  Result<void> split_node(Inode& in, ExtentPath& path, uint32_t l, uint32_t lblk) REQUIRES(meta_);
  // Room for an entry more in the leaf of `path` (a split or a deeper
  // tree; the path is stale after it), and a changed leaf written with
  // the index entries above it that start past `lblk` lowered.
  Result<void> make_room(Inode& in, ExtentPath& path, uint32_t depth, uint32_t lblk) REQUIRES(meta_);
  Result<void> finish_leaf(Inode& in, ExtentPath& path, uint32_t depth, uint32_t lblk) REQUIRES(meta_);
  template <typename FreeFn>
  Result<uint64_t> drop_index(Inode& in, uint8_t* node, uint64_t first, FreeFn&& free_run) REQUIRES(meta_);
  struct DxPath;
  Result<void> dx_probe(const Inode& dir, StringView name, DxPath& p) REQUIRES(meta_);
  Result<void> dx_check_node(const Inode& dir, const uint8_t* b, uint32_t off);
  Result<void> dx_insert(Inode& dir, DxPath& p, uint32_t hash, uint32_t lblk) REQUIRES(meta_);
  uint8_t dirent_type(uint32_t mode) const;
  uint32_t dir_limit(const uint8_t* block) const;
  // Calls fn(block, entry, offset, previous offset or UINT32_MAX) for each
  // entry of each block until it returns true (then: true).
  // With `name` in an htree directory, only the leaves its hash leads to.
  template <typename F>
  Result<bool> dir_scan(const Inode& dir, F&& fn, const StringView* name = nullptr) REQUIRES(meta_);

  bcache::BlockIo& io_;
  Super s_;
  GroupDesc* groups_;  // s_.groups entries, owned
  bcache::BlockCache cache_;
  vfs::VnodeRef root_;
  vfs::FsMutex meta_;
  bool writable_ = false;
  bool recovered_ = false;  // the journal was replayed at this mount
  struct Freed {
    uint64_t start, count;
  };
  // The journal (nullptr: none, changes go in place as they come) and the
  // running transaction's blocks, held until its commit.
  Journal* journal_ = nullptr;
  bcache::BlockRef* txn_ GUARDED_BY(meta_) = nullptr;
  size_t txn_n_ GUARDED_BY(meta_) = 0, txn_cap_ GUARDED_BY(meta_) = 0;
  bool counts_changed_ GUARDED_BY(meta_) = false;  // the superblock's free totals
  bool warned_big_ = false;
  // Blocks a change of the running transaction freed: the bitmaps take
  // them back at its commit (in that transaction), so until then no
  // allocation hands them out and data written in place never lands on a
  // block the last committed tree still points at. free_blocks() notes
  // them; apply_frees_locked() clears their bits (the commit, or an
  // allocation that found no free block otherwise).
  Freed* pending_ GUARDED_BY(meta_) = nullptr;
  size_t pending_n_ GUARDED_BY(meta_) = 0, pending_cap_ GUARDED_BY(meta_) = 0;
  uint64_t pending_blocks_ GUARDED_BY(meta_) = 0;
  bool freed_in_txn_ GUARDED_BY(meta_) = false;  // bits cleared since the last commit
  Result<void> free_now(uint64_t start, uint64_t count) REQUIRES(meta_);
  Result<void> apply_frees_locked() REQUIRES(meta_);
  // A block the running transaction freed is neither logged nor written
  // in place: nothing points at it, and a replay of its copy could land on
  // data written there after the commit.
  void drop_freed_from_txn() REQUIRES(meta_);
  size_t batch_limit_ = 0;  // blocks in a transaction before it commits by itself
  // Blocks freed by the open transaction, given back to the device
  // (discard) once it has committed: docs/ext4.md "Discard".
  static constexpr size_t MAX_FREED = 128;
  Freed freed_[MAX_FREED] GUARDED_BY(meta_);
  size_t freed_n_ GUARDED_BY(meta_) = 0;
  bool no_discard_ GUARDED_BY(meta_) = false;  // the device said OpNotSupported (or failed one)
  uint64_t discarded_ GUARDED_BY(meta_) = 0;    // blocks given back so far
  void note_freed(uint64_t start, uint64_t count) REQUIRES(meta_);
  void discard_freed() REQUIRES(meta_);
  bool clean_marked_ = false;
  // The inode cache: open hashing by inode number (Node::cache_next).
  static constexpr size_t NODE_BUCKETS = 256;
  Node* nodes_[NODE_BUCKETS] GUARDED_BY(meta_) = {};
  // Files with dirty pages, each holding a reference (dirty_add).
  vfs::FsMutex dirty_lock_;
  Node* dirty_head_ GUARDED_BY(dirty_lock_) = nullptr;
  // The read-write volumes, for shutdown_all and sync_all.
  friend void sync_all();
  friend void writeback_all();
  Ext4Fs* next_rw_ = nullptr;
};

}  // namespace capsule::ext4
