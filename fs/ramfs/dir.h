#pragma once
// ramfs directories (private to fs/ramfs): entries in two red-black trees,
// by name (lookup) and by creation cookie (readdir), each entry holding one
// reference on its node (docs/vfs.md).
//
// Locks: a directory's lock_ guards its entries, cookie counter and parent
// pointer. An operation holds one directory's lock and then at most one
// non-directory child's, except rename and rmdir, which take the file
// system's rename lock first and then, in this order: the source (or
// parent) directory, the destination directory if it is another one, the
// replaced node, and a moved directory (rename) or the removed directory
// (rmdir). Under the rename lock nobody else holds two directory locks, so
// this order cannot deadlock.
#include <cstddef>
#include <cstdint>

#include "fs/ramfs/node.h"
#include "lib/rbtree.h"

namespace capsule::ramfs {

struct Dirent {
  RbNode by_name;
  RbNode by_cookie;
  uint64_t cookie;
  Node* node;  // one reference, owned by the entry
  uint16_t len;
  char name[1];  // len bytes follow (allocated with the entry)

  StringView view() const { return {name, len}; }
  // nullptr when out of memory.
  static Dirent* make(StringView n, Node* node, uint64_t cookie);
  static void destroy(Dirent* d);
};

// Byte order, shorter first (readdir order is by cookie, not this).
inline int compare_names(StringView a, StringView b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return uint8_t(a[i]) < uint8_t(b[i]) ? -1 : 1;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

struct ByName {
  bool operator()(const Dirent& a, const Dirent& b) const { return compare_names(a.view(), b.view()) < 0; }
};
struct ByCookie {
  bool operator()(const Dirent& a, const Dirent& b) const { return a.cookie < b.cookie; }
};

class Dir final : public Node {
 public:
  // `parent` nullptr: the root, whose parent is itself.
  Dir(Ramfs* fs, const vfs::CreateArgs& a, Dir* parent) : Node(fs, a), parent_(parent ? parent : this) {}
  ~Dir() override;

  Result<vfs::VnodeRef> lookup(StringView name) override;
  Result<vfs::VnodeRef> create(StringView name, const vfs::CreateArgs& args) override;
  Result<vfs::VnodeRef> tmpfile(const vfs::CreateArgs& args, bool linkable) override;
  Result<vfs::VnodeRef> mkdir(StringView name, const vfs::CreateArgs& args) override;
  Result<vfs::VnodeRef> symlink(StringView name, StringView target, const vfs::CreateArgs& args) override;
  Result<void> link(StringView name, vfs::Vnode& target) override;
  Result<void> unlink(StringView name) override;
  Result<void> rmdir(StringView name) override;
  Result<void> rename(StringView name, vfs::Vnode& new_dir_v, StringView new_name, bool no_replace) override;
  Result<void> readdir(uint64_t cookie, vfs::DirSink& sink) override;

  // Shutdown: takes the first entry out (its reference passes to the
  // caller), nullptr when empty.
  Node* take_first();
  // Shutdown: forgets the parent; returns it (nullptr for the root).
  Dir* take_parent();

 protected:
  void fill_size_locked(vfs::Attr& a) override REQUIRES(lock_);

 private:
  Dirent* find_locked(StringView name) REQUIRES(lock_);
  // A new entry for `n` with the next cookie; nullptr when out of memory.
  Dirent* new_entry_locked(StringView name, Node* n) REQUIRES(lock_);
  Result<vfs::VnodeRef> insert_new(StringView name, Node* n);
  void remove_locked(Dirent* e) REQUIRES(lock_);
  void detach_locked() REQUIRES(lock_);
  void touch_locked() REQUIRES(lock_);
  // rename() once its locks are held; `nd` may be this directory. Sets
  // *released to the replaced node, whose reference the caller drops.
  Result<void> rename_locked(StringView name, Dir& nd, StringView new_name, bool no_replace, Node** released)
      REQUIRES(lock_, nd.lock_);
  // The last step of a rename: `src` leaves this directory, `moved` (its
  // node) enters `nd`.
  void move_locked(Dirent* src, Dir& nd, Dirent* moved) REQUIRES(lock_, nd.lock_);
  bool is_ancestor_of(const Dir* d) const;

  Dir* parent_ GUARDED_BY(lock_);  // nullptr once removed; the root's is itself
  uint64_t next_cookie_ GUARDED_BY(lock_) = 2;  // 0 and 1 are "." and ".."
  IntrusiveRbTree<Dirent, &Dirent::by_name, ByName> names_ GUARDED_BY(lock_);
  IntrusiveRbTree<Dirent, &Dirent::by_cookie, ByCookie> order_ GUARDED_BY(lock_);
};

}  // namespace capsule::ramfs
