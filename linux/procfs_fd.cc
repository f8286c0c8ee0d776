// /proc/<pid>/fd, fdinfo, exe, cwd and root (linux/procfs.h): magic links
// that name an open file, the program or a directory, and that a walk
// follows to the vnode itself (so /proc/self/fd/N reopens a file, even an
// unlinked one or a pipe).
#include <new>

#include "linux/memfd.h"
#include "linux/process.h"
#include "linux/file_common.h"
#include "linux/pty_file.h"
#include "linux/pidfd.h"
#include "linux/pipe_file.h"
#include "linux/socket_file.h"
#include "linux/procfs.h"
#include "linux/process_state.h"

namespace capsule::linux_abi::proc {
namespace {

using vfs::Vnode;
using vfs::VnodeRef;

// Collects a directory's entries: a type byte, the name, a NUL; and the
// inode number of each in a second list.
class Collect final : public vfs::DirSink {
 public:
  bool emit(StringView name, uint64_t ino, vfs::VType type, uint64_t) override {
    if (name == "." || name == "..") return true;
    names.put(char(type));
    names.str(name);
    names.put(0);
    inos.write(reinterpret_cast<const char*>(&ino), sizeof(ino));
    return true;
  }
  Text names, inos;
};

// Depth-first search for `target` under `path` (a directory: `dir`).
bool search(vfs::Vfs& v, const vfs::PathContext& pc, char* path, size_t len, Vnode& dir, Vnode& target,
            int depth) {
  if (depth > 32) return false;
  Collect c;
  if (!dir.readdir(0, c).ok() || c.names.failed() || c.inos.failed()) return false;
  // Two passes: names in this directory first (cheap), then subdirectories.
  for (int pass = 0; pass < 2; ++pass) {
    const char* p = c.names.data();
    const char* end = p + c.names.size();
    for (size_t i = 0; p < end; ++i) {
      auto type = vfs::VType(uint8_t(*p++));
      StringView name(p);
      p += name.size() + 1;
      uint64_t ino;
      __builtin_memcpy(&ino, c.inos.data() + i * sizeof(ino), sizeof(ino));
      bool is_dir = type == vfs::VType::Dir;
      if (pass == 0 ? ino != target.ino() : !is_dir) continue;
      if (len + 1 + name.size() >= vfs::MAX_PATH) continue;
      size_t n = len;
      if (n == 0 || path[n - 1] != '/') path[n++] = '/';
      __builtin_memcpy(path + n, name.data(), name.size());
      n += name.size();
      path[n] = 0;
      auto r = v.resolve(pc, StringView(path, n), 0);
      if (!r.ok()) continue;
      if (pass == 0) {
        if (r.value().get() == &target) return true;
        continue;
      }
      Vnode& sub = *r.value();
      // Generated trees (/proc, /sys) hold no files of other file systems.
      if (!sub.is_dir() || !sub.fs()->cache_names()) continue;
      if (search(v, pc, path, n, sub, target, depth + 1)) return true;
    }
  }
  path[len] = 0;
  return false;
}

}  // namespace

bool path_of_vnode(Vnode& target, Text& out) {
  vfs::Vfs* v = vfs::kernel_vfs();
  if (!v) return false;
  Ctx ctx = cur_ctx();
  char* path = new (std::nothrow) char[vfs::MAX_PATH];
  if (!path) return false;
  bool found = false;
  if (target.is_dir()) {
    auto n = v->path_of(ctx.pc(), target, path, vfs::MAX_PATH);
    found = n.ok();
  } else {
    path[0] = '/';
    path[1] = 0;
    found = search(*v, ctx.pc(), path, 1, *ctx.root, target, 0);
  }
  if (found) out.str(StringView(path));
  delete[] path;
  return found;
}

size_t list_fds(uint64_t pid, uint64_t from, uint64_t* out, size_t cap) {
  Target p(pid);
  if (p.null()) return 0;
  vfs::FdTable& t = *p->files->fds;
  size_t k = 0;
  int fd = from > uint64_t(INT32_MAX) ? -1 : t.next_open(int(from));
  while (fd >= 0 && k < cap) {
    out[k++] = uint64_t(fd);
    fd = t.next_open(fd + 1);
  }
  return k;
}

namespace {

// The open file behind the descriptor an fd/ entry names (a number past
// the int range names none), in the process the entry belongs to.
Result<vfs::FileRef> entry_file(uint64_t pid, uint64_t fd) {
  if (fd > uint64_t(INT32_MAX)) return Error::BadFd;
  Target p(pid);
  if (p.null()) return Error::BadFd;
  return p->files->fds->get(int(fd));
}

}  // namespace

bool fd_exists(uint64_t pid, uint64_t fd) { return entry_file(pid, fd).ok(); }

namespace {

// A descriptor closed since the lookup: gone (ENOENT), as on Linux.
Result<vfs::FileRef> open_file(uint64_t arg) {
  auto f = entry_file(fd_arg_pid(arg), fd_arg_fd(arg));
  if (!f.ok()) return Error::NotFound;
  return f;
}

}  // namespace

Result<void> fd_link(uint64_t arg, Text& out) {
  vfs::FileRef f = TRY(open_file(arg));
  Vnode& v = f->vnode();
  if (v.is_stream()) {
    if (pipe_end_of(v)) {
      out.f("pipe:[{}]", v.ino());
      return {};
    }
    if (is_socket(v)) {
      out.f("socket:[{}]", v.ino());
      return {};
    }
    if (char name[24]; pty_link_name(v, name, sizeof name)) {
      out.str(StringView(name));
      return {};
    }
    if (v.type() == vfs::VType::Char) {
      auto a = v.getattr();
      uint64_t rdev = a.ok() ? a.value().rdev : 0;
      if (rdev == ((1ull << 32) | 3)) out.str("/dev/null");
      else if (rdev == (5ull << 32)) out.str("/dev/tty");
      else out.str("/dev/console");
      return {};
    }
    out.f("anon_inode:[{}]", v.anon_name());
    return {};
  }
  if (StringView tag = anon_file_tag(v); !tag.empty()) {
    out.f("/{} (deleted)", tag);  // memfd_create's "/memfd:NAME (deleted)"
  } else if (!path_of_vnode(v, out)) {
    // Unlinked (or outside the namespace): Linux appends " (deleted)".
    out.f("/{} (deleted)", v.ino());
  }
  return {};
}

Result<VnodeRef> fd_follow(uint64_t arg) {
  vfs::FileRef f = TRY(open_file(arg));
  return f->vnode_ref();
}

// fdinfo: the offset, the status flags in octal as F_GETFL would give them
// plus O_CLOEXEC, the mount and inode.
Result<void> fdinfo(uint64_t arg, Text& out) {
  vfs::FileRef f = TRY(open_file(arg));
  uint32_t fl = f->flags();
  uint64_t flags = (fl & vfs::OpenFile::PATH)                                          ? O_PATH
                   : (fl & vfs::OpenFile::READ) && (fl & vfs::OpenFile::WRITE)         ? O_RDWR
                   : (fl & vfs::OpenFile::WRITE)                                       ? O_WRONLY
                                                                                       : 0;
  if (fl & vfs::OpenFile::APPEND) flags |= O_APPEND;
  if (fl & vfs::OpenFile::NONBLOCK) flags |= O_NONBLOCK;
  flags |= f->abi_flags.load();
  Target p(fd_arg_pid(arg));
  auto ce = p.null() ? Result<bool>(false) : p->files->fds->cloexec(int(fd_arg_fd(arg)));
  if (ce.ok() && ce.value()) flags |= O_CLOEXEC;
  uint64_t pos = f->vnode().is_stream() ? 0 : f->offset();
  out.f("pos:\t{}\nflags:\t0{:o}\nmnt_id:\t{}\nino:\t{}\n", pos, flags, f->vnode().fs()->dev(), f->vnode().ino());
  // A pidfd names its process (-1 once reaped, as Linux 6.x).
  if (Process* p = pidfd_process(f->vnode())) {
    int pid = process_find(p->pid) == p ? p->pid : -1;
    out.f("Pid:\t{}\nNSpid:\t{}\n", pid, pid);
  }
  return {};
}

namespace {

bool generated_path(StringView p) { return p.starts_with("/proc/") || p.starts_with("/dev/fd/"); }

// The absolute path of what `run` names, every symlink resolved (the
// directories through their parents, the last component by readlink):
// what Linux's /proc/PID/exe gives, and what ld.so's $ORIGIN is made of
// (java finds libjli.so beside the real binary, not beside /usr/bin/java).
// False for what leads into /proc or /dev/fd (generated links).
bool canonical_path(const vfs::PathContext& pc, StringView run, Text& out) {
  vfs::Vfs* v = vfs::kernel_vfs();
  char* path = new (std::nothrow) char[2 * vfs::MAX_PATH];
  if (!path) return false;
  char* link = path + vfs::MAX_PATH;
  bool found = false;
  size_t len = run.size() < vfs::MAX_PATH ? run.size() : 0;
  __builtin_memcpy(path, run.data(), len);
  for (int hops = 0; len && hops < vfs::MAX_SYMLINKS && !generated_path(StringView(path, len)); ++hops) {
    auto* parent = new (std::nothrow) vfs::ParentPath;
    if (!parent) break;
    bool ok = v->resolve_parent(pc, StringView(path, len), *parent).ok() &&
              parent->kind == vfs::ParentPath::Kind::Normal;
    auto dir_len = ok ? v->path_of(pc, *parent->dir, link, vfs::MAX_PATH) : Result<size_t>(Error::NotFound);
    if (!dir_len.ok()) {
      delete parent;
      break;
    }
    // link = the directory's canonical path + "/" + the name.
    size_t n = *dir_len;
    if (n && link[n - 1] != '/') link[n++] = '/';
    StringView name = parent->name();
    bool fits = n + name.size() < vfs::MAX_PATH;
    if (fits) __builtin_memcpy(link + n, name.data(), name.size());
    n += name.size();
    delete parent;
    if (!fits) break;
    __builtin_memcpy(path, link, n);
    len = n;
    auto target = v->readlink(pc, StringView(path, len), link, vfs::MAX_PATH);
    if (!target.ok()) {  // not a symlink: the end
      out.str(StringView(path, len));
      found = true;
      break;
    }
    size_t t = *target;
    if (t && link[0] == '/') {
      __builtin_memcpy(path, link, t);
      len = t;
    } else {  // relative to the link's directory
      while (len && path[len - 1] != '/') --len;
      if (len + t >= vfs::MAX_PATH) break;
      __builtin_memcpy(path + len, link, t);
      len += t;
    }
  }
  delete[] path;
  return found;
}

}  // namespace

// The path the program was run by, symlinks resolved, while it still names
// the same file (a few walks); else, as for a program run as
// /proc/self/exe or /dev/fd/N, or one renamed since, the file's path
// found in the tree.
Result<void> exe_link(uint64_t pid, Text& out) {
  Target p(pid);
  if (p.null()) return Error::NotFound;
  VnodeRef v = files_exe(*p.get());
  if (!v) return Error::NotFound;
  StringView run(p->exe);
  if (run.size() && run[0] == '/' && !generated_path(run)) {
    Ctx ctx = cur_ctx();
    auto r = vfs::kernel_vfs()->resolve(ctx.pc(), run, vfs::WALK_FOLLOW);
    VnodeRef found = r.ok() ? r.value() : VnodeRef();
    // exec ran the file an open hands out (a union's real file below it).
    if (found && found->is_regular()) {
      if (auto o = found->open_as(vfs::OpenHow::READ); o.ok()) found = o.value();
    }
    Text canonical;
    if (found && found.get() == v.get() && canonical_path(ctx.pc(), run, canonical)) {
      out.str(canonical.view());
      return {};
    }
  }
  if (path_of_vnode(*v, out)) return {};
  return Error::NotFound;
}

// The file itself: following the link never walks a path again (a
// program started as /proc/self/exe would name itself forever).
Result<VnodeRef> exe_follow(uint64_t pid) {
  Target p(pid);
  if (p.null()) return Error::NotFound;
  VnodeRef v = files_exe(*p.get());
  if (!v) return Error::NotFound;
  return v;
}

// A zombie has no directories any more (Linux: ENOENT).
Result<void> cwd_link(uint64_t pid, Text& out) {
  Target p(pid);
  if (p.null() || p.zombie()) return Error::NotFound;
  Ctx ctx = process_ctx(*p.get());
  if (!ctx.cwd || !path_of_vnode(*ctx.cwd, out)) return Error::NotFound;
  return {};
}

Result<VnodeRef> cwd_follow(uint64_t pid) {
  Target p(pid);
  if (p.null() || p.zombie()) return Error::NotFound;
  Ctx ctx = process_ctx(*p.get());
  if (!ctx.cwd) return Error::NotFound;
  return ctx.cwd;
}

Result<void> root_link(uint64_t pid, Text& out) {
  Target p(pid);
  if (p.null() || p.zombie()) return Error::NotFound;
  out.str("/");
  return {};
}

Result<VnodeRef> root_follow(uint64_t pid) {
  Target p(pid);
  if (p.null() || p.zombie()) return Error::NotFound;
  Ctx ctx = process_ctx(*p.get());
  if (!ctx.root) return Error::NotFound;
  return ctx.root;
}

}  // namespace capsule::linux_abi::proc
