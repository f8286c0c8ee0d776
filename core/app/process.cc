// Starting the application: resolve the program through the VFS, map its
// PT_LOAD segments (and its PT_INTERP loader's) as private file mappings
// into a fresh address space, build the Linux initial stack, start the main
// thread (docs/exec.md).
#include "capsule/process.h"

#include "capsule/address_space.h"
#include "capsule/cpu.h"
#include "capsule/log.h"
#include "capsule/mm.h"
#include "capsule/power.h"
#include "capsule/thread.h"
#include "capsule/time.h"
#include "capsule/uaccess.h"
#include "capsule/vdso.h"
#include "core/app/random.h"
#include "core/elf/elf.h"
#include "core/elf/initial_stack.h"
#include "core/mm/vma.h"
#include "core/sched/thread.h"
#include "capsule/file.h"
#include "capsule/vfs.h"

namespace capsule {
namespace {

Process g_process;
bool g_started;

constexpr uintptr_t STACK_TOP = mm::USER_END;          // 0x7ffffffff000
constexpr size_t STACK_INITIAL = 128 * 1024;           // mapped at exec; grows on demand
constexpr size_t STACK_LIMIT = 8ull << 20;             // RLIMIT_STACK default
constexpr size_t ARG_AREA = 64 * 1024;                 // argv+envp+auxv must fit here

struct StartInfo {
  uintptr_t entry;
  uintptr_t sp;
};
StartInfo g_start;

void app_main(void*) { enter_application(g_start.entry, g_start.sp); }

uint32_t vm_prot(uint32_t seg) {
  return ((seg & elf::SEG_R) ? mm::VM_READ : 0) | ((seg & elf::SEG_W) ? mm::VM_WRITE : 0) |
         ((seg & elf::SEG_X) ? mm::VM_EXEC : 0);
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

// Looks `path` up from the root (symlinks followed), checks that it is an
// executable regular file and parses it. Errors are printed.
Result<void> open_image(StringView path, StringView what, Image& img) {
  vfs::Vfs* fs = vfs::kernel_vfs();
  if (!fs) return Error::NotFound;
  vfs::VnodeRef root = fs->root();
  auto v = fs->resolve({root.get(), root.get()}, path, vfs::WALK_FOLLOW);
  if (!v) {
    kprint("capsule: {} '{}' not found ({})\n", what, path, error_name(v.error()));
    return v.error() == Error::NotFound ? Error::NotFound : v.error();
  }
  img.vnode = static_cast<vfs::VnodeRef&&>(*v);
  auto attr = img.vnode->getattr();
  if (!attr) return attr.error();
  // execve(2): EACCES for anything but a regular file with an execute bit.
  if (!img.vnode->is_regular() || !(attr->mode & 0111)) {
    kprint("capsule: {} '{}' is not an executable file\n", what, path);
    return Error::Permission;
  }
  img.size = attr->size;
  img.plan = new (std::nothrow) elf::LoadPlan();
  if (!img.plan) return Error::NoMemory;
  elf::ElfDiag diag;
  VnodeSource src(*img.vnode, img.size);
  if (auto r = elf::parse_elf(src, *img.plan, &diag); !r.ok()) {
    kprint("capsule: {} '{}' is not a loadable x86-64 ELF program: {}\n", what, path,
           diag.reason ? diag.reason : "bad format");
    return r.error();
  }
  return {};
}

// Maps the segments of a plan at `bias` the way Linux's ELF loader does:
// the file's pages as private mappings (shared read-only with the file
// until written), the tail of the last file page zeroed where the segment
// has bss (p_memsz > p_filesz), and anonymous zero pages for the rest of
// the bss.
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
        TRY(clear_user(reinterpret_cast<void*>(s.zero_start + bias), file_map_end - s.zero_start));
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

}  // namespace

Process* current_process() { return g_started ? &g_process : nullptr; }

Result<void> process_exec(const ExecArgs& a) {
  Image prog;
  TRY(open_image(a.path, "program", prog));
  Image interp;
  char* interp_path = nullptr;
  if (prog.plan->has_interp) {
    interp_path = new (std::nothrow) char[elf::MAX_INTERP + 1];
    if (!interp_path) return Error::NoMemory;
    VnodeSource src(*prog.vnode, prog.size);
    auto n = elf::read_interp(src, *prog.plan, interp_path, elf::MAX_INTERP + 1);
    Result<void> r = n.ok() ? open_image(StringView(interp_path, *n), "interpreter", interp) : Result<void>(n.error());
    if (r.ok() && (interp.plan->type != elf::TYPE_DYN || interp.plan->has_interp)) {
      kprint("capsule: interpreter '{}' is not a shared object without an interpreter\n", interp_path);
      r = Error::BadFormat;
    }
    delete[] interp_path;
    // A missing loader is ENOENT for execve; the shell says 127 as well.
    TRY(r);
  }
  const uint64_t pie_rnd = random_pages_offset(28);
  uint64_t bias = TRY(elf::choose_load_bias(*prog.plan, elf::DEFAULT_PIE_BASE + pie_rnd));

  AddressSpace* as = TRY(AddressSpace::create());
  as->activate();
  TRY(map_segments(as, prog, bias));
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
  if (interp.plan) {
    interp_bias = TRY(place_interpreter(as, *interp.plan));
    TRY(map_segments(as, interp, interp_bias));
  }
  // The vDSO: glibc and musl find clock_gettime & co. through AT_SYSINFO_EHDR.
  if (auto v = vdso_map(*as); v.ok()) g_process.vdso_base = v.value();
  else log_warn("exec: no vDSO ({}): time calls take the syscall path", error_name(v.error()));

  Process& p = g_process;
  p.as = as;
  p.start_ns = uptime_ns();
  size_t n = a.path.size() < sizeof(p.exe) - 1 ? a.path.size() : sizeof(p.exe) - 1;
  for (size_t i = 0; i < n; ++i) p.exe[i] = a.path[i];
  StringView base = a.argc ? a.argv[0] : a.path;
  size_t slash = 0;
  for (size_t i = 0; i < base.size(); ++i)
    if (base[i] == '/') slash = i + 1;
  for (size_t i = 0; slash + i < base.size() && i < 15; ++i) p.comm[i] = base[slash + i];

  elf::StackParams sp;
  sp.argv = a.argv;
  sp.argc = a.argc;
  sp.envp = a.envp;
  sp.envc = a.envc;
  sp.execfn = a.path;
  random_bytes(sp.random, sizeof(sp.random));
  sp.hwcap = x64_hwcap();
  sp.hwcap2 = cpu_features().fsgsbase ? 2 : 0;  // HWCAP2_FSGSBASE
  const elf::LoadPlan* plan = prog.plan;
  sp.phdr = plan->phdr_vaddr + bias;
  sp.phent = plan->phent;
  sp.phnum = plan->phnum;
  sp.entry = plan->entry + bias;
  sp.base = interp.plan ? interp_bias : 0;
  sp.sysinfo_ehdr = p.vdso_base;
  auto* buf = static_cast<uint8_t*>(kmalloc(ARG_AREA));
  if (!buf) return Error::NoMemory;
  auto layout = elf::build_initial_stack(buf, ARG_AREA, STACK_TOP, sp);
  if (!layout.ok()) {
    kfree(buf);
    kprint("capsule: arguments and environment do not fit in {} KiB\n", ARG_AREA / 1024);
    return layout.error();
  }
  uint64_t used = STACK_TOP - layout->sp;
  TRY(copy_to_user(reinterpret_cast<void*>(layout->sp), buf + ARG_AREA - used, used));
  kfree(buf);
  p.auxv_addr = layout->auxv;
  p.auxv_bytes = layout->auxv_count * 16;
  g_start = {interp.plan ? interp.plan->entry + interp_bias : plan->entry + bias, layout->sp};

  ThreadOptions o;
  o.uses_fpu = true;
  Thread* t = TRY(thread_alloc_app("app", app_main, nullptr, o, as, &p));
  p.main_thread = t;
  g_started = true;
  p.thread_count.store(1);
  sched_start_thread(t);
  log_info("exec: {} entry {:#x} sp {:#x}", a.path, g_start.entry, g_start.sp);
  return {};
}

[[noreturn]] void process_exit(int status) {
  g_process.exiting.store(true);
  power_off(status);
}

}  // namespace capsule
