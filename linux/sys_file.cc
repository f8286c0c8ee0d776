// File system calls over the console and the read-only initrd
// (linux/fd_table.h). Paths are absolute or relative to the working
// directory, which is "/" (chdir into initrd directories is supported).
#include "arch/x64/cpu/x64.h"
#include "capsule/console.h"
#include "capsule/process.h"
#include "capsule/uaccess.h"
#include "core/sync/spinlock.h"
#include "linux/fd_table.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

FileDesc g_fds[MAX_FDS];
SpinLock g_fd_lock;
char g_cwd[256] = "";  // without leading '/': "" is the root

constexpr int64_t AT_FDCWD = -100;
constexpr uint64_t AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000;
constexpr uint64_t O_ACCMODE = 3, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_TRUNC = 01000,
                   O_DIRECTORY = 0200000, O_CLOEXEC = 02000000, O_NOFOLLOW = 0400000;
constexpr uint32_t S_IFMT = 0170000, S_IFDIR = 0040000, S_IFREG = 0100000, S_IFLNK = 0120000,
                   S_IFCHR = 0020000;
constexpr uint64_t TCGETS = 0x5401, TIOCGWINSZ = 0x5413, FIONBIO = 0x5421, FIOCLEX = 0x5451,
                   FIONCLEX = 0x5450;

struct Stat {  // struct stat, x86-64
  uint64_t dev, ino, nlink;
  uint32_t mode, uid, gid, pad0;
  uint64_t rdev;
  int64_t size, blksize, blocks;
  uint64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
  int64_t reserved[3];
};
static_assert(sizeof(Stat) == 144);

bool console_ready_init() {
  g_fds[0].kind = g_fds[1].kind = g_fds[2].kind = FdKind::Console;
  g_fds[0].status_flags = 0;
  g_fds[1].status_flags = g_fds[2].status_flags = O_WRONLY;
  return true;
}
bool g_init = console_ready_init();

// Resolves a user path against the cwd into `out` (no leading '/'),
// handling "." and ".." textually. ENAMETOOLONG / EFAULT / ENOENT("").
int64_t resolve(uint64_t upath, char* out, size_t cap) {
  char raw[512];
  auto n = strncpy_from_user(raw, reinterpret_cast<const char*>(upath), sizeof(raw));
  if (!n.ok()) return n.error() == Error::TooBig ? -kENAMETOOLONG : -kEFAULT;
  if (n.value() == 0) return -kENOENT;
  size_t len = 0;
  auto push = [&](const char* s, size_t k) -> bool {
    if (len + k + 1 >= cap) return false;
    for (size_t i = 0; i < k; ++i) out[len++] = s[i];
    return true;
  };
  if (raw[0] != '/') {
    size_t c = 0;
    while (g_cwd[c]) ++c;
    if (!push(g_cwd, c)) return -kENAMETOOLONG;
  }
  size_t i = 0;
  while (raw[i]) {
    while (raw[i] == '/') ++i;
    size_t start = i;
    while (raw[i] && raw[i] != '/') ++i;
    size_t k = i - start;
    if (k == 0 || (k == 1 && raw[start] == '.')) continue;
    if (k == 2 && raw[start] == '.' && raw[start + 1] == '.') {
      while (len && out[len - 1] != '/') --len;
      if (len) --len;
      continue;
    }
    if (len && !push("/", 1)) return -kENAMETOOLONG;
    if (!push(raw + start, k)) return -kENAMETOOLONG;
  }
  out[len] = 0;
  return int64_t(len);
}

bool is_dir_path(StringView p) {
  if (p.empty()) return true;  // the root
  const initrd::File* f = initrd::lookup(p);
  return f && (f->mode & S_IFMT) == S_IFDIR;
}

void fill_stat(Stat& st, const initrd::File* f, bool root) {
  st = {};
  st.dev = 1;
  st.ino = root ? 1 : uint64_t(reinterpret_cast<uintptr_t>(f) >> 4);
  st.nlink = 1;
  st.mode = root ? (S_IFDIR | 0755) : f->mode;
  st.size = root ? 0 : int64_t(f->size);
  st.blksize = 4096;
  st.blocks = (st.size + 511) / 512;
  st.mtime = st.atime = st.ctime = root ? 0 : f->mtime;
}

void fill_console_stat(Stat& st) {
  st = {};
  st.dev = 5;
  st.ino = 2;
  st.nlink = 1;
  st.mode = S_IFCHR | 0620;
  st.rdev = (5u << 8) | 1;  // /dev/console
  st.blksize = 1024;
}

int64_t console_out(uint64_t buf, uint64_t len) {
  char chunk[256];
  uint64_t done = 0;
  while (done < len) {
    size_t n = len - done < sizeof(chunk) ? size_t(len - done) : sizeof(chunk);
    if (!copy_from_user(chunk, reinterpret_cast<const void*>(buf + done), n).ok())
      return done ? int64_t(done) : -kEFAULT;
    console_write(chunk, n);
    done += n;
  }
  return int64_t(done);
}

// What the UART holds now; nothing waiting reads as end of file (console
// input with a line discipline comes with the VFS issue).
int64_t console_in(uint64_t buf, uint64_t len) {
  uint64_t n = 0;
  while (n < len && (x64::inb(0x3f8 + 5) & 1)) {
    char c = char(x64::inb(0x3f8));
    if (!copy_to_user(reinterpret_cast<void*>(buf + n), &c, 1).ok()) return n ? int64_t(n) : -kEFAULT;
    ++n;
    if (c == '\n') break;
  }
  return int64_t(n);
}

int64_t file_read(FileDesc& d, uint64_t buf, uint64_t len, uint64_t off, bool advance) {
  if (d.kind == FdKind::Directory) return -kEISDIR;
  if (off >= d.file->size) return 0;
  uint64_t n = d.file->size - off < len ? d.file->size - off : len;
  if (!copy_to_user(reinterpret_cast<void*>(buf), d.file->data + off, n).ok()) return -kEFAULT;
  if (advance) d.offset = off + n;
  return int64_t(n);
}

int64_t do_open(int64_t dirfd, uint64_t upath, uint64_t flags) {
  if (dirfd != AT_FDCWD) {
    // Relative to a directory fd: only absolute paths are resolved here.
    char first;
    if (!copy_from_user(&first, reinterpret_cast<const void*>(upath), 1).ok()) return -kEFAULT;
    if (first != '/' && !fd_get(dirfd)) return -kEBADF;
  }
  char path[256];
  int64_t r = resolve(upath, path, sizeof(path));
  if (r < 0) return r;
  StringView p(path, size_t(r));
  bool write = (flags & O_ACCMODE) != 0 || (flags & (O_TRUNC));
  if (p == "dev/null" || p == "dev/console" || p == "dev/tty") {
    FileDesc d;
    d.kind = FdKind::Console;
    d.status_flags = uint32_t(flags & O_ACCMODE);
    d.cloexec = flags & O_CLOEXEC;
    return fd_install(d);
  }
  const initrd::File* f = p.empty() ? nullptr : initrd::lookup(p);
  bool root = p.empty();
  if (!f && !root) return (flags & O_CREAT) ? -kEROFS : -kENOENT;
  bool dir = root || (f->mode & S_IFMT) == S_IFDIR;
  if (write) return dir ? -kEISDIR : -kEROFS;
  if ((flags & O_DIRECTORY) && !dir) return -kENOTDIR;
  FileDesc d;
  d.kind = dir ? FdKind::Directory : FdKind::File;
  d.file = f;
  d.cloexec = flags & O_CLOEXEC;
  d.status_flags = uint32_t(flags & ~(O_CLOEXEC | O_CREAT | O_TRUNC));
  for (size_t i = 0; i < p.size() && i + 1 < sizeof(d.dir_path); ++i) d.dir_path[i] = p[i];
  return fd_install(d);
}

int64_t stat_path(int64_t dirfd, uint64_t upath, uint64_t ustat, uint64_t flags) {
  Stat st;
  if (flags & AT_EMPTY_PATH) {
    char c;
    if (copy_from_user(&c, reinterpret_cast<const void*>(upath), 1).ok() && c == 0) {
      FileDesc* d = fd_get(dirfd);
      if (!d) return -kEBADF;
      if (d->kind == FdKind::Console) fill_console_stat(st);
      else fill_stat(st, d->file, d->file == nullptr);
      return copy_to_user(reinterpret_cast<void*>(ustat), &st, sizeof(st)).ok() ? 0 : -kEFAULT;
    }
  }
  char path[256];
  int64_t r = resolve(upath, path, sizeof(path));
  if (r < 0) return r;
  StringView p(path, size_t(r));
  if (p.empty()) {
    fill_stat(st, nullptr, true);
  } else {
    const initrd::File* f = initrd::lookup(p);
    if (!f) {
      if (p == "dev/null" || p == "dev/console" || p == "dev/tty") {
        fill_console_stat(st);
        return copy_to_user(reinterpret_cast<void*>(ustat), &st, sizeof(st)).ok() ? 0 : -kEFAULT;
      }
      return -kENOENT;
    }
    fill_stat(st, f, false);
  }
  return copy_to_user(reinterpret_cast<void*>(ustat), &st, sizeof(st)).ok() ? 0 : -kEFAULT;
}

}  // namespace

FileDesc* fd_get(int64_t fd) {
  if (fd < 0 || fd >= MAX_FDS) return nullptr;
  return g_fds[fd].kind == FdKind::Free ? nullptr : &g_fds[fd];
}

int fd_install(const FileDesc& d, int min_fd) {
  SpinGuard g(g_fd_lock);
  for (int i = min_fd; i < MAX_FDS; ++i) {
    if (g_fds[i].kind == FdKind::Free) {
      g_fds[i] = d;
      return i;
    }
  }
  return int(-kEMFILE);
}

void fd_close(int fd) {
  SpinGuard g(g_fd_lock);
  g_fds[fd] = FileDesc{};
}

LINUX_SYSCALL(0, read, "fpu") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  if (int64_t(args.a[2]) < 0) return -kEINVAL;
  if (!args.a[2]) return 0;
  if (d->kind == FdKind::Console) return (d->status_flags & O_ACCMODE) == O_WRONLY ? -kEBADF : console_in(args.a[1], args.a[2]);
  return file_read(*d, args.a[1], args.a[2], d->offset, true);
}

LINUX_SYSCALL(17, pread64, "fpud") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  if (d->kind == FdKind::Console) return -kESPIPE;
  if (int64_t(args.a[3]) < 0) return -kEINVAL;
  return file_read(*d, args.a[1], args.a[2], args.a[3], false);
}

LINUX_SYSCALL(19, readv, "fpd") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  if (args.a[2] > 1024) return -kEINVAL;
  int64_t total = 0;
  for (uint64_t i = 0; i < args.a[2]; ++i) {
    struct { uint64_t base, len; } iov;
    if (!copy_from_user(&iov, reinterpret_cast<const void*>(args.a[1] + i * 16), 16).ok()) return total ? total : -kEFAULT;
    int64_t r = d->kind == FdKind::Console ? console_in(iov.base, iov.len) : file_read(*d, iov.base, iov.len, d->offset, true);
    if (r < 0) return total ? total : r;
    total += r;
    if (uint64_t(r) < iov.len) break;
  }
  return total;
}

LINUX_SYSCALL(1, write, "fbu") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  if (int64_t(args.a[2]) < 0) return -kEINVAL;
  if (d->kind != FdKind::Console) return -kEBADF;  // initrd files are read-only
  return console_out(args.a[1], args.a[2]);
}

LINUX_SYSCALL(20, writev, "fpd") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  if (d->kind != FdKind::Console) return -kEBADF;
  if (args.a[2] > 1024) return -kEINVAL;
  int64_t total = 0;
  for (uint64_t i = 0; i < args.a[2]; ++i) {
    struct { uint64_t base, len; } iov;
    if (!copy_from_user(&iov, reinterpret_cast<const void*>(args.a[1] + i * 16), 16).ok()) return total ? total : -kEFAULT;
    if (int64_t(iov.len) < 0) return -kEINVAL;
    int64_t r = console_out(iov.base, iov.len);
    if (r < 0) return total ? total : r;
    total += r;
  }
  return total;
}

LINUX_SYSCALL(16, ioctl, "fxp") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  switch (args.a[1]) {
    case FIOCLEX: d->cloexec = true; return 0;
    case FIONCLEX: d->cloexec = false; return 0;
    case FIONBIO: return 0;
    case TCGETS:
    case TIOCGWINSZ:
    default:
      // The serial console is not a terminal the program can configure yet:
      // isatty() is false, so programs use full buffering and no colours.
      return -kENOTTY;
  }
}

LINUX_SYSCALL(2, open, "sxo") { return do_open(AT_FDCWD, args.a[0], args.a[1]); }
LINUX_SYSCALL(257, openat, "fsxo") { return do_open(int64_t(int32_t(args.a[0])), args.a[1], args.a[2]); }

LINUX_SYSCALL(3, close, "f") {
  if (!fd_get(int64_t(args.a[0]))) return -kEBADF;
  fd_close(int(args.a[0]));
  return 0;
}

LINUX_SYSCALL(8, lseek, "fdd") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  if (d->kind == FdKind::Console) return -kESPIPE;
  int64_t off = int64_t(args.a[1]);
  int64_t base;
  switch (args.a[2]) {
    case 0: base = 0; break;
    case 1: base = int64_t(d->offset); break;
    case 2: base = d->file ? int64_t(d->file->size) : 0; break;
    default: return -kEINVAL;
  }
  if (base + off < 0) return -kEINVAL;
  d->offset = uint64_t(base + off);
  return int64_t(d->offset);
}

LINUX_SYSCALL(5, fstat, "fp") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  Stat st;
  if (d->kind == FdKind::Console) fill_console_stat(st);
  else fill_stat(st, d->file, d->file == nullptr);
  return copy_to_user(reinterpret_cast<void*>(args.a[1]), &st, sizeof(st)).ok() ? 0 : -kEFAULT;
}

LINUX_SYSCALL(4, stat, "sp") { return stat_path(AT_FDCWD, args.a[0], args.a[1], 0); }
LINUX_SYSCALL(6, lstat, "sp") { return stat_path(AT_FDCWD, args.a[0], args.a[1], AT_SYMLINK_NOFOLLOW); }
LINUX_SYSCALL(262, newfstatat, "fspx") {
  return stat_path(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3]);
}

LINUX_SYSCALL(21, access, "so") {
  char path[256];
  int64_t r = resolve(args.a[0], path, sizeof(path));
  if (r < 0) return r;
  StringView p(path, size_t(r));
  if (!p.empty() && !initrd::lookup(p)) return -kENOENT;
  return (args.a[1] & 2) ? -kEROFS : 0;
}

LINUX_SYSCALL(269, faccessat, "fso") {
  char path[256];
  int64_t r = resolve(args.a[1], path, sizeof(path));
  if (r < 0) return r;
  StringView p(path, size_t(r));
  if (!p.empty() && !initrd::lookup(p)) return -kENOENT;
  return (args.a[2] & 2) ? -kEROFS : 0;
}

LINUX_SYSCALL(89, readlink, "spu") {
  char path[256];
  int64_t r = resolve(args.a[0], path, sizeof(path));
  if (r < 0) return r;
  StringView p(path, size_t(r));
  if (int64_t(args.a[2]) <= 0) return -kEINVAL;
  if (p == "proc/self/exe") {
    Process* proc = current_process();
    const char* exe = proc ? proc->exe : "";
    size_t n = 0;
    while (exe[n]) ++n;
    if (n > args.a[2]) n = args.a[2];
    return copy_to_user(reinterpret_cast<void*>(args.a[1]), exe, n).ok() ? int64_t(n) : -kEFAULT;
  }
  return -kEINVAL;  // the initrd index resolves links itself; none are visible as links here
}

LINUX_SYSCALL(79, getcwd, "pu") {
  char buf[258];
  size_t n = 0;
  buf[n++] = '/';
  for (size_t i = 0; g_cwd[i]; ++i) buf[n++] = g_cwd[i];
  buf[n++] = 0;
  if (args.a[1] < n) return -kERANGE;
  return copy_to_user(reinterpret_cast<void*>(args.a[0]), buf, n).ok() ? int64_t(n) : -kEFAULT;
}

LINUX_SYSCALL(80, chdir, "s") {
  char path[256];
  int64_t r = resolve(args.a[0], path, sizeof(path));
  if (r < 0) return r;
  StringView p(path, size_t(r));
  if (!p.empty() && !initrd::lookup(p)) return -kENOENT;
  if (!is_dir_path(p)) return -kENOTDIR;
  for (size_t i = 0; i <= p.size(); ++i) g_cwd[i] = i < p.size() ? p[i] : 0;
  return 0;
}

LINUX_SYSCALL(217, getdents64, "fpu") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  if (d->kind != FdKind::Directory) return -kENOTDIR;
  StringView dir(d->dir_path);
  uint64_t out = args.a[1], cap = args.a[2], used = 0;
  size_t total = initrd::file_count();
  // Entry index space: 0 ".", 1 "..", then the initrd's entries in order.
  while (d->offset < total + 2) {
    StringView name;
    uint8_t type = 4;  // DT_DIR
    const initrd::File* f = nullptr;
    if (d->offset == 0) name = ".";
    else if (d->offset == 1) name = "..";
    else {
      f = initrd::file_at(d->offset - 2);
      StringView p = f->path;
      bool child = dir.empty() ? (p.find('/') == StringView::npos && !p.empty())
                               : (p.size() > dir.size() + 1 && p.starts_with(dir) && p[dir.size()] == '/' &&
                                  p.substr(dir.size() + 1).find('/') == StringView::npos);
      if (!child) {
        ++d->offset;
        continue;
      }
      name = dir.empty() ? p : p.substr(dir.size() + 1);
      uint32_t t = f->mode & S_IFMT;
      type = t == S_IFDIR ? 4 : t == S_IFLNK ? 10 : t == S_IFREG ? 8 : 0;
    }
    uint64_t reclen = (19 + name.size() + 1 + 7) & ~uint64_t(7);
    if (used + reclen > cap) {
      if (!used) return -kEINVAL;
      break;
    }
    uint8_t rec[19 + 256 + 8] = {};
    uint64_t ino = f ? uint64_t(reinterpret_cast<uintptr_t>(f) >> 4) : 1;
    uint64_t next = d->offset + 1;
    __builtin_memcpy(rec, &ino, 8);
    __builtin_memcpy(rec + 8, &next, 8);
    uint16_t rl = uint16_t(reclen);
    __builtin_memcpy(rec + 16, &rl, 2);
    rec[18] = type;
    for (size_t i = 0; i < name.size() && i < 255; ++i) rec[19 + i] = uint8_t(name[i]);
    if (!copy_to_user(reinterpret_cast<void*>(out + used), rec, reclen).ok()) return -kEFAULT;
    used += reclen;
    ++d->offset;
  }
  return int64_t(used);
}

LINUX_SYSCALL(72, fcntl, "fdx") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  constexpr uint64_t F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_DUPFD_CLOEXEC = 1030;
  switch (args.a[1]) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      if (int64_t(args.a[2]) < 0 || args.a[2] >= uint64_t(MAX_FDS)) return -kEINVAL;
      FileDesc copy = *d;
      copy.cloexec = args.a[1] == F_DUPFD_CLOEXEC;
      return fd_install(copy, int(args.a[2]));
    }
    case F_GETFD: return d->cloexec ? 1 : 0;
    case F_SETFD: d->cloexec = args.a[2] & 1; return 0;
    case F_GETFL: return d->status_flags;
    case F_SETFL: d->status_flags = (d->status_flags & O_ACCMODE) | uint32_t(args.a[2] & ~O_ACCMODE); return 0;
    default: return -kEINVAL;
  }
}

LINUX_SYSCALL(32, dup, "f") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  FileDesc copy = *d;
  copy.cloexec = false;
  return fd_install(copy);
}

LINUX_SYSCALL(33, dup2, "ff") {
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  if (args.a[1] >= uint64_t(MAX_FDS)) return -kEBADF;
  if (args.a[0] == args.a[1]) return int64_t(args.a[1]);
  SpinGuard g(g_fd_lock);
  g_fds[args.a[1]] = *d;
  g_fds[args.a[1]].cloexec = false;
  return int64_t(args.a[1]);
}

LINUX_SYSCALL(292, dup3, "ffx") {
  if (args.a[0] == args.a[1]) return -kEINVAL;
  if (args.a[2] & ~O_CLOEXEC) return -kEINVAL;
  FileDesc* d = fd_get(int64_t(args.a[0]));
  if (!d) return -kEBADF;
  if (args.a[1] >= uint64_t(MAX_FDS)) return -kEBADF;
  SpinGuard g(g_fd_lock);
  g_fds[args.a[1]] = *d;
  g_fds[args.a[1]].cloexec = args.a[2] & O_CLOEXEC;
  return int64_t(args.a[1]);
}

}  // namespace capsule::linux_abi
