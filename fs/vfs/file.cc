// Open file descriptions and descriptor tables.
#include <new>

#include "fs/file.h"
#include "fs/vfs/notify.h"

namespace capsule::vfs {

// --- OpenFile ---------------------------------------------------------------

Result<FileRef> OpenFile::create(VnodeRef vnode, uint32_t flags) {
  if (!vnode) return Error::Invalid;
  auto* f = new (std::nothrow) OpenFile(static_cast<VnodeRef&&>(vnode), flags);
  if (!f) return Error::NoMemory;
  return FileRef::adopt(f);
}

void OpenFile::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (has_locks.load(std::memory_order_acquire))
    if (auto hook = on_last_release.load(std::memory_order_acquire)) hook(*this);
  if (notify_active() && !(flags() & PATH) && !vnode_->is_stream())
    notify_closed(*vnode_, note_, flags() & WRITE);
  if (async.load(std::memory_order_acquire))
    if (auto hook = on_async_release.load(std::memory_order_acquire)) hook(*this);
  delete this;
}

OpenFile::~OpenFile() { delete note_; }

Result<void> OpenFile::setattr(const SetAttr& a, const Cred* cred) { return setattr_noted(cred, *vnode_, note_, a); }

void OpenFile::set_flags(uint32_t flags) {
  uint32_t old = flags_.load(std::memory_order_relaxed);
  while (!flags_.compare_exchange_weak(old, (old & ~SETTABLE) | (flags & SETTABLE), std::memory_order_relaxed)) {
  }
}

Result<size_t> OpenFile::read(IoBuffer& buf) {
  if (!(flags() & READ)) return Error::BadFd;
  // A stream has no offset to serialize on; its reads may block.
  if (vnode_->is_stream()) return vnode_->read_stream(buf, *this);
  if (vnode_->is_dir()) return Error::IsDir;
  size_t n;
  {
    FsGuard g(pos_lock_);
    n = TRY(vnode_->read(pos_, buf));
    pos_ += n;
  }
  if (n && notify_active()) notify_event(*vnode_, note_, NOTE_ACCESS, true);
  return n;
}

Result<size_t> OpenFile::write(IoBuffer& buf, bool append) {
  if (!(flags() & WRITE)) return Error::BadFd;
  if (vnode_->is_stream()) return vnode_->write_stream(buf, *this);
  size_t n;
  {
    FsGuard g(pos_lock_);
    uint64_t off = pos_;
    n = TRY(vnode_->write(&off, buf, append || (flags() & APPEND)));
    pos_ = off;
  }
  if (n && notify_active()) notify_event(*vnode_, note_, NOTE_MODIFY, true);
  return n;
}

Result<size_t> OpenFile::pread(IoBuffer& buf, uint64_t offset) {
  if (!(flags() & READ)) return Error::BadFd;
  if (vnode_->is_dir()) return Error::IsDir;
  if (offset > MAX_FILE_SIZE || vnode_->is_stream()) return Error::Invalid;
  size_t n = TRY(vnode_->read(offset, buf));
  if (n && notify_active()) notify_event(*vnode_, note_, NOTE_ACCESS, true);
  return n;
}

Result<size_t> OpenFile::pwrite(IoBuffer& buf, uint64_t offset, int append) {
  if (!(flags() & WRITE)) return Error::BadFd;
  if (offset > MAX_FILE_SIZE || vnode_->is_stream()) return Error::Invalid;
  uint64_t off = offset;
  size_t n = TRY(vnode_->write(&off, buf, append < 0 ? bool(flags() & APPEND) : append > 0));
  if (n && notify_active()) notify_event(*vnode_, note_, NOTE_MODIFY, true);
  return n;
}

Result<uint64_t> OpenFile::seek(int64_t offset, Whence whence) {
  if (flags() & PATH) return Error::BadFd;
  FsGuard g(pos_lock_);
  int64_t base = 0;
  switch (whence) {
    case Whence::Set: base = 0; break;
    case Whence::Current: base = int64_t(pos_); break;
    case Whence::End: {
      Attr a = TRY(vnode_->getattr());
      base = int64_t(a.size);
      break;
    }
  }
  int64_t target;
  if (__builtin_add_overflow(base, offset, &target) || target < 0) return Error::Invalid;
  pos_ = uint64_t(target);
  return pos_;
}

uint64_t OpenFile::offset() {
  FsGuard g(pos_lock_);
  return pos_;
}

namespace {

// Forwards to the caller's sink and remembers where to resume.
class CountingSink final : public DirSink {
 public:
  CountingSink(DirSink& inner, uint64_t start) : next(start), inner_(inner) {}
  bool emit(StringView name, uint64_t ino, VType type, uint64_t next_cookie) override {
    if (!inner_.emit(name, ino, type, next_cookie)) return false;
    next = next_cookie;
    ++count;
    return true;
  }
  uint64_t next;
  size_t count = 0;

 private:
  DirSink& inner_;
};

}  // namespace

Result<size_t> OpenFile::readdir(DirSink& sink) {
  if (flags() & PATH) return Error::BadFd;
  if (!vnode_->is_dir()) return Error::NotDir;
  size_t count;
  {
    FsGuard g(pos_lock_);
    CountingSink c(sink, pos_);
    TRY(vnode_->readdir(pos_, c));
    pos_ = c.next;
    count = c.count;
  }
  // Linux's iterate_dir(): every getdents is an access.
  if (notify_active()) notify_event(*vnode_, note_, NOTE_ACCESS, true);
  return count;
}

// --- FdTable ----------------------------------------------------------------

FdTable::FdTable(unsigned limit) : limit_(limit) {}

int FdTable::next_open(int from) {
  FsGuard g(lock_);
  for (unsigned i = from < 0 ? 0u : unsigned(from); i < capacity_; ++i)
    if (slots_[i].file) return int(i);
  return -1;
}

FdTable::~FdTable() {
  for (unsigned i = 0; i < capacity_; ++i)
    if (slots_[i].file) slots_[i].file->release();
  delete[] slots_;
}

Result<void> FdTable::grow_locked(unsigned n) {
  lock_.assert_held();
  if (n <= capacity_) return {};
  unsigned cap = capacity_ ? capacity_ : 16;
  while (cap < n) cap *= 2;
  auto* s = new (std::nothrow) Slot[cap];
  if (!s) return Error::NoMemory;
  for (unsigned i = 0; i < capacity_; ++i) s[i] = slots_[i];
  delete[] slots_;
  slots_ = s;
  capacity_ = cap;
  return {};
}

// The lowest free descriptor >= from (may be == capacity_: grow first).
int FdTable::lowest_free_locked(unsigned from) {
  lock_.assert_held();
  unsigned i = from > first_free_hint_ ? from : first_free_hint_;
  while (i < capacity_ && slots_[i].file) ++i;
  return int(i);
}

Result<int> FdTable::install(FileRef file, bool cloexec, int min_fd) {
  if (!file || min_fd < 0) return Error::Invalid;
  FsGuard g(lock_);
  int fd = lowest_free_locked(unsigned(min_fd));
  if (unsigned(fd) >= limit_) return Error::TooManyFiles;
  TRY(grow_locked(unsigned(fd) + 1));
  slots_[fd].file = file.leak();
  slots_[fd].cloexec = cloexec;
  ++count_;
  if (unsigned(min_fd) <= first_free_hint_) first_free_hint_ = unsigned(fd) + 1;
  return fd;
}

Result<FileRef> FdTable::get(int fd) {
  FsGuard g(lock_);
  if (fd < 0 || unsigned(fd) >= capacity_ || !slots_[fd].file) return Error::BadFd;
  return FileRef(slots_[fd].file);
}

Result<void> FdTable::close(int fd) {
  OpenFile* f;
  {
    FsGuard g(lock_);
    if (fd < 0 || unsigned(fd) >= capacity_ || !slots_[fd].file) return Error::BadFd;
    f = slots_[fd].file;
    slots_[fd] = Slot{};
    --count_;
    if (unsigned(fd) < first_free_hint_) first_free_hint_ = unsigned(fd);
  }
  f->release();
  return {};
}

Result<int> FdTable::dup(int fd) { return dup_from(fd, 0, false); }

Result<int> FdTable::dup_from(int fd, int min_fd, bool cloexec) {
  if (min_fd < 0) return Error::Invalid;
  FileRef f = TRY(get(fd));
  {
    FsGuard g(lock_);
    if (unsigned(min_fd) >= limit_) return Error::Invalid;  // fcntl(2) F_DUPFD: EINVAL
  }
  return install(static_cast<FileRef&&>(f), cloexec, min_fd);
}

Result<int> FdTable::dup2(int old_fd, int new_fd) {
  if (old_fd == new_fd) {
    TRY(get(old_fd));
    return new_fd;
  }
  return dup3(old_fd, new_fd, false);
}

Result<int> FdTable::dup3(int old_fd, int new_fd, bool cloexec) {
  if (old_fd == new_fd) {
    // dup3(2): EINVAL, but EBADF first if old_fd is not open (Linux checks
    // the descriptor in the same order).
    TRY(get(old_fd));
    return Error::Invalid;
  }
  OpenFile* replaced = nullptr;
  {
    FsGuard g(lock_);
    if (old_fd < 0 || unsigned(old_fd) >= capacity_ || !slots_[old_fd].file) return Error::BadFd;
    if (new_fd < 0 || unsigned(new_fd) >= limit_) return Error::BadFd;
    TRY(grow_locked(unsigned(new_fd) + 1));
    OpenFile* f = slots_[old_fd].file;
    f->retain();
    replaced = slots_[new_fd].file;
    slots_[new_fd].file = f;
    slots_[new_fd].cloexec = cloexec;
    if (!replaced) ++count_;
    if (unsigned(new_fd) == first_free_hint_) first_free_hint_ = unsigned(new_fd) + 1;
  }
  // Closed after the switch, as Linux does: no moment without new_fd.
  if (replaced) replaced->release();
  return new_fd;
}

Result<bool> FdTable::cloexec(int fd) {
  FsGuard g(lock_);
  if (fd < 0 || unsigned(fd) >= capacity_ || !slots_[fd].file) return Error::BadFd;
  return slots_[fd].cloexec;
}

Result<void> FdTable::set_cloexec(int fd, bool on) {
  FsGuard g(lock_);
  if (fd < 0 || unsigned(fd) >= capacity_ || !slots_[fd].file) return Error::BadFd;
  slots_[fd].cloexec = on;
  return {};
}

Result<void> FdTable::close_range(unsigned first, unsigned last, bool cloexec_only) {
  if (first > last) return Error::Invalid;
  if (cloexec_only) {  // CLOSE_RANGE_CLOEXEC: only mark them
    FsGuard g(lock_);
    unsigned end = last < capacity_ ? last + 1 : capacity_;
    for (unsigned i = first; i < end; ++i)
      if (slots_[i].file) slots_[i].cloexec = true;
    return {};
  }
  close_where(first, last, false);
  return {};
}

void FdTable::close_on_exec() { close_where(0, ~0u, true); }

void FdTable::close_where(unsigned first, unsigned last, bool only_cloexec) {
  // Collect under the lock, release outside it. Chained through a small
  // batch so no allocation is needed.
  for (;;) {
    OpenFile* batch[32];
    unsigned n = 0;
    bool more = false;
    {
      FsGuard g(lock_);
      unsigned end = last < capacity_ ? last + 1 : capacity_;
      for (unsigned i = first; i < end; ++i) {
        if (!slots_[i].file || (only_cloexec && !slots_[i].cloexec)) continue;
        if (n == 32) {
          more = true;
          break;
        }
        batch[n++] = slots_[i].file;
        slots_[i] = Slot{};
        --count_;
        if (i < first_free_hint_) first_free_hint_ = i;
      }
    }
    for (unsigned i = 0; i < n; ++i) batch[i]->release();
    if (!more) return;
  }
}

Result<FdTable*> FdTable::clone() {
  auto* t = new (std::nothrow) FdTable(limit());
  if (!t) return Error::NoMemory;
  bool ok;
  {
    FsGuard g(lock_);
    FsGuard gt(t->lock_);  // t is not shared yet: never contended
    ok = t->grow_locked(capacity_).ok();
    if (ok) {
      for (unsigned i = 0; i < capacity_; ++i) {
        t->slots_[i] = slots_[i];
        if (slots_[i].file) slots_[i].file->retain();
      }
      t->count_ = count_;
      t->first_free_hint_ = first_free_hint_;
    }
  }
  if (!ok) {
    delete t;
    return Error::NoMemory;
  }
  return t;
}

unsigned FdTable::limit() {
  FsGuard g(lock_);
  return limit_;
}

void FdTable::set_limit(unsigned limit) {
  FsGuard g(lock_);
  limit_ = limit;
}

unsigned FdTable::count() {
  FsGuard g(lock_);
  return count_;
}

}  // namespace capsule::vfs
