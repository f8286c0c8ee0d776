// execve and execveat, and the commands of a ";" sequence (docs/exec.md).
//
// Both replace the process image in two phases, as Linux does:
//   1. everything that can fail, with the caller untouched: the path,
//      argv/envp copied in (EFAULT, E2BIG), the file and its interpreter
//      opened and checked, "#!" scripts followed (linux/process: exec_prepare);
//   2. the point of no return (reset_process + exec_replace_image): the
//      other threads are killed and the caller becomes the leader, the
//      descriptors, signal actions and timers are reset as execve(2) says,
//      the address space is emptied and the new image mapped.
// The next command of a sequence is "execve from a fresh process": the same
// steps with everything reset (descriptors 0-2 on the console, the initial
// working directory, default signal actions, empty mask).
#include <new>

#include "lib/log.h"
#include "core/mm.h"
#include "arch/power.h"
#include "linux/process.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "linux/process/initial_stack.h"
#include "linux/exec_state.h"
#include "linux/notice.h"
#include "linux/file_common.h"
#include "linux/linux_errno.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

// All the argv and envp strings together (Linux: RLIMIT_STACK / 4 = 2 MiB
// for strings and pointers; the loader checks the whole). Over it: E2BIG.
constexpr size_t ARG_BYTES = 2 * 1024 * 1024;
constexpr size_t MAX_STRINGS = ARG_BYTES / 8;  // each takes a pointer on the stack at least

// argv and envp copied from the application, back to back with their NULs
// in one buffer that starts at a page and doubles as strings arrive (up to
// ARG_BYTES): a 2 MiB buffer per execve was most of a small VM's memory.
struct ArgCopy {
  char* bytes = nullptr;       // kmalloc(cap)
  size_t cap = 0;
  size_t used = 0;
  StringView* vec = nullptr;   // argc entries, then envc
  size_t argc = 0, envc = 0;
  ~ArgCopy() {
    kfree(bytes);
    delete[] vec;
  }
};

constexpr size_t ARG_FIRST_BYTES = 4096;

// Doubles c's buffer (at most to ARG_BYTES), keeping what it holds.
Result<void> grow(ArgCopy& c) {
  const size_t cap = c.cap * 2 < ARG_BYTES ? c.cap * 2 : ARG_BYTES;
  auto* bytes = static_cast<char*>(kmalloc(cap));
  if (!bytes) return Error::NoMemory;
  __builtin_memcpy(bytes, c.bytes, c.used);
  kfree(c.bytes);
  c.bytes = bytes;
  c.cap = cap;
  return {};
}

// The number of pointers before the NULL of a user array (0 for a NULL
// array: Linux runs the program with an empty argv then). Error::Fault,
// Error::TooBig (E2BIG).
Result<size_t> count_strings(UserPtr<const uint64_t> uarr) {
  if (!uarr) return size_t(0);
  for (size_t n = 0;; ++n) {
    const uint64_t p = TRY(uarr.offset(n).read());
    if (!p) return n;
    if (n == MAX_STRINGS) return Error::TooBig;
  }
}

// Appends the n strings of the user array to c.
Result<void> copy_strings(UserPtr<const uint64_t> uarr, size_t n, ArgCopy& c) {
  for (size_t i = 0; i < n; ++i) {
    const UserString str{UserPtr<const char>(TRY(uarr.offset(i).read()))};
    for (;;) {
      // Over MAX_ARG_STRLEN (NUL included) or past the total: E2BIG.
      const size_t room = ARG_BYTES - c.used;
      const size_t limit = room < elf::MAX_ARG_STRLEN ? room : elf::MAX_ARG_STRLEN;
      const size_t have = c.cap - c.used;
      auto len = str.copy_in(c.bytes + c.used, have < limit ? have : limit);
      if (len.ok()) {
        c.used += len.value() + 1;
        break;
      }
      // Not the limit but this buffer's end: a larger one, and again.
      if (len.error() != Error::TooBig || have >= limit) return len.error();
      TRY(grow(c));
    }
  }
  return {};
}

Result<void> copy_args(UserPtr<const uint64_t> uargv, UserPtr<const uint64_t> uenvp, ArgCopy& c) {
  // Linux counts both arrays before copying a string.
  c.argc = TRY(count_strings(uargv));
  c.envc = TRY(count_strings(uenvp));
  if (c.argc + c.envc > MAX_STRINGS) return Error::TooBig;
  c.cap = ARG_FIRST_BYTES;
  c.bytes = static_cast<char*>(kmalloc(c.cap));
  c.vec = new (std::nothrow) StringView[c.argc + c.envc + 1];
  if (!c.bytes || !c.vec) return Error::NoMemory;
  TRY(copy_strings(uargv, c.argc, c));
  TRY(copy_strings(uenvp, c.envc, c));
  // The views, once the buffer has stopped moving: the strings lie back to
  // back, each ended by its NUL (a copied string holds no other NUL).
  const char* p = c.bytes;
  for (size_t i = 0; i < c.argc + c.envc; ++i) {
    size_t len = 0;
    while (p[len]) ++len;
    c.vec[i] = StringView(p, len);
    p += len + 1;
  }
  return {};
}

// The error of a failed preparation (EACCES rather than EPERM for a file
// that cannot be executed).
Error exec_error(Error e) { return e == Error::Permission ? Error::AccessDenied : e; }

// The point of no return, shared by execve and the command sequence: after
// it the caller is the process's only thread, with execve's resets done.
void reset_process(bool fresh) {
  if (!exec_kill_other_threads()) exec_thread_exit_killed();  // another thread's execve won
  exec_become_leader();
  // Exec'd before the close-on-exec descriptors close, as Linux clears
  // PF_FORKNOEXEC first: a parent that saw such a pipe reach EOF must get
  // EACCES from setpgid on this child (guest.proc.*.fork failed 1 in ~50).
  if (Process* p = current_process()) p->did_exec.store(true);
  if (auto r = files_exec_reset(fresh); !r.ok())
    log_warn("exec: descriptors not reset ({})", error_name(r.error()));
  signal_exec_reset(fresh);
  timers_exec_reset(fresh);
  caps_exec_reset();
}

// Phase 1: the image, ready to replace the caller's, or an error with
// nothing changed.
Result<ExecImage*> prepare_execve(AtFd dirfd, UserString upath, UserPtr<const uint64_t> uargv,
                                  UserPtr<const uint64_t> uenvp, int flags) {
  if (flags & ~int(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return Error::Invalid;
  UserPath path;
  TRY(copy_path(upath, path));
  ArgCopy args;
  TRY(copy_args(uargv, uenvp, args));

  Ctx ctx;
  vfs::VnodeRef file;
  const bool empty = path.len == 0;
  if (empty && !(flags & AT_EMPTY_PATH)) return Error::NotFound;
  if (empty) {
    vfs::FileRef f = TRY(get_file(Fd{dirfd.value}));  // AT_FDCWD too: EBADF
    file = f->vnode_ref();
    ctx = user_ctx();
  } else {
    ctx = TRY(at_ctx(dirfd, path));
    if (flags & AT_SYMLINK_NOFOLLOW) {
      auto v = vfs::kernel_vfs()->resolve(ctx.pc(), path.view(), 0);
      if (!v.ok()) return exec_error(v.error());
      if (v.value()->is_symlink()) return Error::Loop;
      file = static_cast<vfs::VnodeRef&&>(v.value());
    }
  }
  // AT_EXECFN and the name a script's interpreter gets: the path as given,
  // or /dev/fd/N[/path] for a path relative to a descriptor (Linux's).
  char* fdpath = nullptr;
  StringView execfn = path.view();
  if (!path.absolute() && !dirfd.is_cwd()) {
    fdpath = new (std::nothrow) char[vfs::MAX_PATH + 32];
    if (!fdpath) return Error::NoMemory;
    size_t n = empty ? format_to(fdpath, vfs::MAX_PATH + 32, "/dev/fd/{}", dirfd.value)
                     : format_to(fdpath, vfs::MAX_PATH + 32, "/dev/fd/{}/{}", dirfd.value, path.view());
    execfn = StringView(fdpath, n);
  }
  ExecArgs ea{path.view(), args.vec, args.argc, args.vec + args.argc, args.envc};
  ea.name = execfn;
  ea.root = ctx.root.get();
  ea.cwd = ctx.cwd.get();
  ea.file = file.get();
  ea.cred = ctx.creds();
  ea.quiet = true;
  auto img = exec_prepare(ea);  // the image keeps its own copies of the strings
  delete[] fdpath;
  if (!img.ok()) return exec_error(img.error());
  return img.value();
}

// Returns only on an error.
Result<void> do_execve(AtFd dirfd, UserString upath, UserPtr<const uint64_t> uargv, UserPtr<const uint64_t> uenvp,
                       int flags) {
  ExecImage* img = TRY(prepare_execve(dirfd, upath, uargv, uenvp, flags));
  // Phase 2 (nothing returns from here): the caller's kernel objects are
  // all released, only the image remains.
  reset_process(false);
  exec_replace_image(img);
}

// --- command sequences ---

struct Sequence {
  const StringView* argv = nullptr;  // the commands' words, one after the other
  const size_t* argcs = nullptr;
  size_t count = 0;
  size_t next = 0;                   // the next command to run
  size_t next_word = 0;              // its first word in argv
  const StringView* envp = nullptr;
  size_t envc = 0;
};
Sequence g_seq;

// process_exit's hook: with status 0 and a command left, the exiting
// thread becomes the next command's process; otherwise the VM ends.
void on_process_exit(int status) {
  Sequence& s = g_seq;
  if (status != 0 || s.next >= s.count) return;
  const StringView* argv = s.argv + s.next_word;
  size_t argc = s.argcs[s.next];
  s.next_word += argc;
  ++s.next;
  reset_process(true);
  if (Process* p = current_process()) p->start_ns = uptime_ns();
  Ctx ctx = cur_ctx();
  ExecArgs ea{argv[0], argv, argc, s.envp, s.envc};
  ea.root = ctx.root.get();
  ea.cwd = ctx.cwd.get();
  auto img = exec_prepare(ea);
  if (!img.ok()) start_failed(argv[0], img.error());
  ctx = Ctx();
  exec_replace_image(img.value());
}

}  // namespace

void exec_set_sequence(Process& p, const StringView* argv, const size_t* argcs, size_t count, const StringView* envp,
                       size_t envc) {
  g_seq.argv = argv;
  g_seq.argcs = argcs;
  g_seq.count = count;
  g_seq.next = 1;  // the first is started by the boot code
  g_seq.next_word = count ? argcs[0] : 0;
  g_seq.envp = envp;
  g_seq.envc = envc;
  files_set_initial_cwd(p);
  set_process_exit_hook(on_process_exit);
}

DEFINE_SYSCALL(59, execve, Result<void>, UserString path, UserPtr<const uint64_t> argv, UserPtr<const uint64_t> envp) {
  return do_execve(AT_CWD, path, argv, envp, 0);
}

DEFINE_SYSCALL(322, execveat, Result<void>, AtFd dirfd, UserString path, UserPtr<const uint64_t> argv,
               UserPtr<const uint64_t> envp, Flags<int> flags) {
  return do_execve(dirfd, path, argv, envp, flags);
}

}  // namespace capsule::linux_abi
