#pragma once
// Open file descriptions and descriptor tables (docs/vfs.md).
//
// An OpenFile is what open() creates: a vnode, an offset and status flags.
// dup(), fork() and SCM_RIGHTS share one OpenFile between descriptors, so
// they share its offset and flags (open(2), "open file description"). The
// FdTable maps small integers to OpenFiles, with a close-on-exec bit per
// descriptor (not per description: fcntl(2) F_SETFD).
#include <cstdint>

#include "fs/vfs.h"
#include "lib/thread_annotations.h"

namespace capsule::vfs {

struct Cred;  // fs/vfs/permission.h

enum class Whence : uint8_t { Set, Current, End };

class OpenFile {
 public:
  // Status flags (F_GETFL/F_SETFL); the access mode is fixed at open.
  static constexpr uint32_t READ = OpenHow::READ;
  static constexpr uint32_t WRITE = OpenHow::WRITE;
  static constexpr uint32_t APPEND = OpenHow::APPEND;
  static constexpr uint32_t NONBLOCK = OpenHow::NONBLOCK;
  static constexpr uint32_t PATH = OpenHow::PATH;
  static constexpr uint32_t SETTABLE = APPEND | NONBLOCK;  // what F_SETFL may change

  static Result<FileRef> create(VnodeRef vnode, uint32_t flags);

  Vnode& vnode() const { return *vnode_; }
  VnodeRef vnode_ref() const { return vnode_; }
  uint32_t flags() const { return flags_.load(std::memory_order_relaxed); }
  // F_SETFL: only SETTABLE bits change.
  void set_flags(uint32_t flags);
  bool readable() const { return flags() & READ; }
  bool writable() const { return flags() & WRITE; }

  // read(2)/write(2): at the shared offset, which moves by what moved.
  // Calls on one description are serialized (Linux's f_pos_lock), so two
  // threads reading through one descriptor never get the same bytes. A
  // stream (Vnode::is_stream) has no offset: these hand the transfer to
  // its read_stream/write_stream, unserialized (they may block).
  Result<size_t> read(IoBuffer& buf);
  // append: at the end even without APPEND (pwritev2's RWF_APPEND).
  Result<size_t> write(IoBuffer& buf, bool append = false);
  // pread(2)/pwrite(2): at `offset`, the shared one untouched. (With
  // APPEND, Linux's pwrite appends anyway; so does this.) Invalid on a
  // stream (the adapter answers ESPIPE before asking).
  Result<size_t> pread(IoBuffer& buf, uint64_t offset);
  // append: true/false override the APPEND flag (RWF_APPEND/RWF_NOAPPEND).
  Result<size_t> pwrite(IoBuffer& buf, uint64_t offset, int append = -1);
  // lseek(2). Invalid for a negative result; directories rewind only to 0
  // or a cookie returned earlier.
  Result<uint64_t> seek(int64_t offset, Whence whence);
  uint64_t offset();
  // getdents: entries from the offset (a readdir cookie), which moves past
  // what the sink accepted. Returns the number of entries accepted.
  Result<size_t> readdir(DirSink& sink);

  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release();
  uint32_t ref_count() const { return refs_.load(std::memory_order_relaxed); }

  // The directory and name this file was opened by, kept while anything
  // watches (fs/vfs/notify.h): its directory's watches hear of reads,
  // writes and the close. Set once, before the file is shared.
  const NotePath* note_path() const { return note_; }
  void set_note_path(NotePath* p) { note_ = p; }
  // fchmod, fchown, ftruncate, futimens: the vnode's setattr after the
  // permission rules (vfs::setattr_checked; `cred` null: the kernel), and
  // the events it makes.
  Result<void> setattr(const SetAttr& a, const Cred* cred);

  // For linux/: Linux flag bits to echo in F_GETFL (O_LARGEFILE, ...).
  std::atomic<uint32_t> abi_flags{0};

  // Set by whoever attaches state to this description that must be
  // dropped when it goes away (OFD and flock locks): the last release
  // then calls on_last_release(*this) before freeing it.
  std::atomic<bool> has_locks{false};
  static inline std::atomic<void (*)(OpenFile&)> on_last_release{nullptr};

  // Signal-driven I/O state (fcntl F_SETOWN/F_SETSIG, O_ASYNC), the Linux
  // layer's; the last release calls on_async_release(*this) to drop it.
  std::atomic<void*> async{nullptr};
  static inline std::atomic<void (*)(OpenFile&)> on_async_release{nullptr};

 private:
  OpenFile(VnodeRef v, uint32_t flags) : vnode_(static_cast<VnodeRef&&>(v)), flags_(flags) {}
  ~OpenFile();

  const VnodeRef vnode_;
  NotePath* note_ = nullptr;  // owned
  std::atomic<uint32_t> flags_;
  std::atomic<uint32_t> refs_{1};
  FsMutex pos_lock_;
  uint64_t pos_ GUARDED_BY(pos_lock_) = 0;
};

// A process's descriptors. Lowest free number first (POSIX), limited to
// `limit` descriptors (RLIMIT_NOFILE's soft limit; the caller owns the
// policy). Thread-safe; files are released outside the table's lock, since
// the last close of a file may do real work.
class FdTable {
 public:
  static constexpr unsigned DEFAULT_LIMIT = 1024;  // Linux's default soft limit

  explicit FdTable(unsigned limit = DEFAULT_LIMIT);
  ~FdTable();
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;

  // The lowest free descriptor >= min_fd. TooManyFiles (EMFILE) when none is
  // below the limit.
  Result<int> install(FileRef file, bool cloexec = false, int min_fd = 0);
  // BadFd if fd is not open.
  Result<FileRef> get(int fd);
  Result<void> close(int fd);

  // dup(2): lowest free descriptor, close-on-exec clear.
  Result<int> dup(int fd);
  // fcntl F_DUPFD / F_DUPFD_CLOEXEC: lowest free >= min_fd (Invalid if
  // min_fd is negative or not below the limit).
  Result<int> dup_from(int fd, int min_fd, bool cloexec);
  // dup2(2): new_fd becomes a copy of old_fd, closing what it was (in one
  // step: no window where new_fd is free). old == new: returns new_fd if
  // old_fd is open. BadFd for a closed old_fd or a new_fd outside
  // [0, limit).
  Result<int> dup2(int old_fd, int new_fd);
  // dup3(2): as dup2, but old == new is Invalid and close-on-exec is set
  // as asked.
  Result<int> dup3(int old_fd, int new_fd, bool cloexec);

  Result<bool> cloexec(int fd);
  Result<void> set_cloexec(int fd, bool on);

  // close_range(2): first..last inclusive (last may be huge); with
  // `cloexec_only`, marks them close-on-exec instead (CLOSE_RANGE_CLOEXEC).
  // Invalid if first > last.
  Result<void> close_range(unsigned first, unsigned last, bool cloexec_only);
  // execve: closes every close-on-exec descriptor.
  void close_on_exec();

  // fork: a copy sharing the OpenFiles (same offsets), with the same
  // close-on-exec bits. NoMemory.
  Result<FdTable*> clone();

  unsigned limit();
  // setrlimit(RLIMIT_NOFILE). Lowering it does not close anything; it only
  // refuses new descriptors at or above it.
  void set_limit(unsigned limit);
  unsigned count();  // open descriptors
  // The lowest open descriptor >= from, or -1 (procfs lists /proc/self/fd).
  int next_open(int from);

 private:
  // Closes the open descriptors in first..last (only the close-on-exec ones
  // when asked), releasing the files outside the lock.
  void close_where(unsigned first, unsigned last, bool only_cloexec);
  struct Slot {
    OpenFile* file = nullptr;  // owns one reference
    bool cloexec = false;
  };
  // Room for descriptors [0, n). Under lock_.
  Result<void> grow_locked(unsigned n) REQUIRES(lock_);
  int lowest_free_locked(unsigned from) REQUIRES(lock_);

  FsMutex lock_;
  Slot* slots_ GUARDED_BY(lock_) PT_GUARDED_BY(lock_) = nullptr;
  unsigned capacity_ GUARDED_BY(lock_) = 0;
  unsigned limit_ GUARDED_BY(lock_);
  unsigned count_ GUARDED_BY(lock_) = 0;
  unsigned first_free_hint_ GUARDED_BY(lock_) = 0;  // no free descriptor below it
};

}  // namespace capsule::vfs
