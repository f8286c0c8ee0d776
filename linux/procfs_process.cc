// Per-process /proc files (linux/procfs.h): cmdline, environ, auxv, comm,
// stat, statm, status, maps, limits, oom_score_adj, cgroup, and the
// /proc listing of pids and tids. Every entry answers for the process its
// argument names (a pid, or a tid of one of its threads: /proc/<tid>,
// /proc/<pid>/task/<tid>), held by a reference (Target) while it is read;
// another process's memory is read through its page tables
// (process_read_memory), its state under its families' locks.
#include <new>

#include "core/address_space.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "linux/memfd.h"
#include "linux/process.h"
#include "core/time.h"
#include "core/vdso.h"
#include "core/mm/vma.h"
#include "core/sched/thread.h"
#include "fs/procfs/maps_format.h"
#include "fs/sysfs/cpulist.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/procfs.h"
#include "linux/process_state.h"
#include "linux/signal.h"
#include "linux/thread_state.h"
#include "linux/thread_table.h"

namespace capsule::linux_abi::proc {

Target::Target(uint64_t n) : p_(n == 0 || n > uint64_t(INT32_MAX) ? nullptr : process_get_by_tid(int(n))) {}
Target::~Target() { process_put(p_); }

bool Target::zombie() const {
  SpinGuard g(process_table_lock());
  return p_ && p_->zombie;
}

namespace {

constexpr uint64_t TICK_NS = 10'000'000;  // USER_HZ = 100

int pid() {
  Process* p = current_process();
  return p ? p->pid : 1;
}

// Bytes of p's memory into out: what is there, up to the first page absent.
void copy_process_range(Process& p, uintptr_t start, uintptr_t end, Text& out) {
  char chunk[256];
  for (uintptr_t a = start; a < end;) {
    size_t n = end - a < sizeof(chunk) ? size_t(end - a) : sizeof(chunk);
    size_t got = process_read_memory(p, a, chunk, n);
    out.write(chunk, got);
    if (got < n) return;
    a += n;
  }
}

struct MemFigures {
  uint64_t vsize = 0, stack = 0, exe = 0, data = 0, rss_pages = 0;
  uintptr_t brk_start = 0;
  uintptr_t image_start = 0, image_end = 0;
};

MemFigures mem_figures(Process& p) {
  MemFigures m;
  m.image_start = p.image_start;
  m.image_end = p.image_end;
  process_with_as(
      p,
      [](AddressSpace* as, void* ctx) {
        auto& m = *static_cast<MemFigures*>(ctx);
        if (!as) return;
        as->for_each_vma([&](const mm::Vma& v) {
          m.vsize += v.size();
          if (v.flags & mm::VM_GROWSDOWN) m.stack += v.size();
          else if (v.start >= m.image_start && v.end <= m.image_end && (v.prot & mm::VM_EXEC)) m.exe += v.size();
          else if ((v.prot & mm::VM_WRITE) && !(v.flags & mm::VM_SHARED)) m.data += v.size();
        });
        m.rss_pages = as->resident_pages();
        m.brk_start = as->brk_start();
      },
      &m);
  return m;
}

// The name of thread `tid` of p (its pid: the process's, comm): its
// PR_SET_NAME name if it has one, else the process's.
void comm_of(Process& p, uint64_t tid, char* out) {
  size_t i = 0;
  for (; i < 15 && p.comm[i]; ++i) out[i] = p.comm[i];
  out[i] = 0;
  if (tid == 0 || tid == uint64_t(p.pid) || tid > uint64_t(INT32_MAX)) return;
  char name[16] = {};
  (void)with_thread_in(&p, int(tid),
                       [](Thread* t, void* ctx) {
                         if (auto* lt = static_cast<LinuxThread*>(t->linux_state))
                           __builtin_memcpy(ctx, lt->name, sizeof(lt->name));
                       },
                       name);
  name[15] = 0;
  if (name[0]) __builtin_memcpy(out, name, 16);
}

// What /proc shows of a process's family state, each read under its lock.
struct Facts {
  int ppid = 0, pgid = 0, sid = 0;
  bool zombie = false;
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0, rgid = 0, egid = 0, sgid = 0, fsgid = 0, umask = 022;
  uint64_t cpu_ns = 0, children_cpu_ns = 0;
  char state = 'S';
  uint32_t threads = 0;
};

// Whether any thread of p is runnable or running (the caller's own is).
bool any_running(Process& p) {
  if (&p == current_process()) return true;
  int tids[32];
  size_t k = thread_tids_in(&p, 0, tids, 32);
  bool running = false;
  for (size_t i = 0; i < k && !running; ++i)
    (void)with_thread_in(&p, tids[i],
                         [](Thread* t, void* ctx) {
                           if (t->state.load(std::memory_order_relaxed) == ThreadState::Running)
                             *static_cast<bool*>(ctx) = true;
                         },
                         &running);
  return running;
}

Facts facts_of(Process& p) {
  Facts f;
  {
    SpinGuard g(process_table_lock());
    f.ppid = p.ppid;
    f.zombie = p.zombie;
  }
  {
    Creds& c = *p.creds;
    SpinGuard g(c.lock);
    f.ruid = c.ruid, f.euid = c.euid, f.suid = c.suid, f.fsuid = c.fsuid;
    f.rgid = c.rgid, f.egid = c.egid, f.sgid = c.sgid, f.fsgid = c.fsgid;
    f.umask = c.umask;
    f.pgid = c.pgid, f.sid = c.sid;
  }
  f.children_cpu_ns = p.children_cpu_ns.load();
  if (f.zombie) {
    f.cpu_ns = p.zombie_cpu_ns;
    f.state = 'Z';
    f.threads = 1;  // Linux shows the group leader
  } else {
    f.cpu_ns = p.exited_cpu_ns.load() + signal_process_cpu_ns(p);
    f.state = signal_process_stopped(p) ? 'T' : any_running(p) ? 'R' : 'S';
    f.threads = p.thread_count.load();
  }
  return f;
}

const char* state_name(char s) {
  switch (s) {
    case 'R': return "R (running)";
    case 'Z': return "Z (zombie)";
    case 'T': return "T (stopped)";
    default: return "S (sleeping)";
  }
}

uint64_t rlim_of(Process& p, int resource, bool max) {
  SpinGuard g(p.limits->lock);
  return max ? p.limits->rl[resource].max : p.limits->rl[resource].cur;
}

}  // namespace

// --- listings ---------------------------------------------------------------------

// Every process in the table (zombies included), ascending: the cap
// smallest pids >= from.
size_t list_pids(uint64_t, uint64_t from, uint64_t* out, size_t cap) {
  size_t k = 0;
  SpinGuard g(process_table_lock());
  for (size_t i = 0; i < process_slots(); ++i) {
    Process* p = process_slot_locked(i);
    if (!p || uint64_t(p->pid) < from) continue;
    uint64_t pid = uint64_t(p->pid);
    if (k < cap) {
      out[k++] = pid;
      continue;
    }
    size_t m = 0;  // full: replace the largest if this one is smaller
    for (size_t j = 1; j < k; ++j)
      if (out[j] > out[m]) m = j;
    if (k && pid < out[m]) out[m] = pid;
  }
  for (size_t i = 1; i < k; ++i)  // insertion sort: at most cap (32) entries
    for (size_t j = i; j > 0 && out[j - 1] > out[j]; --j) {
      uint64_t t = out[j];
      out[j] = out[j - 1];
      out[j - 1] = t;
    }
  return k;
}

// A process's pid, or any live thread's tid (not listed, as on Linux).
bool pid_exists(uint64_t, uint64_t n) { return !Target(n).null(); }

size_t list_tids(uint64_t pid, uint64_t from, uint64_t* out, size_t cap) {
  int tids[32];
  if (from > uint64_t(INT32_MAX)) return 0;
  Target p(pid);
  if (p.null()) return 0;
  size_t k = thread_tids_in(p.get(), int(from), tids, cap < 32 ? cap : 32);
  if (k == 0 && p.zombie() && uint64_t(p->pid) >= from && cap) {
    out[0] = uint64_t(p->pid);  // a zombie's task/ still shows its leader
    return 1;
  }
  for (size_t i = 0; i < k; ++i) out[i] = uint64_t(tids[i]);
  return k;
}

void owner(uint64_t arg, uint32_t* uid, uint32_t* gid) {
  Target p(arg >> 32 ? fd_arg_pid(arg) : arg);
  if (p.null()) return;
  Creds& c = *p->creds;
  SpinGuard g(c.lock);
  *uid = c.euid;
  *gid = c.egid;
}

bool tid_exists(uint64_t pid, uint64_t tid) {
  if (tid == 0 || tid > uint64_t(INT32_MAX)) return false;
  Target p(pid);
  if (p.null()) return false;
  if (tid == uint64_t(p->pid) && p.zombie()) return true;
  int t;
  return thread_tids_in(p.get(), int(tid), &t, 1) == 1 && t == int(tid);
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

// A zombie has no memory left: cmdline, environ and auxv read empty, as
// Linux's do.
Result<void> show_cmdline(uint64_t n, Text& out) {
  Target p(n);
  if (p.null()) return Error::NotFound;
  copy_process_range(*p.get(), p->arg_start, p->arg_end, out);
  return {};
}

Result<void> show_environ(uint64_t n, Text& out) {
  Target p(n);
  if (p.null()) return Error::NotFound;
  copy_process_range(*p.get(), p->env_start, p->env_end, out);
  return {};
}

Result<void> show_auxv(uint64_t n, Text& out) {
  Target p(n);
  if (p.null()) return Error::NotFound;
  copy_process_range(*p.get(), p->auxv_addr, p->auxv_addr + p->auxv_bytes, out);
  return {};
}

Result<void> show_comm(uint64_t tid, Text& out) {
  Target p(tid);
  if (p.null()) return Error::NotFound;
  char c[16];
  comm_of(*p.get(), tid, c);
  out.f("{}\n", c);
  return {};
}

// Writing comm sets the name: the bytes as written (a newline included, as
// Linux keeps it), at most 15.
Result<void> store_comm(uint64_t tid, StringView data) {
  Target p(tid);
  if (p.null()) return Error::NotFound;
  size_t n = data.size();
  if (n > 15) n = 15;
  char name[16] = {};
  __builtin_memcpy(name, data.data(), n);
  if (tid == uint64_t(p->pid)) __builtin_memcpy(p->comm, name, 16);
  // The thread's own name too (what PR_GET_NAME and its task/N/comm show).
  (void)with_thread_in(p.get(), int(tid),
                       [](Thread* t, void* ctx) {
                         if (auto* lt = static_cast<LinuxThread*>(t->linux_state))
                           __builtin_memcpy(lt->name, ctx, sizeof(lt->name));
                       },
                       name);
  return {};
}

// The 52 fields of proc(5)'s /proc/<pid>/stat.
Result<void> show_stat(uint64_t tid, Text& out) {
  Target t(tid);
  if (t.null()) return Error::NotFound;
  Process& p = *t.get();
  char c[16];
  comm_of(p, tid, c);
  Facts f = facts_of(p);
  MemFigures m = mem_figures(p);
  uint64_t utime = f.cpu_ns / TICK_NS, cutime = f.children_cpu_ns / TICK_NS;
  uint64_t start = p.start_ns / TICK_NS;
  uintptr_t code_start = f.zombie ? 0 : p.image_start, code_end = f.zombie ? 0 : p.image_end;
  uint64_t stack_start = f.zombie ? 0 : p.arg_start;
  // flags: PF_FORKNOEXEC (0x40) until it execs, as Linux's.
  uint64_t flags = 0x400000 | (p.did_exec.load() || p.pid == 1 ? 0 : 0x40);
  out.f("{} ({}) {} {} {} {} 0 -1 {} 0 0 0 0 {} 0 {} 0 20 0 {} 0 {} {} {} {} ", tid, c, f.state, f.ppid, f.pgid,
        f.sid, flags, utime, cutime, f.threads, start, m.vsize, m.rss_pages, rlim_of(p, L_RLIMIT_RSS, false));
  out.f("{} {} {} 0 0 0 0 0 0 0 0 0 {} 0 0 0 0 0 0 ", code_start, code_end, stack_start, p.exit_signal ? p.exit_signal : 17);
  if (f.zombie) {
    out.str("0 0 0 0 0 0 0 0\n");
  } else {
    out.f("{} {} {} {} {} {} {} 0\n", code_end, code_end, m.brk_start, p.arg_start, p.arg_end, p.env_start,
          p.env_end);
  }
  return {};
}

// size resident shared text lib data dt, in pages.
Result<void> show_statm(uint64_t n, Text& out) {
  Target p(n);
  if (p.null()) return Error::NotFound;
  MemFigures m = mem_figures(*p.get());
  out.f("{} {} 0 {} 0 {} 0\n", m.vsize / PAGE_SIZE, m.rss_pages, m.exe / PAGE_SIZE, (m.data + m.stack) / PAGE_SIZE);
  return {};
}

Result<void> show_status(uint64_t tid, Text& out) {
  Target t(tid);
  if (t.null()) return Error::NotFound;
  Process& p = *t.get();
  char c[16];
  comm_of(p, tid, c);
  Facts f = facts_of(p);
  MemFigures m = mem_figures(p);
  out.f("Name:\t{}\nUmask:\t{:04o}\nState:\t{}\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t0\n", c,
        f.umask, state_name(f.state), p.pid, tid, f.ppid);
  unsigned fd_limit = p.files->fds->limit();
  out.f("Uid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t{}\nGroups:\t\n", f.ruid, f.euid, f.suid, f.fsuid,
        f.rgid, f.egid, f.sgid, f.fsgid, f.zombie ? 0u : fd_limit < 64 ? 64u : fd_limit);
  out.f("NStgid:\t{}\nNSpid:\t{}\nNSpgid:\t{}\nNSsid:\t{}\n", p.pid, tid, f.pgid, f.sid);
  if (!f.zombie) {
    uint64_t kb = 1024;
    out.f("VmPeak:\t{:>8} kB\nVmSize:\t{:>8} kB\nVmLck:\t{:>8} kB\nVmPin:\t{:>8} kB\n", m.vsize / kb, m.vsize / kb, 0,
          0);
    out.f("VmHWM:\t{:>8} kB\nVmRSS:\t{:>8} kB\nRssAnon:\t{:>8} kB\nRssFile:\t{:>8} kB\nRssShmem:\t{:>8} kB\n",
          m.rss_pages * 4, m.rss_pages * 4, m.rss_pages * 4, 0, 0);
    out.f("VmData:\t{:>8} kB\nVmStk:\t{:>8} kB\nVmExe:\t{:>8} kB\nVmLib:\t{:>8} kB\nVmPTE:\t{:>8} kB\nVmSwap:\t{:>8} "
          "kB\n",
          m.data / kb, m.stack / kb, m.exe / kb, 0, 4, 0);
    out.f("HugetlbPages:\t{:>8} kB\n", 0);
  }
  out.f("CoreDumping:\t0\nTHP_enabled:\t0\nThreads:\t{}\n", f.threads);
  uint64_t shared = 0, ignored = 0, caught = 0;
  signal_process_masks(p, &shared, &ignored, &caught);
  struct ThreadMasks {
    uint64_t blocked = 0, pending = 0;
  } tm;
  // The thread's own mask and pending set (a snapshot: read without the
  // signal lock, which must not nest inside the thread table's).
  (void)with_thread_in(&p, int(tid),
                       [](Thread* t, void* ctx) {
                         auto* m = static_cast<ThreadMasks*>(ctx);
                         if (auto* lt = static_cast<LinuxThread*>(t->linux_state)) {
                           m->blocked = __atomic_load_n(&lt->sigmask, __ATOMIC_RELAXED);
                           m->pending = __atomic_load_n(&lt->pending, __ATOMIC_RELAXED);
                         }
                       },
                       &tm);
  out.f("SigQ:\t0/{}\nSigPnd:\t{:016x}\nShdPnd:\t{:016x}\nSigBlk:\t{:016x}\nSigIgn:\t{:016x}\nSigCgt:\t{:016x}\n",
        rlim_of(p, L_RLIMIT_SIGPENDING, false), tm.pending, shared, tm.blocked, ignored, caught);
  CapsView caps = caps_of(p);
  out.f("CapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\n", caps.inh,
        caps.prm, caps.eff, caps.bnd, caps.amb);
  out.f("NoNewPrivs:\t{}\nSeccomp:\t0\nSeccomp_filters:\t0\nSpeculation_Store_Bypass:\tnot vulnerable\n",
        p.limits->no_new_privs.load());
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
Result<void> show_maps(uint64_t pid, Text& out) {
  Target t(pid);
  if (t.null()) return Error::NotFound;
  Process* p = t.get();
  size_t count = 0;
  process_with_as(
      *p, [](AddressSpace* as, void* ctx) { *static_cast<size_t*>(ctx) = as ? as->vma_count() : 0; }, &count);
  if (count == 0) return {};  // a zombie: no memory
  size_t cap = count + 8;
  auto* lines = new (std::nothrow) procfs::MapsLine[cap];
  auto** backing = new (std::nothrow) mm::VmBacking*[cap];
  if (!lines || !backing) {
    delete[] lines;
    delete[] backing;
    return Error::NoMemory;
  }
  struct Fill {
    Process* p;
    procfs::MapsLine* lines;
    mm::VmBacking** backing;
    size_t cap, n = 0;
  } fill{p, lines, backing, cap};
  // Under the process's as_lock (its space cannot go meanwhile); the
  // backings are held for naming the files after.
  process_with_as(
      *p,
      [](AddressSpace* as, void* ctx) {
        auto& f = *static_cast<Fill*>(ctx);
        Process* p = f.p;
        if (!as) return;
        uintptr_t brk_start = as->brk_start(), brk_end = as->brk_end();
        uintptr_t vvar = p->vdso_base ? p->vdso_base - PAGE_SIZE : 0;
        uintptr_t vdso_end = p->vdso_base ? vvar + vdso_pages() * PAGE_SIZE : 0;
        as->for_each_vma([&](const mm::Vma& v) {
          if (f.n == f.cap) return;
          procfs::MapsLine& l = f.lines[f.n];
          l = {};
          l.start = v.start;
          l.end = v.end;
          l.read = v.prot & mm::VM_READ;
          l.write = v.prot & mm::VM_WRITE;
          l.exec = v.prot & mm::VM_EXEC;
          l.shared = v.flags & mm::VM_SHARED;
          l.offset = v.backing ? v.offset : 0;  // Linux prints 0 for anonymous memory
          f.backing[f.n] = v.backing;
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
          ++f.n;
        });
      },
      &fill);
  size_t n = fill.n;
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
        // memfds and shared anonymous memory: "/memfd:NAME (deleted)",
        // "/dev/zero (deleted)", as Linux names them (no search).
        if (StringView tag = anon_file_tag(*v); !tag.empty()) {
          path.f("/{} (deleted)", tag);
          have_path = true;
        } else {
          have_path = path_of_vnode(*v, path);
        }
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

Result<void> show_limits(uint64_t pid, Text& out) {
  Target p(pid);
  if (p.null()) return Error::NotFound;
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
    uint64_t s = rlim_of(*p.get(), i, false), h = rlim_of(*p.get(), i, true);
    char sb[24], hb[24];
    if (s == ~0ull) format_to(sb, sizeof(sb), "unlimited");
    else format_to(sb, sizeof(sb), "{}", s);
    if (h == ~0ull) format_to(hb, sizeof(hb), "unlimited");
    else format_to(hb, sizeof(hb), "{}", h);
    out.f("{:<25} {:<20} {:<20} {:<10}\n", rows[i].name, sb, hb, rows[i].unit);
  }
  return {};
}

Result<void> show_oom_score_adj(uint64_t pid, Text& out) {
  Target p(pid);
  if (p.null()) return Error::NotFound;
  out.f("{}\n", p->oom_score_adj.load(std::memory_order_relaxed));
  return {};
}

// An integer in [-1000, 1000] (EINVAL otherwise; as Linux's kstrtoint: white
// space around, 0x and 0 prefixes, ERANGE past an int), kept and shown
// back; there is no OOM killer to consult it.
Result<void> store_oom_score_adj(uint64_t pid, StringView data) {
  const int32_t v = TRY(procfs::parse_write_int(data));
  if (v < -1000 || v > 1000) return Error::Invalid;
  Target p(pid);
  if (p.null()) return Error::NotFound;
  p->oom_score_adj.store(v, std::memory_order_relaxed);
  return {};
}

// cgroup v2's root: no controllers, no limits.
Result<void> show_cgroup(uint64_t, Text& out) {
  out.str("0::/\n");
  return {};
}

}  // namespace capsule::linux_abi::proc
