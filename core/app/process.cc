// Starting the application: load the ELF from the initrd into a fresh
// address space, build the Linux initial stack, start the main thread
// (docs/exec.md). Static programs (ET_EXEC and static-PIE) for now; a
// PT_INTERP program is refused with a clear message until dynamic loading.
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
#include "fs/initrd/initrd.h"

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

Result<void> map_segments(AddressSpace* as, const elf::LoadPlan& plan, const initrd::File* f, uint64_t bias) {
  for (size_t i = 0; i < plan.segment_count; ++i) {
    const elf::Segment& s = plan.segments[i];
    mm::MapRequest req;
    req.addr = s.map_start + bias;
    req.len = s.map_end - s.map_start;
    req.prot = mm::VM_READ | mm::VM_WRITE;  // filled now, protected below
    req.placement = mm::Placement::Fixed;
    TRY(as->mmap(req));
    // File bytes, then zeros (the VMA is fresh, so the rest already reads 0).
    if (s.file_size) {
      if (s.file_offset + s.file_size > f->size) return Error::BadFormat;
      TRY(copy_to_user(reinterpret_cast<void*>(s.map_start + bias), f->data + s.file_offset, s.file_size));
    }
    // The part of the last file page past p_filesz must read as zero: it is
    // (copy_to_user copied exactly file_size bytes into fresh zero pages).
    TRY(as->mprotect(req.addr, req.len, vm_prot(s.prot)));
  }
  return {};
}

}  // namespace

Process* current_process() { return g_started ? &g_process : nullptr; }

Result<void> process_exec(const ExecArgs& a) {
  const initrd::File* f = initrd::lookup(a.path);
  if (!f) {
    kprint("capsule: program '{}' not found in the initrd\n", a.path);
    return Error::NotFound;
  }
  if ((f->mode & 0170000) != 0100000) {
    kprint("capsule: '{}' is not a regular file\n", a.path);
    return Error::Permission;
  }
  auto* plan = new (std::nothrow) elf::LoadPlan();
  if (!plan) return Error::NoMemory;
  elf::ElfDiag diag;
  if (auto r = elf::parse_elf(f->data, f->size, *plan, &diag); !r.ok()) {
    kprint("capsule: '{}' is not a loadable x86-64 ELF program: {}\n", a.path, diag.reason ? diag.reason : "bad format");
    delete plan;
    return r.error();
  }
  if (plan->has_interp) {
    kprint("capsule: '{}' is dynamically linked (interpreter {}); only static programs run yet\n", a.path,
           plan->interp);
    delete plan;
    return Error::NotSupported;
  }
  uint64_t bias = TRY(elf::choose_load_bias(*plan, elf::DEFAULT_PIE_BASE));

  AddressSpace* as = TRY(AddressSpace::create());
  as->activate();
  TRY(map_segments(as, *plan, f, bias));
  g_process.image_start = plan->segment_count ? plan->segments[0].map_start + bias : 0;
  g_process.image_end = plan->segment_count ? plan->segments[plan->segment_count - 1].map_end + bias : 0;
  as->set_brk_base(plan->hi + bias);

  // Stack: a grows-down VMA at the top of the lower half.
  mm::MapRequest st;
  st.addr = STACK_TOP - STACK_INITIAL;
  st.len = STACK_INITIAL;
  st.prot = mm::VM_READ | mm::VM_WRITE;
  st.flags = mm::VM_GROWSDOWN;
  st.placement = mm::Placement::Fixed;
  TRY(as->mmap(st));
  as->set_mmap_base(STACK_TOP - STACK_LIMIT - (1ull << 20));
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
  sp.phdr = plan->phdr_vaddr + bias;
  sp.phent = plan->phent;
  sp.phnum = plan->phnum;
  sp.entry = plan->entry + bias;
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
  p.arg_start = p.arg_end = layout->strings_start;
  for (size_t i = 0; i < a.argc; ++i) p.arg_end += a.argv[i].size() + 1;
  p.env_start = p.env_end = p.arg_end;
  for (size_t i = 0; i < a.envc; ++i) p.env_end += a.envp[i].size() + 1;
  p.auxv_bytes = layout->auxv_count * 16;
  g_start = {plan->entry + bias, layout->sp};
  delete plan;

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
