#pragma once
// A generated file system (docs/pseudo-fs.md): the machinery under procfs
// and sysfs. A tree of static Entry descriptions; each directory lists
// fixed children and, optionally, numbered ones ("1", "42": pids, tids,
// descriptors) that a callback enumerates. Regular files are made into
// text at open (one consistent snapshot per open file, read at offsets into
// it); symlinks are computed at readlink, and may be "magic" (the walk
// follows them to a vnode, not through their text). Nothing here knows
// Linux: the callbacks that do live in linux/procfs_*.cc.
//
// Every node carries one 64-bit argument that callbacks get: numbered
// children set it to their number, other children inherit their parent's
// (so /proc/1/status is the status entry with argument 1); a directory
// with `nest` gives (its argument << 32) | number instead (/proc/1/fd/3:
// the fd entry with argument 1 << 32 | 3).
#include <cstddef>
#include <cstdint>

#include "fs/vfs.h"
#include "lib/format.h"

namespace capsule::procfs {

// A growable text buffer: what generators write into.
class Text final : public Sink {
 public:
  Text() = default;
  ~Text() { delete[] buf_; }
  Text(const Text&) = delete;
  Text& operator=(const Text&) = delete;

  void put(char c) override;
  void write(const char* s, size_t n) override;
  template <typename... Args>
  void f(StringView fmt, const Args&... args) {
    format(*this, fmt, args...);
  }
  void str(StringView s) { write(s.data(), s.size()); }

  const char* data() const { return buf_; }
  size_t size() const { return len_; }
  StringView view() const { return {buf_ ? buf_ : "", len_}; }
  // Out of memory at some point: the text is incomplete.
  bool failed() const { return failed_; }
  // Empties the text (and forgets an earlier failure).
  void take_and_free() {
    delete[] take();
    failed_ = false;
  }
  // Hands the buffer over (the caller delete[]s it).
  char* take() {
    char* b = buf_;
    buf_ = nullptr;
    len_ = cap_ = 0;
    return b;
  }

 private:
  bool grow(size_t need);
  char* buf_ = nullptr;
  size_t len_ = 0, cap_ = 0;
  bool failed_ = false;
};

struct Entry {
  const char* name = nullptr;  // unused for a numbered template
  uint32_t mode = 0;           // type and permission bits (vfs::MODE_*)

  // Regular files: the contents (made at open); `store` takes each write()
  // (nullptr: read-only).
  Result<void> (*show)(uint64_t arg, Text& out) = nullptr;
  Result<void> (*store)(uint64_t arg, StringView data) = nullptr;
  // Read-only files: opening for writing fails with AccessDenied (EACCES:
  // sysctl and sysfs files) instead of succeeding and failing each write
  // with Io (EIO: /proc/cpuinfo and friends, as Linux does for root).
  bool deny_write_open = false;

  // Files read and written at their offsets instead of a snapshot made at
  // open (/proc/<pid>/mem: the offset is an address). Each call gets the
  // argument; read_at returns 0 at the end, write_at how much it took.
  Result<size_t> (*read_at)(uint64_t arg, uint64_t offset, IoBuffer& buf) = nullptr;
  Result<size_t> (*write_at)(uint64_t arg, uint64_t offset, IoBuffer& buf) = nullptr;

  // Symlinks: the target text; `follow`, if set, the vnode a walk through
  // the link lands on (magic links); `target`, if set, a walk lands on a
  // node of this entry with the link's argument (/proc/<pid>/ns/*).
  Result<void> (*link)(uint64_t arg, Text& out) = nullptr;
  Result<vfs::VnodeRef> (*follow)(uint64_t arg) = nullptr;
  const Entry* target = nullptr;

  // The inode number (nullptr: a hash of the entry and the argument), for
  // nodes whose number is an ABI fact (a namespace's).
  uint64_t (*ino)(uint64_t arg) = nullptr;

  // The owner its attributes report (nullptr: the parent's, and root at
  // the top): /proc/<pid> and everything under it belong to the process's
  // user, which the permission checks then see (fs/vfs/permission.h).
  void (*owner)(uint64_t arg, uint32_t* uid, uint32_t* gid) = nullptr;

  // Directories: fixed children first, then numbered ones.
  const Entry* children = nullptr;
  size_t nchildren = 0;
  const Entry* numbered = nullptr;  // what each numbered child is
  const char* prefix = "";          // numbered names: prefix + number ("cpu3")
  // Up to `cap` numbers >= from, ascending; returns how many.
  size_t (*list)(uint64_t arg, uint64_t from, uint64_t* out, size_t cap) = nullptr;
  bool (*exists)(uint64_t arg, uint64_t n) = nullptr;
  // Numbered children get (arg << 32) | n instead of n, so they still know
  // their parent's argument (/proc/<pid>/fd/<n>: the pid and the
  // descriptor). Only for numbers and arguments below 2^32.
  bool nest = false;
  // A condition on the entry itself (nullptr: always there).
  bool (*present)(uint64_t arg) = nullptr;
};

template <size_t N>
constexpr size_t count_of(const Entry (&)[N]) {
  return N;
}

class GenFs final : public vfs::FileSystem {
 public:
  // name: "proc", "sysfs". `root` describes the top directory; `magic` is
  // statfs's f_type (PROC_SUPER_MAGIC, SYSFS_MAGIC).
  static Result<RefPtr<GenFs>> create(const char* name, const Entry* root, uint64_t magic = 0);

  const char* name() const override { return name_; }
  vfs::VnodeRef root() override;
  void shutdown() override;
  // Names come and go without the Vfs (descriptors, threads).
  bool cache_names() const override { return false; }
  // No space: statfs gives the type and zeros, as Linux's proc and sysfs.
  vfs::FsStat statfs() override {
    vfs::FsStat s;
    s.magic = magic_;
    return s;
  }

  int64_t created_ns() const { return created_ns_; }

 private:
  GenFs(const char* name, const Entry* root) : name_(name), root_entry_(root) {}
  ~GenFs() override = default;
  const char* name_;
  const Entry* root_entry_;
  uint64_t magic_ = 0;
  vfs::VnodeRef root_;
  int64_t created_ns_ = 0;
};

// Decimal text of n (for numbered names); returns the length.
size_t decimal(uint64_t n, char* out);
// The number a numbered name spells, or false ("01", "", overflow).
bool parse_decimal(StringView s, uint64_t* out);

}  // namespace capsule::procfs
