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
#include "linux/file_common.h"
#include "linux/linux_errno.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

// All the argv and envp strings together (Linux: RLIMIT_STACK / 4 = 2 MiB
// for strings and pointers; the loader checks the whole). Over it: E2BIG.
constexpr size_t ARG_BYTES = 2 * 1024 * 1024;
constexpr size_t MAX_STRINGS = ARG_BYTES / 8;  // each takes a pointer on the stack at least

// argv and envp copied from the application.
struct ArgCopy {
  char* bytes = nullptr;       // kmalloc(ARG_BYTES)
  size_t used = 0;
  StringView* vec = nullptr;   // argc entries, then envc
  size_t argc = 0, envc = 0;
  ~ArgCopy() {
    kfree(bytes);
    delete[] vec;
  }
};

// The number of pointers before the NULL of a user array (0 for a NULL
// array: Linux runs the program with an empty argv then). -EFAULT, -E2BIG.
int64_t count_strings(uint64_t uarr, size_t& n) {
  n = 0;
  if (!uarr) return 0;
  for (;; ++n) {
    auto p = get_user(reinterpret_cast<const uint64_t*>(uarr) + n);
    if (!p.ok()) return -kEFAULT;
    if (!p.value()) return 0;
    if (n == MAX_STRINGS) return -kE2BIG;
  }
}

// Copies n strings of the user array into c (appending to c.vec at `at`).
int64_t copy_strings(uint64_t uarr, size_t n, ArgCopy& c, size_t at) {
  for (size_t i = 0; i < n; ++i) {
    auto p = get_user(reinterpret_cast<const uint64_t*>(uarr) + i);
    if (!p.ok()) return -kEFAULT;
    size_t room = ARG_BYTES - c.used;
    size_t cap = room < elf::MAX_ARG_STRLEN ? room : elf::MAX_ARG_STRLEN;
    // Over MAX_ARG_STRLEN (NUL included) or past the total: E2BIG.
    auto len = strncpy_from_user(c.bytes + c.used, reinterpret_cast<const char*>(p.value()), cap);
    if (!len.ok()) return len.error() == Error::TooBig ? -kE2BIG : -kEFAULT;
    c.vec[at + i] = StringView(c.bytes + c.used, len.value());
    c.used += len.value() + 1;
  }
  return 0;
}

int64_t copy_args(uint64_t uargv, uint64_t uenvp, ArgCopy& c) {
  // Linux counts both arrays before copying a string.
  if (int64_t r = count_strings(uargv, c.argc); r) return r;
  if (int64_t r = count_strings(uenvp, c.envc); r) return r;
  if (c.argc + c.envc > MAX_STRINGS) return -kE2BIG;
  c.bytes = static_cast<char*>(kmalloc(ARG_BYTES));
  c.vec = new (std::nothrow) StringView[c.argc + c.envc + 1];
  if (!c.bytes || !c.vec) return -kENOMEM;
  if (int64_t r = copy_strings(uargv, c.argc, c, 0); r) return r;
  return copy_strings(uenvp, c.envc, c, c.argc);
}

// The errno of a failed preparation (EACCES rather than EPERM for a file
// that cannot be executed).
int64_t exec_errno(Error e) { return e == Error::Permission ? -kEACCES : to_errno(e); }

// The point of no return, shared by execve and the command sequence: after
// it the caller is the process's only thread, with execve's resets done.
void reset_process(bool fresh) {
  if (!exec_kill_other_threads()) exec_thread_exit_killed();  // another thread's execve won
  exec_become_leader();
  if (auto r = files_exec_reset(fresh); !r.ok())
    log_warn("exec: descriptors not reset ({})", error_name(r.error()));
  signal_exec_reset(fresh);
  timers_exec_reset(fresh);
}

// Phase 1: 0 and *out ready, or -errno with nothing changed.
int64_t prepare_execve(int64_t dirfd, uint64_t upath, uint64_t uargv, uint64_t uenvp, uint64_t flags,
                       ExecImage** out) {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return -kEINVAL;
  UserPath path;
  if (int64_t r = get_path(upath, path); r) return r;
  ArgCopy args;
  if (int64_t r = copy_args(uargv, uenvp, args); r) return r;

  Ctx ctx;
  vfs::VnodeRef file;
  const bool empty = path.len == 0;
  if (empty && !(flags & AT_EMPTY_PATH)) return -kENOENT;
  if (empty) {
    auto f = get_file(uint64_t(dirfd));
    if (dirfd < 0 || !f.ok()) return -kEBADF;
    file = f.value()->vnode_ref();
    ctx = cur_ctx();
  } else {
    if (int64_t r = at_ctx(dirfd, path, ctx); r) return r;
    if (flags & AT_SYMLINK_NOFOLLOW) {
      auto v = vfs::kernel_vfs()->resolve(ctx.pc(), path.view(), 0);
      if (!v.ok()) return exec_errno(v.error());
      if (v.value()->is_symlink()) return -kELOOP;
      file = static_cast<vfs::VnodeRef&&>(v.value());
    }
  }
  // AT_EXECFN and the name a script's interpreter gets: the path as given,
  // or /dev/fd/N[/path] for a path relative to a descriptor (Linux's).
  char* fdpath = nullptr;
  StringView execfn = path.view();
  if (!path.absolute() && dirfd != AT_FDCWD) {
    fdpath = new (std::nothrow) char[vfs::MAX_PATH + 32];
    if (!fdpath) return -kENOMEM;
    size_t n = empty ? format_to(fdpath, vfs::MAX_PATH + 32, "/dev/fd/{}", int(dirfd))
                     : format_to(fdpath, vfs::MAX_PATH + 32, "/dev/fd/{}/{}", int(dirfd), path.view());
    execfn = StringView(fdpath, n);
  }
  ExecArgs ea{path.view(), args.vec, args.argc, args.vec + args.argc, args.envc};
  ea.name = execfn;
  ea.root = ctx.root.get();
  ea.cwd = ctx.cwd.get();
  ea.file = file.get();
  ea.quiet = true;
  auto img = exec_prepare(ea);  // the image keeps its own copies of the strings
  delete[] fdpath;
  if (!img.ok()) return exec_errno(img.error());
  *out = img.value();
  return 0;
}

int64_t do_execve(int64_t dirfd, uint64_t upath, uint64_t uargv, uint64_t uenvp, uint64_t flags) {
  ExecImage* img = nullptr;
  if (int64_t r = prepare_execve(dirfd, upath, uargv, uenvp, flags, &img); r) return r;
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
  if (!img.ok()) {
    // As for the first command: 127 not found, 126 found but cannot run.
    power_off(img.error() == Error::NotFound ? 127 : 126);
  }
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

LINUX_SYSCALL(59, execve, "spp") { return do_execve(AT_FDCWD, args.a[0], args.a[1], args.a[2], 0); }

LINUX_SYSCALL(322, execveat, "fsppx") {
  return do_execve(int64_t(int32_t(args.a[0])), args.a[1], args.a[2], args.a[3], args.a[4]);
}

}  // namespace capsule::linux_abi
