#pragma once
// The virtual file system (docs/vfs.md).
//
//   Vfs            one namespace: mount table + dentry cache + path walk, and
//                  the path-level operations (open, mkdir, unlink, rename...)
//                  with the checks POSIX asks for, done once for every FS
//   FileSystem     one mounted instance (ramfs, later devfs, procfs, ext4)
//   Vnode          a file of any type in one FileSystem; the FS subclasses it
//                  and overrides the operations its files support
//   OpenFile       an open file description (fs/file.h)
//   FdTable        a process's descriptors (fs/file.h)
//
// Everything here speaks Capsule's types: modes use the POSIX st_mode bit
// values (they are also cpio's and every Unix's), errors are capsule::Error.
// linux/ translates flags, structures and errno at the boundary.
//
// Lifetimes: vnodes, file systems and open files carry intrusive reference
// counts and are held through RefPtr; the last release frees them. A vnode
// holds its FileSystem, so a file system outlives every vnode of it.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/io_buffer.h"
#include "core/mm/vma.h"
#include "fs/vfs/permission.h"
#include "fs/vfs/platform.h"
#include "fs/vfs/xattr.h"
#include "lib/intrusive_list.h"
#include "lib/ref_ptr.h"
#include "lib/result.h"
#include "lib/string_view.h"
#include "lib/thread_annotations.h"

namespace capsule {
class Pollable;  // core/poll.h
}

namespace capsule::vfs {

// POSIX limits as Linux has them (PATH_MAX, NAME_MAX, MAXSYMLINKS): a path
// of MAX_PATH bytes or more (its NUL included) and a component of more than
// MAX_NAME bytes are NameTooLong; a walk that follows more than MAX_SYMLINKS
// links is Loop.
constexpr size_t MAX_PATH = 4096;
constexpr size_t MAX_NAME = 255;
constexpr int MAX_SYMLINKS = 40;
// Largest file offset + 1 (Linux's MAX_LFS_FILESIZE on 64-bit).
constexpr uint64_t MAX_FILE_SIZE = uint64_t(INT64_MAX);

// st_mode bits (own names: S_IF* are macros on the host).
constexpr uint32_t MODE_TYPE = 0170000;
constexpr uint32_t MODE_SOCKET = 0140000;
constexpr uint32_t MODE_SYMLINK = 0120000;
constexpr uint32_t MODE_REGULAR = 0100000;
constexpr uint32_t MODE_BLOCK = 0060000;
constexpr uint32_t MODE_DIR = 0040000;
constexpr uint32_t MODE_CHAR = 0020000;
constexpr uint32_t MODE_FIFO = 0010000;
constexpr uint32_t MODE_PERM = 07777;

// A file's type. The values are mode >> 12, which are also the d_type
// values readdir reports on every Unix (DT_REG == S_IFREG >> 12, ...).
enum class VType : uint8_t {
  Unknown = 0,
  Fifo = 1,
  Char = 2,
  Dir = 4,
  Block = 6,
  Regular = 8,
  Symlink = 10,
  Socket = 12,
};
constexpr VType type_of_mode(uint32_t mode) { return VType((mode & MODE_TYPE) >> 12); }

// stat(2)'s fields, in Capsule's units.
struct Attr {
  uint64_t dev = 0;        // the file system (FileSystem::dev())
  uint64_t ino = 0;
  uint32_t mode = 0;       // type and permission bits
  uint32_t nlink = 0;
  uint32_t uid = 0, gid = 0;
  uint64_t rdev = 0;       // device nodes: (major << 32) | minor
  uint64_t size = 0;       // bytes; a symlink's target length
  uint64_t blocks = 0;     // 512-byte units of memory or disk in use
  uint32_t blksize = 4096; // preferred I/O size
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;  // since the epoch
};

// setattr: chmod, chown, truncate, utimensat in one operation. ctime moves
// to now whenever anything changes (POSIX).
struct SetAttr {
  static constexpr uint32_t MODE = 1 << 0;   // permission bits only
  static constexpr uint32_t UID = 1 << 1;
  static constexpr uint32_t GID = 1 << 2;
  static constexpr uint32_t SIZE = 1 << 3;   // truncate
  static constexpr uint32_t ATIME = 1 << 4;  // to atime_ns
  static constexpr uint32_t MTIME = 1 << 5;  // to mtime_ns
  static constexpr uint32_t ATIME_NOW = 1 << 6;
  static constexpr uint32_t MTIME_NOW = 1 << 7;
  uint32_t mask = 0;
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  int64_t atime_ns = 0, mtime_ns = 0;
};

// statfs(2)'s figures. `magic` names the file system's type with the
// number Linux uses for it (TMPFS_MAGIC...), since that is what programs
// compare f_type against.
struct FsStat {
  uint64_t magic = 0;
  uint64_t bsize = 4096;  // f_bsize and f_frsize
  uint64_t blocks = 0, bfree = 0, bavail = 0;
  uint64_t files = 0, ffree = 0;
  uint64_t namelen = MAX_NAME;
};

// memfd seals (fcntl(2) F_ADD_SEALS): the bit values are Linux's F_SEAL_*,
// which every libc exposes unchanged.
constexpr uint32_t SEAL_SEAL = 1;    // no more seals
constexpr uint32_t SEAL_SHRINK = 2;  // size may not go down
constexpr uint32_t SEAL_GROW = 4;    // size may not go up
constexpr uint32_t SEAL_WRITE = 8;   // contents may not change
constexpr uint32_t SEAL_FUTURE_WRITE = 16;

// Who creates a file and how it starts out.
struct CreateArgs {
  uint32_t mode = 0;     // type (create: regular or special) and permissions
  uint32_t uid = 0, gid = 0;
  uint64_t rdev = 0;     // device nodes
};

// Where read() puts bytes and write() takes them from: the kernel's one
// buffer type (core/io_buffer.h), kernel memory or the application's.
using capsule::IoBuffer;
using capsule::KernelBuffer;

// readdir's consumer. emit() gets one entry and the cookie that resumes
// after it; it returns false when it has no room, and that entry is then
// offered again on the next call.
class DirSink {
 public:
  virtual bool emit(StringView name, uint64_t ino, VType type, uint64_t next_cookie) = 0;

 protected:
  ~DirSink() = default;
};

class Vnode;
class FileSystem;
class OpenFile;
struct Mount;
struct Watch;     // fs/vfs/notify.h
struct NotePath;  // fs/vfs/notify.h
using VnodeRef = RefPtr<Vnode>;
using FsRef = RefPtr<FileSystem>;

// A dentry cache entry: `name` in directory `parent` is `child` (nullptr: a
// negative entry, the name is known not to exist). Holds a reference on
// both. Owned by the Vfs's DentryCache (fs/vfs/dcache.h).
struct Dentry {
  Vnode* parent = nullptr;
  Vnode* child = nullptr;
  Dentry* hash_next = nullptr;
  uint32_t hash = 0;
  uint16_t len = 0;
  ListNode lru;      // most recently used first
  ListNode sibling;  // on parent->dentries_
  char name[MAX_NAME + 1];
};

// One file of a file system. Directory operations are called on the
// directory with a single component (never "." or "..", except lookup("..")
// which the FS answers for its own tree); the Vfs has already checked the
// name's length and the path-level rules. Defaults fail the way POSIX says
// a file of the wrong type fails.
//
// Locking is the FS's business: every operation may be called concurrently
// with any other on the same or other vnodes.
class Vnode : public mm::VmBacking {
 public:
  Vnode(FileSystem* fs, uint64_t ino, uint32_t mode);
  Vnode(const Vnode&) = delete;
  Vnode& operator=(const Vnode&) = delete;

  FileSystem* fs() const { return fs_; }
  uint64_t ino() const { return ino_; }
  VType type() const { return type_; }
  bool is_dir() const { return type_ == VType::Dir; }
  bool is_regular() const { return type_ == VType::Regular; }
  bool is_symlink() const { return type_ == VType::Symlink; }

  // Intrusive reference count (also mm::VmBacking's: each VMA mapping the
  // file holds one). The last release destroys the vnode.
  void retain() override { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() override;
  uint32_t ref_count() const { return refs_.load(std::memory_order_relaxed); }

  // --- directories ---
  // The child named `name`, or NotFound. ".." is the parent (the FS root's
  // is itself; a removed directory's is NotFound).
  virtual Result<VnodeRef> lookup(StringView name);
  // Regular files and device/FIFO/socket nodes (type in args.mode).
  virtual Result<VnodeRef> create(StringView name, const CreateArgs& args);
  virtual Result<VnodeRef> mkdir(StringView name, const CreateArgs& args);
  // O_TMPFILE: a regular file with no name on this directory's FS (nlink
  // 0); `linkable`: link() may give it a name later. NotSupported by
  // default.
  virtual Result<VnodeRef> tmpfile(const CreateArgs& args, bool linkable) { return Error::NotSupported; }
  virtual Result<VnodeRef> symlink(StringView name, StringView target, const CreateArgs& args);
  // A new name for `target` (same FS, not a directory: the Vfs checked).
  virtual Result<void> link(StringView name, Vnode& target);
  // Non-directories only (IsDir otherwise).
  virtual Result<void> unlink(StringView name);
  // Empty directories only (NotDir, NotEmpty otherwise).
  virtual Result<void> rmdir(StringView name);
  // Moves `name` to `new_dir`/`new_name` (same FS), replacing what is there
  // if the types allow (rename(2)); Invalid when a directory would move
  // into its own subtree.
  virtual Result<void> rename(StringView name, Vnode& new_dir, StringView new_name, bool no_replace);
  // Entries from `cookie` on (0: the start, "." and ".." included).
  virtual Result<void> readdir(uint64_t cookie, DirSink& sink);

  // --- symlinks ---
  // Copies up to cap bytes of the target (no NUL); returns its length.
  virtual Result<size_t> readlink(char* buf, size_t cap);
  // A "magic" link (procfs's /proc/self/fd/N, exe, cwd): the vnode a walk
  // that follows the link continues from, instead of walking the text
  // readlink gives (which may not be a path: "pipe:[12]"). NotSupported,
  // the default, for ordinary symlinks.
  virtual Result<VnodeRef> follow_link();

  // --- open ---
  // The vnode an open of this one hands to the new open file description
  // (how: OpenHow flags): itself by default; a per-open object for files
  // whose contents are made at open (procfs). May refuse (Permission).
  virtual Result<VnodeRef> open_as(uint32_t how);

  // --- regular files ---
  virtual Result<size_t> read(uint64_t offset, IoBuffer& buf);
  // Writes at *offset, or at the end if `append` (decided under the file's
  // lock, so concurrent appends never overlap); *offset is left at the end
  // of what was written. A short write happens only on an error after some
  // bytes went in (NoSpace, Fault).
  virtual Result<size_t> write(uint64_t* offset, IoBuffer& buf, bool append);
  virtual Result<void> truncate(uint64_t size);
  virtual Result<void> fsync() { return {}; }
  // fdatasync(2): the data and what reading it back needs (size, block
  // map), not the times; fsync unless the file system knows better.
  virtual Result<void> fdatasync() { return fsync(); }
  // fallocate(2) mode 0 / KEEP_SIZE: backs [offset, offset + len) with
  // storage (NoSpace when there is none) and, unless keep_size, extends
  // the size to cover it. NotSupported by default.
  virtual Result<void> allocate(uint64_t offset, uint64_t len, bool keep_size) { return Error::NotSupported; }
  // FALLOC_FL_PUNCH_HOLE: [offset, offset + len) reads as zeros and holds
  // no storage afterwards; the size does not change.
  virtual Result<void> punch_hole(uint64_t offset, uint64_t len) { return Error::NotSupported; }
  // lseek(2) SEEK_DATA (hole false) / SEEK_HOLE (true) from `offset` of a
  // regular file: where the next data or hole starts (the end of the file
  // counts as a hole); NoDeviceOrAddress (ENXIO) at or past the end, or
  // when no data follows. NotSupported: the file system knows no holes
  // (the caller treats the whole file as data).
  virtual Result<uint64_t> seek_data(uint64_t offset, bool hole) { return Error::NotSupported; }
  // memfd seals (SEAL_*): Invalid where the FS has none (F_GET_SEALS'
  // EINVAL); add_seals: Permission once SEAL_SEAL is set.
  virtual Result<uint32_t> seals() { return Error::Invalid; }
  virtual Result<void> add_seals(uint32_t seals) { return Error::Invalid; }

  // --- streams (docs/vfs.md "Streams") ---
  // A stream is an object with no offset and no contents to address:
  // pipe ends, FIFOs, the console and ttys, eventfd, timerfd, signalfd,
  // epoll, later sockets. Every descriptor is an OpenFile over a vnode;
  // OpenFile::read/write hand a stream's transfers to read_stream and
  // write_stream, and the callers above ask these hooks instead of telling
  // streams and files apart by type. pread/pwrite/lseek on a stream fail
  // (ESPIPE) unless stream_seeks() says otherwise.
  virtual bool is_stream() const { return false; }
  // read(2)/write(2) (and readv, writev): `file` carries O_NONBLOCK. The
  // default fails with Invalid (EINVAL), as Linux does for objects that
  // do not read or write.
  virtual Result<size_t> read_stream(IoBuffer& buf, OpenFile& file) { return Error::Invalid; }
  virtual Result<size_t> write_stream(IoBuffer& buf, OpenFile& file) { return Error::Invalid; }
  // What poll/select/epoll wait on; nullptr: always readable and writable
  // (regular files, directories, objects with nothing to wait for).
  virtual Pollable* pollable() { return nullptr; }
  // ioctl(2) requests of the object's own (FIONREAD, TCGETS...): the
  // call's result, or an error; NotSupported means "not a request of this
  // object" (the adapter's ENOTTY). The adapter handles the requests every
  // descriptor answers (FIOCLEX, FIONBIO...) before asking.
  virtual Result<int64_t> ioctl(OpenFile& file, uint64_t cmd, uint64_t arg) { return Error::NotSupported; }
  // lseek(2) on a stream: false fails (ESPIPE); true is a no-op that
  // returns 0 (/dev/null, and eventfd/timerfd/epoll as Linux's
  // noop_llseek).
  virtual bool stream_seeks() const { return false; }
  // A write that fails with BrokenPipe raises SIGPIPE (pipes, sockets).
  virtual bool sigpipe() const { return false; }
  // What /proc/<pid>/fd/N shows for an object Linux keeps in its
  // anonymous inode file system: "anon_inode:[<this>]" ("eventfd",
  // "eventpoll", "timerfd"...). Pipes and devices are named otherwise.
  virtual const char* anon_name() const { return "unknown"; }
  // Tells kinds of objects apart (no RTTI): the address of a static of the
  // class, for calls that take one kind only (timerfd_settime, signalfd).
  virtual const void* kind() const { return nullptr; }

  // --- every type ---
  virtual Result<Attr> getattr() = 0;
  virtual Result<void> setattr(const SetAttr& a) = 0;

  // --- extended attributes (docs/vfs.md "Extended attributes") ---
  // `name` is whole ("user.x") and passed xattr_check (fs/vfs/xattr.h).
  // The defaults are a file system without attributes: get, set and
  // remove fail with OpNotSupported (EOPNOTSUPP) and the list is empty,
  // as Linux answers for procfs.
  // getxattr: the value's size, copied into buf unless cap is 0; NoData
  // when absent, Range when cap (not 0) is too small.
  virtual Result<size_t> getxattr(StringView name, void* buf, size_t cap) { return Error::OpNotSupported; }
  // Exists / NoData per `how`; NoSpace past the file's bound.
  virtual Result<void> setxattr(StringView name, const void* value, size_t size, XattrSet how) {
    return Error::OpNotSupported;
  }
  // The names, each NUL-terminated (xattr.h's XattrStore::list); trusted.*
  // only if `trusted`.
  virtual Result<size_t> listxattr(char* buf, size_t cap, bool trusted) { return size_t(0); }
  virtual Result<void> removexattr(StringView name) { return Error::OpNotSupported; }

  // mmap's page hook (mm::VmBacking): the physical page holding byte
  // `offset` (page aligned), materialized if needed and kept by the file;
  // Range past the end. Shared mappings map it; private ones copy it.
  Result<uint64_t> page(uint64_t offset) override;
  // msync(2) of a shared mapping: the file's fsync (what reaches a store).
  Result<void> sync() override { return fsync(); }
  bool is_file() const override { return true; }

 protected:
  virtual ~Vnode();

 private:
  friend class Vfs;
  friend class DentryCache;
  friend struct NotifyCore;

  FileSystem* const fs_;
  const uint64_t ino_;
  const VType type_;
  std::atomic<uint32_t> refs_{1};

  // Owned by the Vfs, under its mount lock.
  // mounted_ is also read without the lock, as a hint, on every walk step.
  std::atomic<Mount*> mounted_{nullptr};  // a file system is mounted on this directory
  Mount* root_of_ = nullptr;              // this is the root of that mount
  // Owned by the DentryCache, under its lock: this directory's entries, and
  // the state that keeps a lookup racing with a change of this directory
  // from caching a stale answer (fs/vfs/dcache.cc).
  IntrusiveList<Dentry, &Dentry::sibling> dentries_;
  uint32_t dc_busy_ = 0;
  uint64_t dc_gen_ = 0;
  // Owned by fs/vfs/notify.cc, under its lock: the watches on this file
  // and the union of their masks (read without the lock by every hook);
  // doomed: no name left, DELETE_SELF waits for the last close.
  Watch* watches_ = nullptr;
  std::atomic<uint32_t> watch_mask_{0};
  bool note_doomed_ = false;
};

// One instance of a file system (one ramfs, one ext4 volume).
class FileSystem {
 public:
  FileSystem() = default;
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;

  virtual const char* name() const = 0;  // "ramfs"
  virtual VnodeRef root() = 0;
  // False for file systems whose names change behind the Vfs's back
  // (procfs: /proc/self/fd/N comes and goes with the descriptor): the
  // dentry cache then keeps nothing for their directories.
  virtual bool cache_names() const { return true; }
  // statfs(2). The default reports a type of 0 and no space figures.
  virtual FsStat statfs() { return {}; }
  // The last mount of it went away: drop the references the FS holds on
  // its own tree (open files keep what they hold).
  virtual void shutdown() {}

  // st_dev of its files; unique per instance.
  uint64_t dev() const { return dev_; }

  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release();

 protected:
  virtual ~FileSystem() = default;

 private:
  static uint64_t next_dev();
  std::atomic<uint32_t> refs_{1};
  uint64_t dev_ = next_dev();
};

// The working position of a walk: the process's root (chroot) and working
// directory. The caller holds references on both for the call. `cred`:
// who walks (fs/vfs/permission.h): every walk and path operation checks
// its permissions; nullptr is the kernel, which is refused nothing.
struct PathContext {
  Vnode* root;
  Vnode* cwd;
  const Cred* cred = nullptr;
};

// Walk flags.
constexpr unsigned WALK_FOLLOW = 1 << 0;     // follow a symlink in the last component
constexpr unsigned WALK_DIRECTORY = 1 << 1;  // the result must be a directory
// Restrictions (openat2(2)'s RESOLVE_*): Loop when a symlink would be
// followed; CrossDevice when the walk would leave the starting file
// system, or (BENEATH) start from "/", follow an absolute link or climb
// above the starting directory with "..". A chroot-like "IN_ROOT" needs
// no flag: the caller makes the starting directory the context's root.
constexpr unsigned WALK_NO_SYMLINKS = 1 << 2;
constexpr unsigned WALK_NO_XDEV = 1 << 3;
constexpr unsigned WALK_BENEATH = 1 << 4;
constexpr unsigned WALK_RESTRICT = WALK_NO_SYMLINKS | WALK_NO_XDEV | WALK_BENEATH;

// The end of a walk that stops before the last component (create, unlink,
// rename): the directory, and the last component as written.
struct ParentPath {
  enum class Kind : uint8_t { Normal, Dot, DotDot, Root };
  VnodeRef dir;
  Kind kind = Kind::Normal;
  bool trailing_slash = false;  // "a/b/": the last component must be a directory
  uint16_t len = 0;
  char buf[MAX_NAME + 1];
  StringView name() const { return {buf, len}; }
};

// How open() opens (linux/ maps O_* onto these).
struct OpenHow {
  static constexpr uint32_t READ = 1 << 0;
  static constexpr uint32_t WRITE = 1 << 1;
  static constexpr uint32_t CREATE = 1 << 2;
  static constexpr uint32_t EXCL = 1 << 3;
  static constexpr uint32_t TRUNC = 1 << 4;
  static constexpr uint32_t DIRECTORY = 1 << 5;
  static constexpr uint32_t NOFOLLOW = 1 << 6;
  static constexpr uint32_t APPEND = 1 << 7;
  static constexpr uint32_t NONBLOCK = 1 << 8;
  static constexpr uint32_t PATH = 1 << 9;  // O_PATH: a handle, no I/O
  static constexpr uint32_t NOATIME = 1 << 10;  // O_NOATIME: the owner's (or CAP_FOWNER's) only
  uint32_t flags = READ;
  unsigned walk = 0;  // WALK_NO_SYMLINKS / NO_XDEV / BENEATH for every walk the open makes
  CreateArgs create;  // mode (umask applied by the caller), owner
};

class DentryCache;
using FileRef = RefPtr<OpenFile>;

struct VfsStats {
  uint64_t dcache_hits = 0, dcache_misses = 0, dcache_entries = 0;
  uint64_t mounts = 0;
};

class Vfs {
 public:
  // dcache_capacity: entries kept (least recently used go first).
  explicit Vfs(size_t dcache_capacity = 8192);
  ~Vfs();
  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;

  // --- mounts ---
  // The first mount: `fs` becomes "/". Busy if there is one.
  Result<void> mount_root(FsRef fs);
  // Mounts `fs` on the directory `path` names (stacking on whatever is
  // mounted there already, as Linux does).
  Result<void> mount(FsRef fs, const PathContext& ctx, StringView path);
  // `path` must name the root of a mount: Invalid otherwise, Busy for "/"
  // or when something is mounted below it.
  Result<void> unmount(const PathContext& ctx, StringView path);
  VnodeRef root();

  // --- path walk ---
  Result<VnodeRef> resolve(const PathContext& ctx, StringView path, unsigned flags);
  // resolve, also telling the directory and name the final file was
  // reached by (for the directory's watches, fs/vfs/notify.h); `where`
  // stays empty when the path ends in ".", ".." or a mount's root.
  Result<VnodeRef> resolve_noted(const PathContext& ctx, StringView path, unsigned flags, NotePath* where);
  // walk: restriction flags only (WALK_RESTRICT).
  Result<void> resolve_parent(const PathContext& ctx, StringView path, ParentPath& out, unsigned walk = 0);
  // One component in a directory, through the dentry cache; no mounts
  // crossed, no symlinks followed. For "..", see the walk.
  Result<VnodeRef> lookup(Vnode& dir, StringView name);

  // --- operations on paths, with POSIX's checks ---
  Result<FileRef> open(const PathContext& ctx, StringView path, const OpenHow& how);
  Result<void> mkdir(const PathContext& ctx, StringView path, const CreateArgs& args);
  // mknod: regular, FIFO, socket and device nodes.
  Result<void> mknod(const PathContext& ctx, StringView path, const CreateArgs& args);
  Result<void> symlink(StringView target, const PathContext& ctx, StringView path, const CreateArgs& args);
  Result<void> unlink(const PathContext& ctx, StringView path);
  Result<void> rmdir(const PathContext& ctx, StringView path);
  // rename and link take a context per path (renameat2/linkat: each side
  // its own dirfd); the one-context forms are for callers with one.
  Result<void> rename(const PathContext& from_ctx, StringView from, const PathContext& to_ctx, StringView to,
                      bool no_replace = false);
  Result<void> rename(const PathContext& ctx, StringView from, StringView to, bool no_replace = false) {
    return rename(ctx, from, ctx, to, no_replace);
  }
  // follow: AT_SYMLINK_FOLLOW for the existing name.
  Result<void> link(const PathContext& from_ctx, StringView existing, const PathContext& to_ctx,
                    StringView new_path, bool follow = false);
  Result<void> link(const PathContext& ctx, StringView existing, StringView new_path, bool follow = false) {
    return link(ctx, existing, ctx, new_path, follow);
  }
  // linkat(2) with AT_EMPTY_PATH: a name for an open file (an O_TMPFILE
  // file too, if its FS allows).
  Result<void> link_vnode(Vnode& target, const PathContext& ctx, StringView new_path);
  // O_TMPFILE: an unnamed regular file in the directory `path` names,
  // opened with how.flags. NotSupported where the FS cannot.
  Result<FileRef> open_tmpfile(const PathContext& ctx, StringView path, const OpenHow& how);
  Result<size_t> readlink(const PathContext& ctx, StringView path, char* buf, size_t cap);
  Result<Attr> stat(const PathContext& ctx, StringView path, bool follow);
  Result<void> setattr(const PathContext& ctx, StringView path, const SetAttr& a, bool follow);
  // The absolute path of a directory as seen from ctx.root (getcwd), NUL
  // terminated; returns the length without the NUL. Range if cap is too
  // small, NotFound for a removed directory.
  Result<size_t> path_of(const PathContext& ctx, Vnode& dir, char* buf, size_t cap);

  VfsStats stats();
  // Forgets every cached name (tests; memory pressure later).
  void drop_caches();

 private:
  Result<VnodeRef> walk(const PathContext& ctx, StringView path, unsigned flags, ParentPath* parent,
                        NotePath* where = nullptr);
  Result<VnodeRef> dotdot(const PathContext& ctx, VnodeRef cur);
  VnodeRef cross_down(VnodeRef v);
  Result<VnodeRef> open_create(const PathContext& ctx, StringView path, const OpenHow& how, NotePath* where,
                               bool* created);
  Result<void> make_node(const PathContext& ctx, StringView path, const CreateArgs& args, StringView target);
  // Brackets a change of directory `dir`'s names for the dentry cache.
  void begin_change(Vnode& dir);
  void end_change(Vnode& dir, StringView name);
  bool is_mount_point(Vnode& v);

  // Guards the mount list and every Vnode's mounted_/root_of_ (which a
  // Vnode cannot name in an annotation: it does not know its Vfs).
  FsMutex mount_lock_;
  Mount* root_mount_ GUARDED_BY(mount_lock_) = nullptr;
  Mount* mounts_ GUARDED_BY(mount_lock_) = nullptr;  // singly linked through Mount::next
  DentryCache* dcache_;
};

// Character devices (Linux's chrdev table): open() of a character device
// node of any file system with device number `rdev` ((major << 32) | minor)
// opens the vnode `open` returns instead. NoMemory when the table (32
// entries) is full. Registered at boot; the table is never shrunk.
using CharDeviceOpen = Result<VnodeRef> (*)(uint64_t rdev, uint32_t how);
Result<void> register_char_device(uint64_t rdev, CharDeviceOpen open);
CharDeviceOpen char_device(uint64_t rdev);

// The kernel's namespace (nullptr until boot mounts the root).
Vfs* kernel_vfs();
void set_kernel_vfs(Vfs* vfs);

}  // namespace capsule::vfs
