// Filling a ramfs from a cpio "newc" archive (docs/initrd.md, "Populating
// the ramfs"). Works on vnodes directly: the file system is not mounted yet,
// so there is no namespace and no dentry cache to keep coherent.
#include <new>

#include "fs/ramfs/ramfs.h"

namespace capsule::ramfs {

using vfs::CreateArgs;
using vfs::SetAttr;
using vfs::Vnode;
using vfs::VnodeRef;

void format_value(Sink& sink, const FormatSpec&, const PopulateError& e) {
  const char* reason = e.reason ? e.reason : "no error";
  if (e.entry.empty())
    format(sink, "initrd: {} at offset {:#x}", reason, e.offset);
  else
    format(sink, "initrd: {} at offset {:#x} (entry '{}')", reason, e.offset, e.entry);
  if (e.error != Error::None && e.error != Error::BadFormat) format(sink, ": {}", error_name(e.error));
}

namespace {

// A growable array of T (T movable by copy: VnodeRef and plain fields).
template <typename T>
class Array {
 public:
  ~Array() {
    for (size_t i = 0; i < n_; ++i) items_[i].~T();
    ::operator delete(items_);
  }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return items_[i]; }
  Result<void> push(const T& item) {
    if (n_ == cap_) {
      size_t cap = cap_ ? cap_ * 2 : 16;
      auto* fresh = static_cast<T*>(::operator new(cap * sizeof(T), std::nothrow));
      if (!fresh) return Error::NoMemory;
      for (size_t i = 0; i < n_; ++i) {
        new (&fresh[i]) T(items_[i]);
        items_[i].~T();
      }
      ::operator delete(items_);
      items_ = fresh;
      cap_ = cap;
    }
    new (&items_[n_++]) T(item);
    return {};
  }

 private:
  T* items_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

// Names of one inode seen so far: (dev_major, dev_minor, ino) -> vnode.
class LinkTable {
 public:
  Vnode* find(const cpio::Entry& e) {
    for (size_t i = 0; i < items_.size(); ++i)
      if (items_[i].ino == e.ino && items_[i].major == e.dev_major && items_[i].minor == e.dev_minor)
        return items_[i].node.get();
    return nullptr;
  }
  Result<void> add(const cpio::Entry& e, Vnode* v) { return items_.push(Item{e.ino, e.dev_major, e.dev_minor, VnodeRef(v)}); }

 private:
  struct Item {
    uint32_t ino, major, minor;
    VnodeRef node;
  };
  Array<Item> items_;
};

class Populator {
 public:
  Populator(Ramfs& fs, PopulateError* err, PopulateStats* stats) : fs_(fs), err_(err), stats_(stats) {}

  Result<void> entry(const cpio::Entry& e) {
    e_ = &e;
    ++stats_->entries;
    StringView path = cpio::relative_path(e.name);
    while (!path.empty() && path[path.size() - 1] == '/') path = path.substr(0, path.size() - 1);
    StringView last;
    VnodeRef dir = TRY(walk_to_parent(path, &last));
    if (last.empty()) {  // "." or "/": the root's own attributes
      if (!e.is_dir()) return fail("the root must be a directory", Error::BadFormat);
      return dir_attrs(*dir, e);
    }
    if (last.size() > vfs::MAX_NAME) return fail("name too long", Error::BadFormat);
    if (last == "..") return fail("path leaves the root", Error::BadFormat);

    Result<VnodeRef> existing = dir->lookup(last);
    if (existing.ok()) {
      VnodeRef v = existing.value();
      if (e.is_dir() && v->is_dir()) return dir_attrs(*v, e);  // listed twice, or created as a parent
      if (v->is_dir()) return fail("a directory is in the way", Error::BadFormat);
      // A non-directory is replaced, as Linux's unpacker does (unless this
      // is another name of the same hard-linked inode: handled below).
      if (!(e.is_hard_link() && links_.find(e) == v.get())) {
        if (auto r = dir->unlink(last); !r.ok()) return fail("cannot replace", r.error());
      }
    }

    CreateArgs a;
    a.mode = e.mode;
    a.uid = e.uid;
    a.gid = e.gid;
    switch (e.type()) {
      case cpio::TYPE_DIR: {
        auto made = dir->mkdir(last, a);
        if (!made.ok()) return fail("cannot create the directory", made.error());
        ++stats_->dirs;
        return dir_attrs(*made.value(), e);
      }
      case cpio::TYPE_SYMLINK: {
        auto made = dir->symlink(last, e.symlink_target(), a);
        if (!made.ok()) return fail("cannot create the symlink", made.error());
        ++stats_->symlinks;
        return set_attrs(*made.value(), e);
      }
      case cpio::TYPE_REGULAR: return regular(*dir, last, a);
      default: {
        a.rdev = (uint64_t(e.rdev_major) << 32) | e.rdev_minor;
        auto made = dir->create(last, a);
        if (!made.ok()) return fail("cannot create the node", made.error());
        ++stats_->nodes;
        return set_attrs(*made.value(), e);
      }
    }
  }

  // Directories get their times again at the end: creating what they hold
  // moved their mtime. (Linux's unpacker defers them the same way.)
  Result<void> finish() {
    for (size_t i = 0; i < dir_times_.size(); ++i) {
      SetAttr s;
      s.mask = SetAttr::ATIME | SetAttr::MTIME;
      s.atime_ns = s.mtime_ns = dir_times_[i].mtime_ns;
      if (auto r = dir_times_[i].dir->setattr(s); !r.ok()) return fail("cannot set a directory's times", r.error());
    }
    return {};
  }

  Error fail(const char* reason, Error error) {
    err_->reason = reason;
    err_->error = error;
    err_->offset = e_->offset;
    err_->entry = e_->name;
    return error == Error::NoMemory ? Error::NoMemory : Error::BadFormat;
  }

 private:
  // Walks (creating missing directories 0755, as an unpacker that forgives
  // a missing parent would) to the directory that holds the last component.
  Result<VnodeRef> walk_to_parent(StringView path, StringView* last) {
    VnodeRef cur = fs_.root();
    for (;;) {
      while (!path.empty() && path[0] == '/') path = path.substr(1);
      size_t slash = path.find('/');
      if (slash == StringView::npos) {
        *last = path == "." ? StringView() : path;
        return cur;
      }
      StringView name = path.substr(0, slash);
      path = path.substr(slash + 1);
      if (name == "." || name.empty()) continue;
      if (name == "..") return fail("path leaves the root", Error::BadFormat);
      if (name.size() > vfs::MAX_NAME) return fail("name too long", Error::BadFormat);
      VnodeRef next;
      if (auto found = cur->lookup(name); found.ok()) {
        next = found.value();
      } else {
        CreateArgs a;
        a.mode = vfs::MODE_DIR | 0755;
        auto made = cur->mkdir(name, a);
        if (!made.ok()) return fail("cannot create a parent directory", made.error());
        next = made.value();
      }
      if (!next->is_dir()) return fail("a path component is not a directory", Error::BadFormat);
      cur = next;
    }
  }

  Result<void> regular(Vnode& dir, StringView name, const CreateArgs& a) {
    const cpio::Entry& e = *e_;
    Vnode* node = e.is_hard_link() ? links_.find(e) : nullptr;
    VnodeRef keep;
    if (node) {
      // Another name of an inode already created: link it, unless this very
      // name already is one.
      auto here = dir.lookup(name);
      if (!here.ok() || here.value().get() != node) {
        if (auto r = dir.link(name, *node); !r.ok()) return fail("cannot link", r.error());
      }
      ++stats_->hard_links;
    } else {
      auto made = dir.create(name, a);
      if (!made.ok()) return fail("cannot create the file", made.error());
      keep = made.value();
      node = keep.get();
      ++stats_->files;
      if (e.is_hard_link())
        if (auto r = links_.add(e, node); !r.ok()) return fail("out of memory", r.error());
    }
    // The data may come with any one of the names (GNU cpio: the last).
    if (e.size) {
      if (auto r = fs_.set_backing(*node, e.data, e.size); !r.ok())
        return fail("hard link carries data twice", Error::BadFormat);
      stats_->bytes += e.size;
    }
    return set_attrs(*node, e);
  }

  Result<void> dir_attrs(Vnode& v, const cpio::Entry& e) {
    TRY(set_attrs(v, e));
    if (auto r = dir_times_.push(DirTime{VnodeRef(&v), int64_t(e.mtime) * 1000000000}); !r.ok())
      return fail("out of memory", r.error());
    return {};
  }

  Result<void> set_attrs(Vnode& v, const cpio::Entry& e) {
    SetAttr s;
    s.mask = SetAttr::UID | SetAttr::GID | SetAttr::ATIME | SetAttr::MTIME;
    if (!v.is_symlink()) s.mask |= SetAttr::MODE;
    s.mode = e.mode;
    s.uid = e.uid;
    s.gid = e.gid;
    s.atime_ns = s.mtime_ns = int64_t(e.mtime) * 1000000000;
    if (auto r = v.setattr(s); !r.ok()) return fail("cannot set attributes", r.error());
    return {};
  }

  Ramfs& fs_;
  PopulateError* err_;
  PopulateStats* stats_;
  const cpio::Entry* e_ = nullptr;
  LinkTable links_;
  struct DirTime {
    VnodeRef dir;
    int64_t mtime_ns;
  };
  Array<DirTime> dir_times_;
};

}  // namespace

Result<void> populate(Ramfs& fs, const uint8_t* data, size_t size, PopulateError* err, PopulateStats* stats) {
  PopulateError scratch_err;
  PopulateStats scratch_stats;
  if (!err) err = &scratch_err;
  if (!stats) stats = &scratch_stats;
  Populator p(fs, err, stats);
  cpio::Reader r(data, size);
  cpio::Entry e;
  for (;;) {
    auto more = r.next(e);
    if (!more.ok()) {
      const cpio::CpioError& ce = r.error();
      err->reason = ce.reason;
      err->error = Error::BadFormat;
      err->offset = ce.offset;
      err->entry = ce.entry;
      return Error::BadFormat;
    }
    if (!more.value()) return p.finish();
    TRY(p.entry(e));
  }
}

}  // namespace capsule::ramfs
