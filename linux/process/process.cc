// Starting the application and replacing its image: resolve the program
// through the VFS ("#!" scripts run their interpreter), map its PT_LOAD
// segments (and its PT_INTERP loader's) as private file mappings, build the
// Linux initial stack, start the main thread (boot) or jump to the new
// program on the calling thread (execve, command sequences). docs/exec.md.
#include "linux/process.h"
#include "linux/file_common.h"

#include "arch/x64/cpu/x64.h"
#include "core/address_space.h"
#include "arch/fpu.h"
#include "arch/cpu.h"
#include "lib/log.h"
#include "core/mm.h"
#include "arch/power.h"
#include "arch/irq.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/shutdown.h"
#include "arch/uaccess.h"
#include "core/vdso.h"
#include "core/random.h"
#include "core/elf/elf.h"
#include "core/debugger.h"
#include "linux/process/initial_stack.h"
#include "linux/strace.h"
#include "linux/stats.h"
#include "linux/trace_dump.h"
#include "core/trace.h"
#include "core/mm/vma.h"
#include "core/sched/thread.h"
#include "fs/file.h"
#include "fs/vfs.h"

namespace capsule {
namespace {

constexpr uintptr_t STACK_TOP = mm::USER_END;          // 0x7ffffffff000
constexpr size_t STACK_INITIAL = 128 * 1024;           // mapped at exec; grows on demand
constexpr size_t STACK_LIMIT = 8ull << 20;             // RLIMIT_STACK default
// argv + envp (strings and pointers) + auxv must fit here: Linux's limit
// is RLIMIT_STACK / 4 = 2 MiB for the strings and pointers. More is E2BIG.
constexpr size_t ARG_AREA = 2 * 1024 * 1024;
constexpr int MAX_SCRIPT_DEPTH = 5;                    // Linux: nested "#!" interpreters
constexpr size_t SCRIPT_HEAD = 256;                    // Linux's BINPRM_BUF_SIZE

struct StartInfo {
  uintptr_t entry;
  uintptr_t sp;
};

// The main thread's first code: its start info is heap-allocated by
// process_exec (one per process).
void app_main(void* arg) {
  auto* s = static_cast<StartInfo*>(arg);
  StartInfo st = *s;
  delete s;
  enter_application(st.entry, st.sp);
}

uint32_t vm_prot(uint32_t seg) {
  return ((seg & elf::SEG_R) ? mm::VM_READ : 0) | ((seg & elf::SEG_W) ? mm::VM_WRITE : 0) |
         ((seg & elf::SEG_X) ? mm::VM_EXEC : 0);
}

// The scratch buffer the initial stack is laid out in: as large as these
// arguments can take (a few KiB for most programs), never more than the
// limit. A fixed ARG_AREA buffer was a 2 MiB allocation per exec: most of
// a small VM's free memory, and an order-9 block that a fragmented buddy
// may not have.
size_t scratch_area(const elf::StackParams& sp) {
  const size_t bound = elf::initial_stack_bound(sp);
  return bound < ARG_AREA ? bound : ARG_AREA;
}

constexpr uint64_t page_up(uint64_t v) { return (v + PAGE_SIZE - 1) & ~uint64_t(PAGE_SIZE - 1); }

// An ELF file read through its vnode.
class VnodeSource final : public elf::ElfSource {
 public:
  VnodeSource(vfs::Vnode& v, uint64_t size) : v_(v), size_(size) {}
  uint64_t size() const override { return size_; }
  Result<void> read(uint64_t offset, void* buf, size_t n) const override {
    if (offset > size_ || n > size_ - offset) return Error::BadFormat;
    vfs::KernelBuffer kb(buf, n);
    size_t got = TRY(v_.read(offset, kb));
    return got == n ? Result<void>() : Error::BadFormat;
  }

 private:
  vfs::Vnode& v_;
  uint64_t size_;
};

// A program or its interpreter, opened and parsed.
struct Image {
  vfs::VnodeRef vnode;
  uint64_t size = 0;
  elf::LoadPlan* plan = nullptr;
  ~Image() { delete plan; }
};

// Where paths are found: the caller's root and cwd, or / for both.
struct Walk {
  vfs::VnodeRef root, cwd;
  const vfs::Cred* cred;
  bool quiet;
};

Walk make_walk(const ExecArgs& a) {
  Walk w;
  w.quiet = a.quiet;
  w.cred = a.cred;
  vfs::Vfs* fs = vfs::kernel_vfs();
  w.root = a.root ? vfs::VnodeRef(a.root) : (fs ? fs->root() : vfs::VnodeRef());
  w.cwd = a.cwd ? vfs::VnodeRef(a.cwd) : w.root;
  return w;
}

// Looks `path` up (symlinks followed) unless `file` is given and checks
// that it is an executable regular file. Errors are printed unless quiet.
Result<void> open_file(const Walk& w, StringView path, vfs::Vnode* file, StringView what, Image& img) {
  if (file) {
    img.vnode = vfs::VnodeRef(file);
  } else {
    vfs::Vfs* fs = vfs::kernel_vfs();
    if (!fs || !w.root) return Error::NotFound;
    auto v = fs->resolve({w.root.get(), w.cwd.get(), w.cred}, path, vfs::WALK_FOLLOW);
    if (!v) {
      if (!w.quiet) kprint("capsule: {} '{}' not found ({})\n", what, path, error_name(v.error()));
      return v.error();
    }
    img.vnode = static_cast<vfs::VnodeRef&&>(*v);
    // The file as an open hands it out: a union's file maps the real
    // file below it, whose page cache is the one evicted and unmapped
    // (docs/overlay.md "Open files are the real files").
    if (img.vnode->is_regular()) {
      auto o = img.vnode->open_as(vfs::OpenHow::READ);
      if (!o) return o.error();
      img.vnode = static_cast<vfs::VnodeRef&&>(*o);
    }
  }
  auto attr = img.vnode->getattr();
  if (!attr) return attr.error();
  // execve(2): EACCES for anything but a regular file with an execute bit.
  if (!img.vnode->is_regular() || !(attr->mode & 0111)) {
    if (!w.quiet) kprint("capsule: {} '{}' is not an executable file\n", what, path);
    return Error::Permission;
  }
  // The caller's execute permission (root's CAP_DAC_OVERRIDE needs the x
  // bit above).
  if (auto r = vfs::may_access(w.cred, *attr, vfs::MAY_EXEC); !r.ok()) {
    if (!w.quiet) kprint("capsule: {} '{}': permission denied\n", what, path);
    return r.error();
  }
  img.size = attr->size;
  return {};
}

// Parses an opened file as an ELF program.
Result<void> parse_image(const Walk& w, StringView path, StringView what, Image& img) {
  img.plan = new (std::nothrow) elf::LoadPlan();
  if (!img.plan) return Error::NoMemory;
  elf::ElfDiag diag;
  VnodeSource src(*img.vnode, img.size);
  if (auto r = elf::parse_elf(src, *img.plan, &diag); !r.ok()) {
    if (!w.quiet)
      kprint("capsule: {} '{}' is not a loadable x86-64 ELF program: {}\n", what, path,
             diag.reason ? diag.reason : "bad format");
    return r.error();
  }
  return {};
}

Result<void> open_image(const Walk& w, StringView path, StringView what, Image& img) {
  TRY(open_file(w, path, nullptr, what, img));
  return parse_image(w, path, what, img);
}

// Maps the segments of a plan at `bias` the way Linux's ELF loader does:
// the file's pages as private mappings (shared read-only with the file
// until written), the tail of the last file page zeroed where the segment
// has bss (p_memsz > p_filesz), and anonymous zero pages for the rest of
// the bss.
// exec writes only where it has just mapped (a segment's zeroed tail, the
// new stack): a fault there means no page could be had (an anonymous
// copy, or a file's last partial page that the file system could not
// copy), so it is ENOMEM and the out-of-memory notice, not EFAULT.
Result<void> as_no_memory(Result<void> r) {
  if (!r.ok() && r.error() == Error::Fault) return Error::NoMemory;
  return r;
}

Result<void> map_segments(AddressSpace* as, const Image& img, uint64_t bias) {
  const elf::LoadPlan& plan = *img.plan;
  for (size_t i = 0; i < plan.segment_count; ++i) {
    const elf::Segment& s = plan.segments[i];
    const uint32_t prot = vm_prot(s.prot);
    const bool bss = s.mem_end > s.zero_start;
    uint64_t anon_from = s.map_start;
    if (s.file_size) {
      if (s.file_offset + s.file_size > img.size) return Error::BadFormat;
      const uint64_t file_map_end = page_up(s.file_end_vaddr());
      const bool zero_tail = bss && s.zero_start < file_map_end;
      mm::MapRequest req;
      req.addr = s.map_start + bias;
      req.len = file_map_end - s.map_start;
      req.prot = prot | (zero_tail ? mm::VM_WRITE : 0);
      req.backing = img.vnode.get();
      req.offset = s.file_offset;
      req.placement = mm::Placement::Fixed;
      TRY(as->mmap(req));
      if (zero_tail) {
        // The bytes after p_filesz in the last file page are the file's
        // next bytes: zero them (this copies the page, the file stays).
        TRY(as_no_memory(clear_user(reinterpret_cast<void*>(s.zero_start + bias), file_map_end - s.zero_start)));
        if (!(prot & mm::VM_WRITE)) TRY(as->mprotect(req.addr, req.len, prot));
      }
      anon_from = file_map_end;
    }
    if (anon_from < s.map_end) {
      mm::MapRequest req;
      req.addr = anon_from + bias;
      req.len = s.map_end - anon_from;
      req.prot = prot;
      req.placement = mm::Placement::Fixed;
      TRY(as->mmap(req));
    }
  }
  return {};
}

// Linux's arch_mmap_rnd: up to 2^28 pages (mmap_rnd_bits' default on
// x86-64), used for the mmap base and a PIE's load address.
uint64_t random_pages_offset(unsigned bits) {
  uint64_t r;
  random_bytes(&r, sizeof(r));
  return (r & ((1ull << bits) - 1)) * PAGE_SIZE;
}

// The interpreter goes where a library would: a free range found
// top-down below the mmap base, aligned to its largest p_align.
Result<uint64_t> place_interpreter(AddressSpace* as, const elf::LoadPlan& plan) {
  mm::MapRequest req;
  req.len = (plan.hi - plan.lo) + plan.max_align;
  req.prot = 0;
  uintptr_t r = TRY(as->mmap(req));
  TRY(as->munmap(r, req.len));
  return elf::choose_load_bias(plan, r);
}


// One "#!" line (Linux's rules, binfmt_script): the interpreter is the first
// word after "#!", the optional argument the rest of the line with the
// blanks around it removed (one argument, spaces included). A line with no
// newline in the first SCRIPT_HEAD bytes is fine unless the interpreter's
// name itself may be cut there (ENOEXEC).
struct Shebang {
  StringView interp;
  StringView arg;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// 1: a script (fills sb), 0: not a script, or an error.
Result<int> read_shebang(vfs::Vnode& v, uint64_t size, char* buf, Shebang& sb) {
  size_t want = size < SCRIPT_HEAD ? size_t(size) : SCRIPT_HEAD;
  if (want < 2) return 0;
  vfs::KernelBuffer kb(buf, want);
  size_t n = TRY(v.read(0, kb));
  if (n < 2 || buf[0] != '#' || buf[1] != '!') return 0;
  size_t end = 2;
  while (end < n && buf[end] != '\n' && buf[end] != 0) ++end;
  const bool cut = end == n && n == SCRIPT_HEAD;
  size_t i = 2;
  while (i < end && is_blank(buf[i])) ++i;
  if (i == end) return Error::BadFormat;  // "#!" and no interpreter
  size_t name = i;
  while (i < end && !is_blank(buf[i])) ++i;
  if (cut && i == end) return Error::BadFormat;
  sb.interp = StringView(buf + name, i - name);
  while (i < end && is_blank(buf[i])) ++i;
  size_t arg_end = end;
  while (arg_end > i && is_blank(buf[arg_end - 1])) --arg_end;
  sb.arg = StringView(buf + i, arg_end - i);
  return 1;
}

// Tells a debugger (core/debugger.h) what was just loaded: the file's
// absolute path (a relative one after the working directory's).
void note_exec(Process& p, StringView exe, uint64_t bias, uint64_t interp_base, uint64_t entry) {
  char path[256];
  size_t n = 0;
  if (exe.empty() || exe[0] != '/') {
    linux_abi::Ctx ctx = linux_abi::process_ctx(p);
    auto len = ctx.cwd ? vfs::kernel_vfs()->path_of(ctx.pc(), *ctx.cwd, path, sizeof(path) - 1)
                       : Result<size_t>(Error::NotFound);
    if (len.ok()) n = len.value();
    if (n && path[n - 1] != '/' && n < sizeof(path) - 1) path[n++] = '/';
  }
  for (size_t i = 0; i < exe.size() && n < sizeof(path) - 1; ++i) path[n++] = exe[i];
  debugger_note_exec(p.pid, StringView(path, n), bias, interp_base, entry);
}

// What the loader found (biases chosen, addresses final).
struct StartInfoEx {
  uintptr_t entry;
  uintptr_t sp;
};

}  // namespace

struct ExecImage {
  Image prog, interp;
  char* strings = nullptr;     // kmalloc: execfn, exe, then the argv and envp strings
  StringView* vec = nullptr;   // argc argv entries, then envc envp entries
  size_t argc = 0, envc = 0;
  StringView execfn;           // AT_EXECFN: the path given
  StringView exe;              // the program run (a script's interpreter)
  uint64_t bias = 0;           // the program's (random for a PIE)
  char* heads = nullptr;       // the "#!" lines of the scripts met
  ~ExecImage() {
    kfree(strings);
    delete[] vec;
    delete[] heads;
  }
};

namespace {

// Copies the final argv/envp and the two paths into one buffer owned by img.
Result<void> gather_strings(ExecImage& img, StringView execfn, StringView exe, const StringView* pre, size_t npre,
                            const StringView* argv, size_t argc, const StringView* envp, size_t envc) {
  size_t total = execfn.size() + exe.size() + 2;
  for (size_t i = 0; i < npre; ++i) total += pre[i].size() + 1;
  for (size_t i = 0; i < argc; ++i) total += argv[i].size() + 1;
  for (size_t i = 0; i < envc; ++i) total += envp[i].size() + 1;
  if (total > ARG_AREA + 2 * vfs::MAX_PATH) return Error::TooBig;  // cannot fit the stack anyway
  img.strings = static_cast<char*>(kmalloc(total));
  img.vec = new (std::nothrow) StringView[npre + argc + envc + 1];
  if (!img.strings || !img.vec) return Error::NoMemory;
  char* out = img.strings;
  auto put = [&](StringView s) {
    for (size_t i = 0; i < s.size(); ++i) out[i] = s[i];
    out[s.size()] = 0;
    StringView r(out, s.size());
    out += s.size() + 1;
    return r;
  };
  img.execfn = put(execfn);
  img.exe = put(exe);
  size_t k = 0;
  for (size_t i = 0; i < npre; ++i) img.vec[k++] = put(pre[i]);
  for (size_t i = 0; i < argc; ++i) img.vec[k++] = put(argv[i]);
  img.argc = k;
  for (size_t i = 0; i < envc; ++i) img.vec[k++] = put(envp[i]);
  img.envc = envc;
  return {};
}

elf::StackParams stack_params(const ExecImage& img) {
  elf::StackParams sp;
  sp.argv = img.vec;
  sp.argc = img.argc;
  sp.envp = img.vec + img.argc;
  sp.envc = img.envc;
  sp.execfn = img.execfn;
  sp.hwcap = x64_hwcap();
  sp.hwcap2 = cpu_features().fsgsbase ? 2 : 0;  // HWCAP2_FSGSBASE
  const elf::LoadPlan* plan = img.prog.plan;
  sp.phdr = plan->phdr_vaddr + img.bias;
  sp.phent = plan->phent;
  sp.phnum = plan->phnum;
  sp.entry = plan->entry + img.bias;
  return sp;
}

Result<void> prepare(const ExecArgs& a, ExecImage& img) {
  Walk w = make_walk(a);
  img.heads = new (std::nothrow) char[(MAX_SCRIPT_DEPTH + 1) * SCRIPT_HEAD];
  if (!img.heads) return Error::NoMemory;
  // argv after the scripts met: pre[0..npre) then a.argv[skip..argc).
  StringView pre[3 * (MAX_SCRIPT_DEPTH + 1)];
  size_t npre = 0, skip = 0;
  StringView filename = a.path;  // the file at this depth
  StringView name = a.name.empty() ? a.path : a.name;  // what it is called
  vfs::Vnode* file = a.file;
  for (int depth = 0;; ++depth) {
    if (depth > MAX_SCRIPT_DEPTH) return Error::Loop;
    img.prog.vnode = vfs::VnodeRef();  // the script of the previous round
    TRY(open_file(w, filename, file, "program", img.prog));
    file = nullptr;
    Shebang sb;
    char* head = img.heads + depth * SCRIPT_HEAD;
    int script = TRY(read_shebang(*img.prog.vnode, img.prog.size, head, sb));
    if (!script) break;
    // Linux's argv for a script: interpreter, optional argument, the
    // script's path, then the old argv without argv[0].
    if (npre) {
      for (size_t i = 1; i < npre; ++i) pre[i - 1] = pre[i];
      --npre;
    } else if (skip < a.argc) {
      ++skip;
    }
    size_t add = sb.arg.empty() ? 2 : 3;
    for (size_t i = npre; i-- > 0;) pre[i + add] = pre[i];
    pre[0] = sb.interp;
    if (!sb.arg.empty()) pre[1] = sb.arg;
    pre[add - 1] = name;
    npre += add;
    filename = name = sb.interp;
  }
  TRY(parse_image(w, filename, "program", img.prog));
  if (img.prog.plan->has_interp) {
    char* interp_path = new (std::nothrow) char[elf::MAX_INTERP + 1];
    if (!interp_path) return Error::NoMemory;
    VnodeSource src(*img.prog.vnode, img.prog.size);
    auto n = elf::read_interp(src, *img.prog.plan, interp_path, elf::MAX_INTERP + 1);
    Result<void> r = n.ok() ? open_image(w, StringView(interp_path, *n), "interpreter", img.interp)
                            : Result<void>(n.error());
    if (r.ok() && (img.interp.plan->type != elf::TYPE_DYN || img.interp.plan->has_interp)) {
      if (!a.quiet) kprint("capsule: interpreter '{}' is not a shared object without an interpreter\n", interp_path);
      r = Error::BadFormat;
    }
    delete[] interp_path;
    // A missing loader is ENOENT for execve; the shell says 127 as well.
    TRY(r);
  }
  const uint64_t pie_rnd = random_pages_offset(28);
  img.bias = TRY(elf::choose_load_bias(*img.prog.plan, elf::DEFAULT_PIE_BASE + pie_rnd));
  // /proc/self/exe: the file run (a script's interpreter). Linux gives the
  // file's absolute path; we have the path it was found by (for a
  // descriptor, its /dev/fd/N name).
  TRY(gather_strings(img, a.name.empty() ? a.path : a.name, filename.empty() ? name : filename, pre, npre, a.argv + skip, a.argc - skip, a.envp, a.envc));
  // E2BIG now, while the caller can still be told: lay the stack out once
  // in a scratch buffer (the real one differs only in addresses).
  elf::StackParams sp = stack_params(img);
  sp.sysinfo_ehdr = 1;  // AT_SYSINFO_EHDR takes room in the real one
  const size_t area = scratch_area(sp);
  auto* buf = static_cast<uint8_t*>(kmalloc(area));
  if (!buf) return Error::NoMemory;
  auto layout = elf::build_initial_stack(buf, area, STACK_TOP, sp);
  kfree(buf);
  if (!layout.ok()) {
    if (!a.quiet) kprint("capsule: arguments and environment do not fit in {} KiB\n", ARG_AREA / 1024);
    return layout.error();
  }
  return {};
}

// Maps the image into `as` (empty and active on this CPU), builds its
// stack and records it in `p`.
Result<StartInfoEx> load(Process& p, AddressSpace* as, ExecImage& img) {
  Image& prog = img.prog;
  const uint64_t bias = img.bias;
  TRY(map_segments(as, prog, bias));
  p.image_start = prog.plan->segment_count ? prog.plan->segments[0].map_start + bias : 0;
  p.image_end =
      prog.plan->segment_count ? prog.plan->segments[prog.plan->segment_count - 1].map_end + bias : 0;
  // brk starts after the program (Linux adds a random offset too).
  as->set_brk_base(prog.plan->hi + bias + random_pages_offset(13));

  // Stack: a grows-down VMA at the top of the lower half.
  mm::MapRequest st;
  st.addr = STACK_TOP - STACK_INITIAL;
  st.len = STACK_INITIAL;
  st.prot = mm::VM_READ | mm::VM_WRITE;
  st.flags = mm::VM_GROWSDOWN;
  st.placement = mm::Placement::Fixed;
  TRY(as->mmap(st));
  as->set_mmap_base(STACK_TOP - STACK_LIMIT - (1ull << 20) - random_pages_offset(28));
  uint64_t interp_bias = 0;
  if (img.interp.plan) {
    interp_bias = TRY(place_interpreter(as, *img.interp.plan));
    TRY(map_segments(as, img.interp, interp_bias));
  }
  // The vDSO: glibc and musl find clock_gettime & co. through AT_SYSINFO_EHDR.
  p.vdso_base = 0;
  if (auto v = vdso_map(*as); v.ok()) p.vdso_base = v.value();
  else log_warn("exec: no vDSO ({}): time calls take the syscall path", error_name(v.error()));

  elf::StackParams sp = stack_params(img);
  random_bytes(sp.random, sizeof(sp.random));
  sp.base = img.interp.plan ? interp_bias : 0;
  sp.sysinfo_ehdr = p.vdso_base;
  const size_t area = scratch_area(sp);
  auto* buf = static_cast<uint8_t*>(kmalloc(area));
  if (!buf) return Error::NoMemory;
  auto layout = elf::build_initial_stack(buf, area, STACK_TOP, sp);
  if (!layout.ok()) {
    kfree(buf);
    return layout.error();
  }
  uint64_t used = STACK_TOP - layout->sp;
  auto copied = copy_to_user(reinterpret_cast<void*>(layout->sp), buf + area - used, used);
  kfree(buf);
  TRY(as_no_memory(copied));

  // /proc/self/exe and comm (Linux: the basename of the file executed).
  size_t n = img.exe.size() < sizeof(p.exe) - 1 ? img.exe.size() : sizeof(p.exe) - 1;
  for (size_t i = 0; i < sizeof(p.exe); ++i) p.exe[i] = i < n ? img.exe[i] : 0;
  linux_abi::files_set_exe(p, img.prog.vnode);
  StringView base = img.execfn;
  size_t slash = 0;
  for (size_t i = 0; i < base.size(); ++i)
    if (base[i] == '/') slash = i + 1;
  for (size_t i = 0; i < sizeof(p.comm); ++i) p.comm[i] = (i < 15 && slash + i < base.size()) ? base[slash + i] : 0;
  p.auxv_addr = layout->auxv;
  p.arg_start = p.arg_end = layout->strings_start;
  for (size_t i = 0; i < img.argc; ++i) p.arg_end += img.vec[i].size() + 1;
  p.env_start = p.env_end = p.arg_end;
  for (size_t i = 0; i < img.envc; ++i) p.env_end += img.vec[img.argc + i].size() + 1;
  p.auxv_bytes = layout->auxv_count * 16;
  const elf::LoadPlan* plan = prog.plan;
  const uintptr_t entry = img.interp.plan ? img.interp.plan->entry + interp_bias : plan->entry + bias;
  note_exec(p, img.exe, bias, img.interp.plan ? interp_bias : 0, entry);
  return StartInfoEx{entry, layout->sp};
}

ProcessExitHook g_exit_hook;

}  // namespace

Result<ExecImage*> exec_prepare(const ExecArgs& a) {
  auto* img = new (std::nothrow) ExecImage();
  if (!img) return Error::NoMemory;
  if (auto r = prepare(a, *img); !r.ok()) {
    delete img;
    return r.error();
  }
  return img;
}

void exec_discard(ExecImage* img) { delete img; }

[[noreturn]] void exec_replace_image(ExecImage* img) {
  if (Process* p = current_process()) trace::point<trace::Event::ProcExec>(uint64_t(p->pid));  // --trace=proc
  Process& p = *current_process();
  AddressSpace* as = p.as;
  Thread* self = thread_current();
  p.did_exec.store(true);
  // The old image goes: every mapping (and its pages) of the lower half.
  // The AddressSpace object, its page-table root and the threads' pointers
  // to it stay (other CPUs may still have it loaded; the unmapping shot
  // their TLB entries down).
  if (p.as_borrowed) {
    // A vfork child: the address space is its parent's, which goes on
    // with it. The new image gets a space of its own.
    auto fresh = AddressSpace::create();
    if (!fresh.ok()) {
      delete img;
      kprint("capsule: exec failed after the old image was gone ({})\n", error_name(fresh.error()));
      process_exit_signaled(9);
    }
    as = fresh.value();
    {
      IrqGuard irq;  // the thread and its CPU agree on the space
      self->as = as;
      as->activate();
    }
    (void)process_set_as(p, as);  // the parent's, which it keeps
    p.as_borrowed = false;
    process_vfork_release(p);
  }
  as->activate();
  (void)as->munmap(0, STACK_TOP);
  auto st = load(p, as, *img);
  delete img;
  if (!st.ok()) {
    // Past the point of no return: Linux kills the process (SIGKILL).
    kprint("capsule: exec failed after the old image was gone ({})\n", error_name(st.error()));
    process_exit_signaled(9);
  }
  // A fresh thread state: no TLS, GS base 0, the initial vector state.
  self->fs_base = 0;
  x64::write_fs_base(0);
  self->gs_base = 0;
  x64::wrmsr(x64::MSR_KERNEL_GS_BASE, 0);
  if (self->fpu_area) {
    fpu_init_state(self->fpu_area);
    fpu_restore(self->fpu_area);
  }
  log_info("exec: {} entry {:#x} sp {:#x}", p.exe, st->entry, st->sp);
  enter_application(st->entry, st->sp);
}

Result<void> process_exec(Process& p, const ExecArgs& a) {
  ExecImage* img = TRY(exec_prepare(a));
  auto as_r = AddressSpace::create();
  if (!as_r.ok()) {
    delete img;
    return as_r.error();
  }
  AddressSpace* as = as_r.value();
  as->activate();
  (void)process_set_as(p, as);
  p.start_ns = uptime_ns();
  auto st = load(p, as, *img);
  delete img;
  if (!st.ok()) {
    kprint("capsule: cannot load the program ({})\n", error_name(st.error()));
    return st.error();
  }
  auto* start = new (std::nothrow) StartInfo{st->entry, st->sp};
  if (!start) return Error::NoMemory;
  ThreadOptions o;
  o.uses_fpu = true;
  auto t = thread_alloc_app("app", app_main, start, o, as, &p);
  if (!t.ok()) {
    delete start;
    return t.error();
  }
  p.main_thread = t.value();
  t.value()->trace_tid = uint32_t(p.pid);  // core/trace.h
  p.thread_count.store(1);
  sched_start_thread(t.value());
  log_info("exec: {} entry {:#x} sp {:#x}", a.path, st->entry, st->sp);
  return {};
}

void set_process_exit_hook(ProcessExitHook hook) { g_exit_hook = hook; }

namespace {

// sig: the signal that ended it (0: it exited with status).
[[noreturn]] void process_end(int status, int sig) {
  Process* p = current_process();
  // --strace: "+++ exited with N +++" (the summary table after pid 1's).
  if (p && linux_abi::strace::active()) linux_abi::strace::exited(p->pid, status, sig, p->pid == 1);
  if (p) trace::point<trace::Event::ProcExit>(uint64_t(p->pid), uint64_t(status), uint64_t(sig));  // --trace=proc
  if (p && p->pid == 1) linux_abi::stats::report(true, status, sig);  // --stats
  if (p && p->pid != 1) process_exit_child(sig ? sig & 0x7f : (status & 0xff) << 8);
  if (ProcessExitHook h = g_exit_hook; h && p) h(status);
  // The VM ends: the --trace rings go to the host (docs/trace.md).
  linux_abi::trace_dump::finish(status, sig);
  if (p) p->exiting.store(true);
  shutdown_prepare();
  power_off(status);
}

}  // namespace

[[noreturn]] void process_exit(int status) { process_end(status, 0); }

[[noreturn]] void process_exit_signaled(int sig) { process_end(128 + sig, sig); }

}  // namespace capsule
