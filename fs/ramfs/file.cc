// ramfs regular files: read, write, truncate, fallocate and hole punching,
// memfd seals, the pages file mappings map, and the initrd's bytes served
// in place.
#include "fs/ramfs/file.h"

#include <new>

namespace capsule::ramfs {

using vfs::Attr;
using vfs::FsGuard;
using vfs::IoBuffer;

// Not shared any more: no lock.
File::~File() {
  pages_.truncate(0, [this](uint8_t* p) { drop_page(p); });
  delete[] tag_;
}

Result<void> File::set_tag(StringView tag) {
  if (tag_) return Error::Busy;
  char* copy = new (std::nothrow) char[tag.size() + 1];
  if (!copy) return Error::NoMemory;
  for (size_t i = 0; i < tag.size(); ++i) copy[i] = tag[i];
  copy[tag.size()] = 0;
  tag_len_ = tag.size();
  tag_ = copy;
  return {};
}

Result<size_t> File::read(uint64_t offset, IoBuffer& buf) {
  FsGuard g(lock_);
  if (offset >= size_) return size_t(0);
  size_t n = size_t(min64(buf.size(), size_ - offset));
  size_t done = 0;
  while (done < n) {
    uint64_t pos = offset + done;
    size_t in = size_t(pos & (PAGE - 1));
    size_t k = size_t(min64(PAGE - in, n - done));
    Result<void> r;
    // A fault in the application's buffer part way: the bytes before it
    // count (read(2) returns them; EFAULT only when there are none).
    auto partial = [&](const uint8_t* src, size_t len) -> Result<void> {
      size_t got = TRY(buf.copy_out_partial(done, src, len));
      if (got < len) {
        done += got;
        return Error::Fault;
      }
      return {};
    };
    if (uint8_t* p = pages_.get(pos / PAGE)) {
      r = partial(p + in, k);
    } else if (pos < backing_size_) {
      size_t from_archive = size_t(min64(k, backing_size_ - pos));
      r = partial(backing_ + pos, from_archive);
      if (r.ok() && from_archive < k) r = buf.zero(done + from_archive, k - from_archive);
    } else {
      r = buf.zero(done, k);  // a hole
    }
    if (!r.ok()) {
      if (done) break;
      return r.error();
    }
    done += k;
  }
  touch_atime_locked();
  return done;
}

Result<size_t> File::write(uint64_t* offset, IoBuffer& buf, bool append) {
  FsGuard g(lock_);
  uint64_t off = append ? size_ : *offset;
  size_t n = buf.size();
  if (n == 0) {
    *offset = off;
    return size_t(0);
  }
  // memfd_create(2): F_SEAL_WRITE refuses every write, F_SEAL_GROW one
  // that would extend the file (EPERM).
  if (seals_ & (vfs::SEAL_WRITE | vfs::SEAL_FUTURE_WRITE)) return Error::Permission;
  // write(2): EFBIG when the offset is past the maximum; a write that
  // straddles it is cut short there.
  if (off >= vfs::MAX_FILE_SIZE) return Error::FileTooBig;
  if (n > vfs::MAX_FILE_SIZE - off) n = size_t(vfs::MAX_FILE_SIZE - off);
  if ((seals_ & vfs::SEAL_GROW) && off + n > size_) return Error::Permission;
  size_t done = 0;
  Error failed = Error::None;
  while (done < n) {
    uint64_t pos = off + done;
    size_t in = size_t(pos & (PAGE - 1));
    size_t k = size_t(min64(PAGE - in, n - done));
    auto page = materialize_locked(pos / PAGE);
    if (!page.ok()) {
      failed = page.error();
      break;
    }
    // A fault in the application's buffer part way: the bytes before it
    // are written and counted (write(2) returns them).
    auto r = buf.copy_in_partial(done, page.value() + in, k);
    if (!r.ok() || r.value() < k) {
      if (r.ok()) done += r.value();
      failed = r.ok() ? Error::Fault : r.error();
      break;
    }
    done += k;
  }
  filled_locked();
  if (done == 0 && failed != Error::None) return failed;
  if (off + done > size_) size_ = off + done;
  mtime_ = ctime_ = vfs::fs_now_ns();
  *offset = off + done;
  return done;
}

// A copy helper of this thread may fault on a mapping of this very file
// while the thread reads or writes it under the lock (read(fd, map_of_fd,
// n)): the copy stands between two steps of read/write, where the pages
// are consistent, so the page is served without taking the lock again
// (which would wait for itself).
Result<uint64_t> File::page(uint64_t offset) {
  if (lock_.held_by_current()) {
    lock_.assert_held();
    return page_locked(offset);
  }
  FsGuard g(lock_);
  return page_locked(offset);
}

Result<uint64_t> File::page_locked(uint64_t offset) {
  lock_.assert_held();
  if (offset >= ((size_ + PAGE - 1) & ~(PAGE - 1))) return Error::Range;
  auto p = materialize_locked(offset / PAGE);
  filled_locked();
  if (!p) return p.error();
  return vfs::fs_page_phys(p.value());
}

Result<uint64_t> File::page_for_read(uint64_t offset, bool zero_ok, uint64_t* next) {
  if (lock_.held_by_current()) {
    lock_.assert_held();
    return page_for_read_locked(offset, zero_ok, next);
  }
  FsGuard g(lock_);
  return page_for_read_locked(offset, zero_ok, next);
}

Result<uint64_t> File::page_for_read_locked(uint64_t offset, bool zero_ok, uint64_t* next) {
  lock_.assert_held();
  if (offset >= ((size_ + PAGE - 1) & ~(PAGE - 1))) return Error::Range;
  const uint64_t index = offset / PAGE;
  if (uint8_t* p = pages_.get(index)) return vfs::fs_page_phys(p);
  if (index < (backing_size_ + PAGE - 1) / PAGE) {
    // The archive's bytes are not page aligned: a page of our own.
    uint8_t* p = TRY(materialize_locked(index));
    return vfs::fs_page_phys(p);
  }
  if (zero_ok) return vfs::fs_zero_page_phys();
  uint64_t n = pages_.next_present(index);
  *next = n >= (~uint64_t(0)) / PAGE ? ~uint64_t(0) : n * PAGE;
  return Error::NotFound;
}

bool File::has_page_locked(uint64_t index) {
  lock_.assert_held();
  return pages_.get(index) || index < (backing_size_ + PAGE - 1) / PAGE;
}

// tmpfs's answer (shmem_file_llseek): page granularity; a hole inside the
// archive-backed head of a file does not exist (it is all data).
Result<uint64_t> File::seek_data(uint64_t offset, bool hole) {
  FsGuard g(lock_);
  if (offset >= size_) return Error::NoDeviceOrAddress;
  const uint64_t last = (size_ + PAGE - 1) / PAGE;  // pages [0, last) inside the file
  uint64_t index = offset / PAGE;
  if (!hole) {
    if (has_page_locked(index)) return offset;
    uint64_t n = pages_.next_present(index);
    if (n >= last) return Error::NoDeviceOrAddress;
    return n * PAGE;
  }
  // Data pages are contiguous runs: step over this one page by page
  // (bounded by the pages the file holds).
  while (index < last && has_page_locked(index)) ++index;
  if (index >= last) return size_;
  uint64_t pos = index * PAGE;
  return pos > offset ? pos : offset;
}

Result<void> File::allocate(uint64_t offset, uint64_t len, bool keep_size) {
  FsGuard g(lock_);
  if (len == 0) return Error::Invalid;
  if (offset > vfs::MAX_FILE_SIZE || len > vfs::MAX_FILE_SIZE - offset) return Error::FileTooBig;
  uint64_t end = offset + len;
  if (!keep_size && end > size_ && (seals_ & vfs::SEAL_GROW)) return Error::Permission;
  // tmpfs allocates the pages now, so that later writes cannot run out.
  // A request for more pages than the instance could still get (its size
  // and the kernel's reserve: Ramfs::pages_available, plus what this file
  // already holds, which may lie in the range) is NoSpace at once; the
  // rest is enforced page by page.
  uint64_t first = offset / PAGE, last = (end + PAGE - 1) / PAGE;
  if (last - first > rfs()->pages_available() + pages_.count()) return Error::NoSpace;
  for (uint64_t i = first; i < last; ++i) {
    if (auto r = materialize_locked(i); !r.ok()) {
      // Give back what now lies past the end (Linux undoes the whole
      // call; holes filled inside the file just stay zeros).
      pages_.truncate((size_ + PAGE - 1) / PAGE, [&](uint8_t* p) { drop_page(p); });
      filled_locked();
      return r.error();
    }
  }
  filled_locked();
  if (!keep_size && end > size_) size_ = end;
  ctime_ = vfs::fs_now_ns();
  if (!keep_size) mtime_ = ctime_;
  return {};
}

Result<void> File::punch_hole(uint64_t offset, uint64_t len) {
  FsGuard g(lock_);
  if (seals_ & (vfs::SEAL_WRITE | vfs::SEAL_FUTURE_WRITE)) return Error::Permission;
  if (offset >= size_ || len == 0) return {};
  uint64_t end = len > size_ - offset ? size_ : offset + len;
  uint64_t archive_pages = (backing_size_ + PAGE - 1) / PAGE;
  // Mappings let go of the whole pages first (private copies stay, as
  // Linux's), so the pages can be freed: the next touch sees the hole.
  uint64_t whole_lo = (offset + PAGE - 1) / PAGE, whole_hi = end / PAGE;
  if (whole_lo < archive_pages) whole_lo = archive_pages;
  if (whole_lo < whole_hi) mm::backing_punching(*this, whole_lo * PAGE, whole_hi * PAGE);
  for (uint64_t pos = offset; pos < end;) {
    uint64_t index = pos / PAGE;
    size_t in = size_t(pos & (PAGE - 1));
    uint64_t k = min64(PAGE - in, end - pos);
    uint8_t* p = pages_.get(index);
    if (k == PAGE && index >= archive_pages) {
      if (p) {  // a whole page: give it back
        (void)pages_.set(index, nullptr);
        drop_page(p);
      }
    } else if (p || index < archive_pages) {
      // Part of a page, or a page of the archive (which must stop showing
      // through): zeros in a page of our own.
      if (!p) p = TRY(materialize_locked(index));
      __builtin_memset(p + in, 0, size_t(k));
    }
    pos += k;
  }
  mtime_ = ctime_ = vfs::fs_now_ns();
  return {};
}

Result<uint32_t> File::seals() {
  FsGuard g(lock_);
  return seals_;
}

Result<void> File::add_seals(uint32_t s) {
  FsGuard g(lock_);
  if (seals_ & vfs::SEAL_SEAL) return Error::Permission;
  seals_ |= s;
  return {};
}

void File::allow_sealing() {
  FsGuard g(lock_);
  seals_ &= ~vfs::SEAL_SEAL;
}

Result<void> File::set_backing(const uint8_t* data, size_t size) {
  FsGuard g(lock_);
  if (size_ || pages_.count() || backing_) return Error::Busy;
  backing_ = archive_ = data;
  backing_size_ = archive_size_ = size_ = size;
  return {};
}

void File::fill_size_locked(Attr& a) {
  lock_.assert_held();
  a.size = size_;
  uint64_t archive_pages = (backing_size_ + PAGE - 1) / PAGE;
  a.blocks = (pages_.count() + archive_pages - shadowed_) * (PAGE / 512);
}

Result<void> File::truncate_locked(uint64_t size) {
  lock_.assert_held();
  if (size > vfs::MAX_FILE_SIZE) return Error::FileTooBig;
  if ((seals_ & vfs::SEAL_SHRINK) && size < size_) return Error::Permission;
  if ((seals_ & vfs::SEAL_GROW) && size > size_) return Error::Permission;
  if (size < size_) {
    // Mappings lose the pages beyond the new end first (a later touch
    // is SIGBUS), then the pages go.
    mm::backing_shrinking(*this, size);
    uint64_t keep = (size + PAGE - 1) / PAGE;  // pages still (partly) inside
    pages_.truncate(keep, [&](uint8_t* p) { drop_page(p); });
    if (backing_size_ > size) backing_size_ = size;
    // Recount the pages that shadow the (shorter) archive range.
    uint64_t new_archive_pages = (backing_size_ + PAGE - 1) / PAGE;
    shadowed_ = 0;
    for (uint64_t i = 0; i < new_archive_pages; ++i)
      if (pages_.get(i)) ++shadowed_;
    // The tail of the last page must read as zeros if the file grows again.
    if (uint8_t* p = (size & (PAGE - 1)) ? pages_.get(size / PAGE) : nullptr)
      __builtin_memset(p + (size & (PAGE - 1)), 0, PAGE - (size & (PAGE - 1)));
    if (backing_size_ == 0) backing_ = nullptr;
  }
  size_ = size;
  return {};
}

void File::drop_page(uint8_t* p) {
  if (p >= archive_ && p < archive_ + archive_size_) return;
  rfs()->free_page(p);
}

Result<uint8_t*> File::materialize_locked(uint64_t index) {
  lock_.assert_held();
  if (uint8_t* p = pages_.get(index)) return p;
  uint64_t pos = index * PAGE;
  if (pos + PAGE <= backing_size_ && (reinterpret_cast<uintptr_t>(backing_ + pos) & (PAGE - 1)) == 0) {
    // A whole page of the archive, page aligned (the CLI's cpio writer
    // aligns the data of files of a page or more): it becomes the file's
    // page in place. The initrd stays reserved and mapped for good, and
    // these bytes belong to this file alone, so mappings, reads and writes
    // use it as any page of the file; drop_page never frees it.
    uint8_t* p = const_cast<uint8_t*>(backing_ + pos);
    if (!pages_.set(index, p).ok()) return Error::NoSpace;
    ++shadowed_;
    return p;
  }
  size_t from_archive = pos < backing_size_ ? size_t(min64(PAGE, backing_size_ - pos)) : 0;
  uint8_t* p = TRY(rfs()->alloc_page(from_archive != 0));
  if (from_archive) __builtin_memcpy(p, backing_ + pos, from_archive);
  __builtin_memset(p + from_archive, 0, PAGE - from_archive);
  if (!pages_.set(index, p).ok()) {
    rfs()->free_page(p);
    return Error::NoSpace;
  }
  if (from_archive) {
    ++shadowed_;  // never a hole: never the zero page in a mapping
  } else {
    if (index < fresh_lo_) fresh_lo_ = index;
    if (index + 1 > fresh_hi_) fresh_hi_ = index + 1;
  }
  return p;
}

void File::filled_locked() {
  lock_.assert_held();
  if (fresh_lo_ < fresh_hi_) mm::backing_filled(*this, fresh_lo_ * PAGE, fresh_hi_ * PAGE);
  fresh_lo_ = ~uint64_t(0);
  fresh_hi_ = 0;
}

}  // namespace capsule::ramfs
