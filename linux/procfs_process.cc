// Per-process /proc files (linux/procfs.h): cmdline, environ, auxv, comm,
// stat, statm, status, maps, limits, oom_score_adj, cgroup, and the
// /proc listing of pids and tids. One process per VM: pid 1; a tid names
// one of its threads (/proc/<tid>, /proc/1/task/<tid>).
#include <new>

#include "core/address_space.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "linux/process.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "core/vdso.h"
#include "core/mm/vma.h"
#include "core/sched/thread.h"
#include "fs/procfs/maps_format.h"
#include "fs/sysfs/cpulist.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/procfs.h"
#include "linux/signal.h"
#include "linux/thread_state.h"
#include "linux/thread_table.h"

namespace capsule::linux_abi::proc {
namespace {

constexpr uint64_t TICK_NS = 10'000'000;  // USER_HZ = 100

int pid() {
  Process* p = current_process();
  return p ? p->pid : 1;
}

// Bytes of the application's memory into out (the caller runs in its
// address space).
Result<void> copy_user_range(uintptr_t start, uintptr_t end, Text& out) {
  char chunk[256];
  for (uintptr_t a = start; a < end;) {
    size_t n = end - a < sizeof(chunk) ? size_t(end - a) : sizeof(chunk);
    if (!copy_from_user(chunk, reinterpret_cast<const void*>(a), n).ok()) return {};  // unmapped: what was read
    out.write(chunk, n);
    a += n;
  }
  return {};
}

struct MemFigures {
  uint64_t vsize = 0, stack = 0, exe = 0, data = 0, rss_pages = 0;
};

MemFigures mem_figures() {
  MemFigures m;
  Process* p = current_process();
  if (!p || !p->as) return m;
  p->as->for_each_vma([&](const mm::Vma& v) {
    m.vsize += v.size();
    if (v.flags & mm::VM_GROWSDOWN) m.stack += v.size();
    else if (v.start >= p->image_start && v.end <= p->image_end && (v.prot & mm::VM_EXEC)) m.exe += v.size();
    else if ((v.prot & mm::VM_WRITE) && !(v.flags & mm::VM_SHARED)) m.data += v.size();
  });
  m.rss_pages = p->as->resident_pages();
  return m;
}

// The name of thread `tid` (0 or the pid: the process's, comm): its
// PR_SET_NAME name if it has one, else the process's.
void comm_of(uint64_t tid, char* out) {
  Process* p = current_process();
  size_t i = 0;
  if (p)
    for (; i < 15 && p->comm[i]; ++i) out[i] = p->comm[i];
  out[i] = 0;
  if (!p || tid == 0 || tid == uint64_t(p->pid) || tid > uint64_t(INT32_MAX)) return;
  char name[16] = {};
  (void)with_thread(int(tid),
                    [](Thread* t, void* ctx) {
                      if (auto* lt = static_cast<LinuxThread*>(t->linux_state))
                        __builtin_memcpy(ctx, lt->name, sizeof(lt->name));
                    },
                    name);
  name[15] = 0;
  if (name[0]) __builtin_memcpy(out, name, 16);
}

uint32_t thread_count() {
  Process* p = current_process();
  return p ? p->thread_count.load() : 1;
}

}  // namespace

// --- listings ---------------------------------------------------------------------

size_t list_pids(uint64_t, uint64_t from, uint64_t* out, size_t cap) {
  if (cap == 0 || uint64_t(pid()) < from) return 0;
  out[0] = uint64_t(pid());
  return 1;
}

bool pid_exists(uint64_t, uint64_t n) { return n == uint64_t(pid()) || tid_exists(0, n); }

size_t list_tids(uint64_t, uint64_t from, uint64_t* out, size_t cap) {
  int tids[32];
  if (from > uint64_t(INT32_MAX)) return 0;
  size_t k = thread_tids(int(from), tids, cap < 32 ? cap : 32);
  for (size_t i = 0; i < k; ++i) out[i] = uint64_t(tids[i]);
  return k;
}

bool tid_exists(uint64_t, uint64_t tid) {
  if (tid == 0 || tid > uint64_t(INT32_MAX)) return false;
  int t;
  return thread_tids(int(tid), &t, 1) == 1 && t == int(tid);
}

Result<void> self_link(uint64_t, Text& out) {
  out.f("{}", pid());
  return {};
}

Result<void> thread_self_link(uint64_t, Text& out) {
  out.f("{}/task/{}", pid(), current_tid());
  return {};
}

// --- contents ---------------------------------------------------------------------

Result<void> show_cmdline(uint64_t, Text& out) {
  Process* p = current_process();
  if (!p) return {};
  return copy_user_range(p->arg_start, p->arg_end, out);
}

Result<void> show_environ(uint64_t, Text& out) {
  Process* p = current_process();
  if (!p) return {};
  return copy_user_range(p->env_start, p->env_end, out);
}

Result<void> show_auxv(uint64_t, Text& out) {
  Process* p = current_process();
  if (!p) return {};
  return copy_user_range(p->auxv_addr, p->auxv_addr + p->auxv_bytes, out);
}

Result<void> show_comm(uint64_t tid, Text& out) {
  char c[16];
  comm_of(tid, c);
  out.f("{}\n", c);
  return {};
}

// Writing comm sets the name: the bytes as written (a newline included, as
// Linux keeps it), at most 15.
Result<void> store_comm(uint64_t tid, StringView data) {
  Process* p = current_process();
  if (!p) return Error::NotFound;
  size_t n = data.size();
  if (n > 15) n = 15;
  char name[16] = {};
  __builtin_memcpy(name, data.data(), n);
  if (tid == 0 || tid == uint64_t(p->pid)) __builtin_memcpy(p->comm, name, 16);
  if (tid > uint64_t(INT32_MAX)) return Error::NotFound;
  // The thread's own name too (what PR_GET_NAME and its task/N/comm show).
  (void)with_thread(tid ? int(tid) : p->pid,
                    [](Thread* t, void* ctx) {
                      if (auto* lt = static_cast<LinuxThread*>(t->linux_state))
                        __builtin_memcpy(lt->name, ctx, sizeof(lt->name));
                    },
                    name);
  return {};
}

// The 52 fields of proc(5)'s /proc/<pid>/stat.
Result<void> show_stat(uint64_t tid, Text& out) {
  Process* p = current_process();
  char c[16];
  comm_of(tid, c);
  MemFigures m = mem_figures();
  uint64_t utime = p ? signal_process_cpu_ns(*p) / TICK_NS : 0;
  uint64_t start = p ? p->start_ns / TICK_NS : 0;
  uintptr_t code_start = p ? p->image_start : 0, code_end = p ? p->image_end : 0;
  uintptr_t brk_start = p && p->as ? p->as->brk_start() : 0;
  uint64_t stack_start = p ? p->arg_start : 0;
  out.f("{} ({}) R 0 {} {} 0 -1 4194560 0 0 0 0 {} 0 0 0 20 0 {} 0 {} {} {} {} ", tid ? tid : uint64_t(pid()), c,
        pid(), pid(), utime, thread_count(), start, m.vsize, m.rss_pages, rlimit_cur(L_RLIMIT_RSS));
  out.f("{} {} {} 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 ", code_start, code_end, stack_start);
  out.f("{} {} {} {} {} {} {} 0\n", code_end, code_end, brk_start, p ? p->arg_start : 0, p ? p->arg_end : 0,
        p ? p->env_start : 0, p ? p->env_end : 0);
  return {};
}

// size resident shared text lib data dt, in pages.
Result<void> show_statm(uint64_t, Text& out) {
  MemFigures m = mem_figures();
  out.f("{} {} 0 {} 0 {} 0\n", m.vsize / PAGE_SIZE, m.rss_pages, m.exe / PAGE_SIZE, (m.data + m.stack) / PAGE_SIZE);
  return {};
}

Result<void> show_status(uint64_t tid, Text& out) {
  char c[16];
  comm_of(tid, c);
  MemFigures m = mem_figures();
  uint32_t euid = current_euid(), fsuid = current_fsuid(), fsgid = current_fsgid();
  out.f("Name:\t{}\nUmask:\t{:04o}\nState:\tR (running)\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t0\nTracerPid:\t0\n", c,
        current_umask(), pid(), tid ? tid : uint64_t(pid()));
  out.f("Uid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t{}\nGroups:\t\n", euid, euid, euid, fsuid, fsgid, fsgid,
        fsgid, fsgid, fds().limit() < 64 ? 64u : fds().limit());
  out.f("NStgid:\t{}\nNSpid:\t{}\nNSpgid:\t{}\nNSsid:\t{}\n", pid(), tid ? tid : uint64_t(pid()), pid(), pid());
  uint64_t kb = 1024;
  out.f("VmPeak:\t{:>8} kB\nVmSize:\t{:>8} kB\nVmLck:\t{:>8} kB\nVmPin:\t{:>8} kB\n", m.vsize / kb, m.vsize / kb, 0, 0);
  out.f("VmHWM:\t{:>8} kB\nVmRSS:\t{:>8} kB\nRssAnon:\t{:>8} kB\nRssFile:\t{:>8} kB\nRssShmem:\t{:>8} kB\n",
        m.rss_pages * 4, m.rss_pages * 4, m.rss_pages * 4, 0, 0);
  out.f("VmData:\t{:>8} kB\nVmStk:\t{:>8} kB\nVmExe:\t{:>8} kB\nVmLib:\t{:>8} kB\nVmPTE:\t{:>8} kB\nVmSwap:\t{:>8} kB\n",
        m.data / kb, m.stack / kb, m.exe / kb, 0, 4, 0);
  out.f("HugetlbPages:\t{:>8} kB\nCoreDumping:\t0\nTHP_enabled:\t0\nThreads:\t{}\n", 0, thread_count());
  uint64_t shared = 0, ignored = 0, caught = 0;
  if (Process* sp = current_process()) signal_process_masks(*sp, &shared, &ignored, &caught);
  struct ThreadMasks {
    uint64_t blocked = 0, pending = 0;
  } tm;
  // The thread's own mask and pending set (a snapshot: read without the
  // signal lock, which must not nest inside the thread table's).
  (void)with_thread(tid && tid != uint64_t(pid()) ? int(tid) : pid(),
                    [](Thread* t, void* ctx) {
                      auto* m = static_cast<ThreadMasks*>(ctx);
                      if (auto* lt = static_cast<LinuxThread*>(t->linux_state)) {
                        m->blocked = __atomic_load_n(&lt->sigmask, __ATOMIC_RELAXED);
                        m->pending = __atomic_load_n(&lt->pending, __ATOMIC_RELAXED);
                      }
                    },
                    &tm);
  out.f("SigQ:\t0/{}\nSigPnd:\t{:016x}\nShdPnd:\t{:016x}\nSigBlk:\t{:016x}\nSigIgn:\t{:016x}\nSigCgt:\t{:016x}\n",
        rlimit_cur(L_RLIMIT_SIGPENDING), tm.pending, shared, tm.blocked, ignored, caught);
  CapsView caps{0, 0, 0, L_CAP_FULL_SET, 0};
  if (Process* cp = current_process()) caps = caps_of(*cp);
  out.f("CapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\n", caps.inh,
        caps.prm, caps.eff, caps.bnd, caps.amb);
  out.f("NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\nSpeculation_Store_Bypass:\tnot vulnerable\n");
  bool set[MAX_CPUS];
  uint32_t n = cpu_count() < MAX_CPUS ? cpu_count() : uint32_t(MAX_CPUS);
  uint64_t mask = 0;
  for (uint32_t i = 0; i < n; ++i) set[i] = true, mask |= 1ull << i;
  out.f("Cpus_allowed:\t{:x}\nCpus_allowed_list:\t", mask);
  sysfs::format_cpu_list(out, set, n);
  out.str("\nMems_allowed:\t1\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
  return {};
}

// /proc/<pid>/maps: one line per VMA, named as Linux names them.
Result<void> show_maps(uint64_t, Text& out) {
  Process* p = current_process();
  if (!p || !p->as) return {};
  size_t cap = p->as->vma_count() + 8;
  auto* lines = new (std::nothrow) procfs::MapsLine[cap];
  auto** backing = new (std::nothrow) mm::VmBacking*[cap];
  if (!lines || !backing) {
    delete[] lines;
    delete[] backing;
    return Error::NoMemory;
  }
  uintptr_t brk_start = p->as->brk_start(), brk_end = p->as->brk_end();
  uintptr_t vvar = p->vdso_base ? p->vdso_base - PAGE_SIZE : 0;
  uintptr_t vdso_end = p->vdso_base ? vvar + vdso_pages() * PAGE_SIZE : 0;
  size_t n = 0;
  p->as->for_each_vma([&](const mm::Vma& v) {
    if (n == cap) return;
    procfs::MapsLine& l = lines[n];
    l = {};
    l.start = v.start;
    l.end = v.end;
    l.read = v.prot & mm::VM_READ;
    l.write = v.prot & mm::VM_WRITE;
    l.exec = v.prot & mm::VM_EXEC;
    l.shared = v.flags & mm::VM_SHARED;
    l.offset = v.backing ? v.offset : 0;  // Linux prints 0 for anonymous memory
    backing[n] = v.backing;
    if (v.backing) v.backing->retain();
    if (v.start >= p->image_start && v.start < p->image_end && v.backing && v.backing->is_file()) {
      // The program's segments: named without a search. (Its bss, past
      // the file, is anonymous and unnamed, as on Linux.)
      l.name = StringView(p->exe);
    } else if (v.start == vvar && p->vdso_base) {
      l.name = "[vvar]";
      l.shared = false;
      l.offset = 0;
    } else if (v.start >= p->vdso_base && v.end <= vdso_end && p->vdso_base) {
      l.name = "[vdso]";
      l.shared = false;
      l.offset = 0;
    } else if (!v.backing && v.start >= brk_start && v.start < brk_end && brk_end > brk_start) {
      l.name = "[heap]";
    } else if (v.flags & mm::VM_GROWSDOWN) {
      l.name = "[stack]";
    }
    ++n;
  });
  // The program's inode, for its lines.
  uint64_t exe_ino = 0, exe_dev = 0;
  {
    Ctx ctx = cur_ctx();
    if (auto a = vfs::kernel_vfs()->stat(ctx.pc(), StringView(p->exe), true); a.ok())
      exe_ino = a.value().ino, exe_dev = a.value().dev;
  }
  // A file's path costs a search: found once per file (its segments are
  // usually next to each other).
  Text path;
  mm::VmBacking* path_for = nullptr;
  bool have_path = false;
  for (size_t i = 0; i < n; ++i) {
    if (lines[i].name.data() == p->exe) {
      lines[i].ino = exe_ino;
      lines[i].minor = uint32_t(exe_dev);
    } else if (backing[i] && backing[i]->is_file()) {
      auto* v = static_cast<vfs::Vnode*>(backing[i]);
      lines[i].ino = v->ino();
      lines[i].minor = uint32_t(v->fs()->dev());
      if (backing[i] != path_for) {
        path.take_and_free();
        have_path = path_of_vnode(*v, path);
        path_for = backing[i];
      }
      if (have_path) lines[i].name = path.view();
    }
    procfs::format_maps_line(out, lines[i]);
  }
  for (size_t i = 0; i < n; ++i)
    if (backing[i]) backing[i]->release();
  delete[] lines;
  delete[] backing;
  return {};
}

Result<void> show_limits(uint64_t, Text& out) {
  static const struct {
    const char* name;
    const char* unit;
  } rows[] = {
      {"Max cpu time", "seconds"},     {"Max file size", "bytes"},       {"Max data size", "bytes"},
      {"Max stack size", "bytes"},     {"Max core file size", "bytes"},  {"Max resident set", "bytes"},
      {"Max processes", "processes"},  {"Max open files", "files"},      {"Max locked memory", "bytes"},
      {"Max address space", "bytes"},  {"Max file locks", "locks"},      {"Max pending signals", "signals"},
      {"Max msgqueue size", "bytes"},  {"Max nice priority", ""},        {"Max realtime priority", ""},
      {"Max realtime timeout", "us"},
  };
  out.f("{:<25} {:<20} {:<20} {:<10}\n", "Limit", "Soft Limit", "Hard Limit", "Units");
  for (int i = 0; i < int(sizeof(rows) / sizeof(rows[0])); ++i) {
    uint64_t s = rlimit_cur(i), h = rlimit_max(i);
    char sb[24], hb[24];
    if (s == ~0ull) format_to(sb, sizeof(sb), "unlimited");
    else format_to(sb, sizeof(sb), "{}", s);
    if (h == ~0ull) format_to(hb, sizeof(hb), "unlimited");
    else format_to(hb, sizeof(hb), "{}", h);
    out.f("{:<25} {:<20} {:<20} {:<10}\n", rows[i].name, sb, hb, rows[i].unit);
  }
  return {};
}

Result<void> show_oom_score_adj(uint64_t, Text& out) {
  Process* p = current_process();
  out.f("{}\n", p ? p->oom_score_adj.load(std::memory_order_relaxed) : 0);
  return {};
}

// An integer in [-1000, 1000] (EINVAL otherwise), kept and shown back; there
// is no OOM killer to consult it.
Result<void> store_oom_score_adj(uint64_t, StringView data) {
  size_t i = 0;
  while (i < data.size() && (data[i] == ' ' || data[i] == '\t')) ++i;
  bool neg = i < data.size() && data[i] == '-';
  if (neg || (i < data.size() && data[i] == '+')) ++i;
  int64_t v = 0;
  size_t digits = 0;
  for (; i < data.size() && data[i] >= '0' && data[i] <= '9' && digits < 6; ++i, ++digits) v = v * 10 + (data[i] - '0');
  while (i < data.size() && (data[i] == '\n' || data[i] == ' ')) ++i;
  if (!digits || i != data.size()) return Error::Invalid;
  if (neg) v = -v;
  if (v < -1000 || v > 1000) return Error::Invalid;
  if (Process* p = current_process()) p->oom_score_adj.store(v, std::memory_order_relaxed);
  return {};
}

// cgroup v2's root: no controllers, no limits.
Result<void> show_cgroup(uint64_t, Text& out) {
  out.str("0::/\n");
  return {};
}

}  // namespace capsule::linux_abi::proc
