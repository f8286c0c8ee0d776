// The generated file system under procfs and sysfs (fs/procfs/procfs.h):
// directory nodes made on lookup from the Entry tree, files snapshotted at
// open, computed symlinks.
#include "fs/procfs/procfs.h"

#include <new>

#include "fs/vfs/platform.h"

namespace capsule::procfs {

using vfs::Attr;
using vfs::DirSink;
using vfs::IoBuffer;
using vfs::Vnode;
using vfs::VnodeRef;
using vfs::VType;

// --- Text ---------------------------------------------------------------------------

bool Text::grow(size_t need) {
  if (failed_) return false;
  if (len_ + need <= cap_) return true;
  size_t cap = cap_ ? cap_ * 2 : 512;
  while (cap < len_ + need) cap *= 2;
  char* b = new (std::nothrow) char[cap];
  if (!b) {
    failed_ = true;
    return false;
  }
  if (len_) __builtin_memcpy(b, buf_, len_);
  delete[] buf_;
  buf_ = b;
  cap_ = cap;
  return true;
}

void Text::put(char c) {
  if (grow(1)) buf_[len_++] = c;
}

void Text::write(const char* s, size_t n) {
  if (n && grow(n)) {
    __builtin_memcpy(buf_ + len_, s, n);
    len_ += n;
  }
}

size_t decimal(uint64_t n, char* out) {
  char tmp[24];
  size_t k = 0;
  do {
    tmp[k++] = char('0' + n % 10);
    n /= 10;
  } while (n);
  for (size_t i = 0; i < k; ++i) out[i] = tmp[k - 1 - i];
  out[k] = 0;
  return k;
}

bool parse_decimal(StringView s, uint64_t* out) {
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + uint64_t(s[i] - '0');
  }
  *out = v;
  return true;
}

namespace {

uint64_t ino_of(const Entry* e, uint64_t arg) {
  // A stable number per (entry, argument): a mix of both, never 0 or 1.
  uint64_t x = reinterpret_cast<uintptr_t>(e) * 0x9e3779b97f4a7c15ull ^ (arg + 1) * 0xbf58476d1ce4e5b9ull;
  x ^= x >> 31;
  x &= (1ull << 62) - 1;
  return x < 2 ? x + 2 : x;
}

class Node final : public Vnode {
 public:
  Node(GenFs* fs, const Entry* e, uint64_t arg, Node* parent)
      : Vnode(fs, e->ino ? e->ino(arg) : ino_of(e, arg), e->mode), gfs_(fs), e_(e), arg_(arg), parent_(parent),
        owner_(e->owner ? e->owner : parent ? parent->owner_ : nullptr) {}

  const Entry& entry() const { return *e_; }
  uint64_t arg() const { return arg_; }

  Result<VnodeRef> lookup(StringView name) override {
    if (!is_dir()) return Error::NotDir;
    if (name == "..") return parent_ ? parent_ : VnodeRef(this);
    for (size_t i = 0; i < e_->nchildren; ++i) {
      const Entry& c = e_->children[i];
      if (name == c.name && (!c.present || c.present(arg_))) return make(&c, arg_);
    }
    uint64_t n;
    StringView prefix(e_->prefix ? e_->prefix : "");
    if (e_->numbered && name.starts_with(prefix) && parse_decimal(name.substr(prefix.size()), &n) && e_->exists &&
        e_->exists(arg_, n))
      return make(e_->numbered, child_arg(n));
    return Error::NotFound;
  }

  // A numbered child's argument: its number, or with `nest` this
  // directory's argument and the number.
  uint64_t child_arg(uint64_t n) const { return e_->nest ? (arg_ << 32) | (n & 0xffffffffu) : n; }

  Result<void> readdir(uint64_t cookie, DirSink& sink) override {
    if (!is_dir()) return Error::NotDir;
    if (cookie == 0 && !sink.emit(".", ino(), VType::Dir, 1)) return {};
    if (cookie <= 1) {
      uint64_t up = parent_ ? parent_->ino() : ino();
      if (!sink.emit("..", up, VType::Dir, 2)) return {};
      cookie = 2;
    }
    const uint64_t base = 2 + e_->nchildren;
    for (uint64_t i = cookie - 2; i < e_->nchildren; ++i) {
      const Entry& c = e_->children[i];
      if (c.present && !c.present(arg_)) continue;
      if (!sink.emit(c.name, c.ino ? c.ino(arg_) : ino_of(&c, arg_), vfs::type_of_mode(c.mode), 2 + i + 1)) return {};
    }
    if (!e_->numbered || !e_->list) return {};
    uint64_t from = cookie > base ? cookie - base : 0;
    for (;;) {
      uint64_t nums[32];
      size_t k = e_->list(arg_, from, nums, 32);
      if (k == 0) return {};
      for (size_t i = 0; i < k; ++i) {
        char name[64];
        size_t len = 0;
        for (const char* p = e_->prefix; p && *p && len < 32; ++p) name[len++] = *p;
        len += decimal(nums[i], name + len);
        if (!sink.emit(StringView(name, len), ino_of(e_->numbered, child_arg(nums[i])), vfs::type_of_mode(e_->numbered->mode),
                       base + nums[i] + 1))
          return {};
        from = nums[i] + 1;
      }
      if (k < 32) return {};
    }
  }

  Result<size_t> readlink(char* buf, size_t cap) override {
    if (!is_symlink() || !e_->link) return Error::Invalid;
    Text t;
    TRY(e_->link(arg_, t));
    if (t.failed()) return Error::NoMemory;
    size_t n = t.size() < cap ? t.size() : cap;
    if (n) __builtin_memcpy(buf, t.data(), n);
    return t.size();
  }

  Result<VnodeRef> follow_link() override {
    if (e_->target) return make(e_->target, arg_);
    if (!e_->follow) return Error::NotSupported;
    return e_->follow(arg_);
  }

  Result<VnodeRef> open_as(uint32_t how) override;

  // Linux's proc accepts and ignores O_TRUNC ("echo x > /proc/sys/...").
  Result<void> truncate(uint64_t) override { return {}; }

  // sysfs (kernfs on Linux) answers "no such attribute"; procfs has no
  // attributes at all (the Vnode defaults: EOPNOTSUPP, an empty list).
  Result<size_t> getxattr(StringView name, void* buf, size_t cap) override {
    if (StringView(gfs_->name()) == "sysfs") return Error::NoData;
    return Error::OpNotSupported;
  }

  Result<Attr> getattr() override {
    Attr a;
    a.dev = fs()->dev();
    a.ino = ino();
    a.mode = e_->mode;
    if (owner_) owner_(arg_, &a.uid, &a.gid);
    a.nlink = is_dir() ? 2 : 1;
    a.blksize = 1024;
    a.atime_ns = a.mtime_ns = a.ctime_ns = gfs_->created_ns();
    return a;
  }
  Result<void> setattr(const vfs::SetAttr& s) override {
    // Only a truncation (O_TRUNC, truncate(2)) is accepted, and ignored.
    return (s.mask & ~vfs::SetAttr::SIZE) ? Error::Permission : Result<void>();
  }

  // No names are made or removed by users (EPERM, as Linux's proc).
  Result<VnodeRef> create(StringView, const vfs::CreateArgs&) override { return dir_only(Error::Permission); }
  Result<VnodeRef> mkdir(StringView, const vfs::CreateArgs&) override { return dir_only(Error::Permission); }
  Result<VnodeRef> symlink(StringView, StringView, const vfs::CreateArgs&) override {
    return dir_only(Error::Permission);
  }
  Result<void> link(StringView, Vnode&) override { return is_dir() ? Error::Permission : Error::NotDir; }
  Result<void> unlink(StringView) override { return is_dir() ? Error::Permission : Error::NotDir; }
  Result<void> rmdir(StringView) override { return is_dir() ? Error::Permission : Error::NotDir; }
  Result<void> rename(StringView, Vnode&, StringView, bool) override {
    return is_dir() ? Error::Permission : Error::NotDir;
  }

 private:
  Result<VnodeRef> dir_only(Error e) { return is_dir() ? e : Error::NotDir; }
  Result<VnodeRef> make(const Entry* e, uint64_t arg) {
    auto* n = new (std::nothrow) Node(gfs_, e, arg, this);
    if (!n) return Error::NoMemory;
    return VnodeRef::adopt(n);
  }

  GenFs* gfs_;
  const Entry* e_;
  uint64_t arg_;
  VnodeRef parent_;
  void (*owner_)(uint64_t, uint32_t*, uint32_t*);
};

// One open of a generated file: the text made at open, and writes passed to
// the entry's store callback.
class Snapshot final : public Vnode {
 public:
  Snapshot(Node* node, char* text, size_t len)
      : Vnode(node->fs(), node->ino(), node->entry().mode), node_(node), text_(text), len_(len) {}

  Result<size_t> read(uint64_t offset, IoBuffer& buf) override {
    const Entry& e = static_cast<Node&>(*node_).entry();
    if (e.read_at) return e.read_at(static_cast<Node&>(*node_).arg(), offset, buf);
    if (offset >= len_) return size_t(0);
    size_t n = len_ - offset < buf.size() ? size_t(len_ - offset) : buf.size();
    TRY(buf.copy_out(0, text_ + offset, n));
    return n;
  }

  Result<size_t> write(uint64_t* offset, IoBuffer& buf, bool) override {
    const Entry& e = static_cast<Node&>(*node_).entry();
    if (e.write_at) {
      const size_t n = TRY(e.write_at(static_cast<Node&>(*node_).arg(), *offset, buf));
      *offset += n;
      return n;
    }
    if (!e.store) return Error::Io;
    // One write is one value (as sysctl takes it); a page at most.
    size_t n = buf.size() < 4096 ? buf.size() : 4096;
    char* data = new (std::nothrow) char[n + 1];
    if (!data) return Error::NoMemory;
    Result<void> r = buf.copy_in(0, data, n);
    if (r.ok()) r = e.store(static_cast<Node&>(*node_).arg(), StringView(data, n));
    delete[] data;
    if (!r.ok()) return r.error();
    *offset += n;
    return n;
  }

  Result<void> truncate(uint64_t) override { return {}; }
  Result<Attr> getattr() override { return node_->getattr(); }
  Result<void> setattr(const vfs::SetAttr& s) override { return node_->setattr(s); }
  Result<size_t> getxattr(StringView name, void* buf, size_t cap) override {
    return node_->getxattr(name, buf, cap);
  }

 protected:
  ~Snapshot() override { delete[] text_; }

 private:
  VnodeRef node_;
  char* text_;
  size_t len_;
};

Result<VnodeRef> Node::open_as(uint32_t how) {
  if (!is_regular()) return VnodeRef(this);
  if ((how & vfs::OpenHow::WRITE) && !e_->store && !e_->write_at && e_->deny_write_open) return Error::AccessDenied;
  char* text = nullptr;
  size_t len = 0;
  if ((how & vfs::OpenHow::READ) && e_->show && !e_->read_at) {
    Text t;
    TRY(e_->show(arg_, t));
    if (t.failed()) return Error::NoMemory;
    len = t.size();
    text = t.take();
  }
  auto* s = new (std::nothrow) Snapshot(this, text, len);
  if (!s) {
    delete[] text;
    return Error::NoMemory;
  }
  return VnodeRef::adopt(s);
}

}  // namespace

Result<RefPtr<GenFs>> GenFs::create(const char* name, const Entry* root, uint64_t magic) {
  auto* fs = new (std::nothrow) GenFs(name, root);
  if (!fs) return Error::NoMemory;
  fs->magic_ = magic;
  RefPtr<GenFs> ref = RefPtr<GenFs>::adopt(fs);
  fs->created_ns_ = vfs::fs_now_ns();
  auto* n = new (std::nothrow) Node(fs, root, 0, nullptr);
  if (!n) return Error::NoMemory;
  fs->root_ = VnodeRef::adopt(n);
  return ref;
}

VnodeRef GenFs::root() { return root_; }

void GenFs::shutdown() { root_ = VnodeRef(); }

}  // namespace capsule::procfs
