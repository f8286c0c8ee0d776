// The debug kernel's lock checker (docs/debug-kernel.md; the normal kernel
// compiles none of this). The locking primitives call it through
// arch/lock_debug.h:
//
// - Lock classes: a lock's class is where it is constructed (file and line
//   of the enclosing type's constructor or of the variable), so every pipe's
//   lock is one class. Kind (spinlock, mutex) is part of the class.
// - Held locks: spinlocks per CPU (they are held with interrupts off, and
//   the scheduler hands a run-queue lock from one thread to the next on the
//   same CPU), mutexes per thread (Thread::held_mutexes).
// - Order: before a lock of class B is waited for, each held lock of class
//   A != B gives the edge A -> B. A new edge is first checked for a path
//   B -> ... -> A in the graph of edges seen so far; one means two code
//   paths take the locks in opposite orders (a deadlock waiting for its
//   timing), reported with the backtrace that made the first edge of the
//   old path and the current one. The new edge is then recorded, so each
//   inversion is reported once. Same-class nesting is not checked.
// - Sleeping (sched_block, a mutex or semaphore wait) with a spinlock held
//   on this CPU: reported once per call chain.
// - A spinlock taken with interrupts on (a bare lock(), not SpinGuard's):
//   reported once per site.
// - Interrupts off too long: an outermost IrqGuard (every SpinGuard has
//   one) notes the TSC when it turns interrupts off; turning them back on
//   more than the limit later is reported once per site. A context switch
//   restarts the window (the next thread's time is its own).
//
// Fast path (every lock taken): a lock-free look-up of the class and of
// each edge from the held locks; the graph lock is taken only to add a
// class or an edge. Tables are fixed; when one fills, that is said once and
// the checking stops (the kernel goes on).
#ifdef CAPSULE_DEBUG_KERNEL

#include <atomic>

#include "arch/cpu.h"
#include "arch/lock_debug.h"
#include "arch/percpu.h"
#include "arch/x64/cpu/x64.h"
#include "core/backtrace.h"
#include "core/lock_check.h"
#include "core/sched/thread.h"
#include "core/shutdown.h"
#include "lib/log.h"
#include "lib/symbols.h"

namespace capsule {
namespace {

constexpr uint32_t MAX_CLASSES = 2048;
constexpr uint32_t CLASS_SLOTS = 4096;   // hash slots, a power of two
constexpr uint32_t MAX_EDGES = 8192;
constexpr uint32_t EDGE_SLOTS = 16384;
constexpr unsigned EDGE_TRACE = 6;
constexpr uint32_t REPORT_SLOTS = 512;

struct LockClass {
  const char* file;
  unsigned line;
  LockKind kind;
  uint32_t first_edge;  // out-edges, linked through Edge::next (0: none)
};

struct Edge {
  uint32_t from, to;
  uint32_t next;
  uintptr_t trace[EDGE_TRACE];  // where `to` was first taken with `from` held
};

struct ClassSlot {
  std::atomic<const char*> file;  // written last: the slot is valid
  unsigned line;
  LockKind kind;
  uint32_t cls;
};

// Index 0 of classes and edges is unused: 0 means none.
LockClass g_classes[MAX_CLASSES];
std::atomic<uint32_t> g_class_count{1};
ClassSlot g_class_slots[CLASS_SLOTS];
Edge g_edges[MAX_EDGES];
std::atomic<uint32_t> g_edge_count{1};
std::atomic<uint32_t> g_edge_slots[EDGE_SLOTS];  // (from << 16 | to), 0 = empty
uint32_t g_edge_index[EDGE_SLOTS];
uintptr_t g_reported[REPORT_SLOTS];  // report keys (sites), 0 = empty

std::atomic<bool> g_graph_lock{false};
std::atomic<bool> g_full{false};
bool g_busy[MAX_CPUS];  // this CPU is inside the checker: its own locks are not checked
HeldLocks g_cpu_held[MAX_CPUS];
uint64_t g_irq_off_since[MAX_CPUS];  // TSC; 0 = not measured
uint64_t g_irq_off_max_tsc = 0;
uint64_t g_tsc_per_us = 1;
LockCheckStats g_stats;

// Interrupts off around the checker's own work; raw (an IrqGuard would
// call back into it).
struct IrqsOff {
  uint64_t flags;
  IrqsOff() { asm volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory"); }
  ~IrqsOff() {
    if (flags & (1u << 9)) asm volatile("sti" ::: "memory");
  }
};

void graph_lock() {
  while (g_graph_lock.exchange(true, std::memory_order_acquire))
    while (g_graph_lock.load(std::memory_order_relaxed)) asm volatile("pause");
}
void graph_unlock() { g_graph_lock.store(false, std::memory_order_release); }

uint32_t hash_ptr(uintptr_t p, unsigned line) {
  uint64_t h = (p ^ (uint64_t(line) << 40)) * 0x9e3779b97f4a7c15ull;
  return uint32_t(h >> 32);
}

bool same_file(const char* a, const char* b) {
  if (a == b) return true;
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

void stop_checking(const char* table) {
  if (!g_full.exchange(true)) kprint("lock_check: the {} table is full: lock order checking stops here\n", table);
  g_stats.full = true;
}

// The class of a construction site, made on first sight (graph lock taken
// here). 0 when the table is full.
uint32_t class_of(const char* file, unsigned line, LockKind kind) {
  uint32_t h = hash_ptr(reinterpret_cast<uintptr_t>(file), line * 2 + unsigned(kind));
  for (uint32_t i = 0; i < CLASS_SLOTS; ++i) {
    ClassSlot& s = g_class_slots[(h + i) & (CLASS_SLOTS - 1)];
    const char* f = s.file.load(std::memory_order_acquire);
    if (!f) break;
    if (f == file && s.line == line && s.kind == kind) return s.cls;
  }
  graph_lock();
  // Again under the lock; a new slot for this file pointer. The same site
  // seen through another copy of the file name string shares its class.
  uint32_t slot = CLASS_SLOTS;
  for (uint32_t i = 0; i < CLASS_SLOTS; ++i) {
    uint32_t j = (h + i) & (CLASS_SLOTS - 1);
    ClassSlot& s = g_class_slots[j];
    const char* f = s.file.load(std::memory_order_relaxed);
    if (!f) {
      slot = j;
      break;
    }
    if (f == file && s.line == line && s.kind == kind) {
      graph_unlock();
      return s.cls;
    }
  }
  uint32_t cls = 0;
  uint32_t n = g_class_count.load(std::memory_order_relaxed);
  for (uint32_t c = 1; c < n; ++c)
    if (g_classes[c].line == line && g_classes[c].kind == kind && same_file(g_classes[c].file, file)) cls = c;
  if (!cls && n < MAX_CLASSES && slot != CLASS_SLOTS) {
    cls = n;
    g_classes[cls] = {file, line, kind, 0};
    g_class_count.store(n + 1, std::memory_order_release);
    g_stats.classes = n;
  }
  if (cls && slot != CLASS_SLOTS) {
    ClassSlot& s = g_class_slots[slot];
    s.line = line;
    s.kind = kind;
    s.cls = cls;
    s.file.store(file, std::memory_order_release);
  }
  graph_unlock();
  if (!cls) stop_checking("lock class");
  return cls;
}

uint32_t edge_key(uint32_t from, uint32_t to) { return from << 16 | to; }

// The edge from -> to, or 0.
uint32_t find_edge(uint32_t from, uint32_t to) {
  uint32_t key = edge_key(from, to);
  uint32_t h = hash_ptr(key, 0);
  for (uint32_t i = 0; i < EDGE_SLOTS; ++i) {
    uint32_t j = (h + i) & (EDGE_SLOTS - 1);
    uint32_t k = g_edge_slots[j].load(std::memory_order_acquire);
    if (!k) return 0;
    if (k == key) return g_edge_index[j];
  }
  return 0;
}

// Graph lock held. A path from -> ... -> to: fills path[] with its edges,
// returns their count (0: none).
uint32_t find_path(uint32_t from, uint32_t to, uint32_t* path, uint32_t max) {
  static uint16_t queue[MAX_CLASSES];
  static uint32_t via[MAX_CLASSES];  // the edge that reached a class; 0 = not yet
  uint32_t n = g_class_count.load(std::memory_order_relaxed);
  for (uint32_t c = 0; c < n; ++c) via[c] = 0;
  uint32_t head = 0, tail = 0;
  queue[tail++] = uint16_t(from);
  via[from] = UINT32_MAX;
  while (head < tail) {
    uint32_t c = queue[head++];
    for (uint32_t e = g_classes[c].first_edge; e; e = g_edges[e].next) {
      uint32_t t = g_edges[e].to;
      if (via[t]) continue;
      via[t] = e;
      if (t == to) {
        uint32_t len = 0;
        for (uint32_t x = to; x != from && len < max; x = g_edges[via[x]].from) path[len++] = via[x];
        for (uint32_t i = 0; i < len / 2; ++i) {  // from first
          uint32_t tmp = path[i];
          path[i] = path[len - 1 - i];
          path[len - 1 - i] = tmp;
        }
        return len;
      }
      if (tail < MAX_CLASSES) queue[tail++] = uint16_t(t);
    }
  }
  return 0;
}

// Graph lock held. True the first time `key` is seen.
bool first_report(uintptr_t key) {
  for (uint32_t i = 0; i < REPORT_SLOTS; ++i) {
    uintptr_t& s = g_reported[(hash_ptr(key, 1) + i) % REPORT_SLOTS];
    if (s == key) return false;
    if (!s) {
      s = key;
      return true;
    }
  }
  return false;  // the table is full: no more reports of this kind
}

void print_class(uint32_t c) {
  kprint("{} {}:{}", g_classes[c].kind == LockKind::Spin ? "spinlock" : "mutex", g_classes[c].file,
         g_classes[c].line);
}

void print_site(uint32_t site) {
  uintptr_t ip = 0xffffffff00000000ull | site;
  StringView name;
  uintptr_t off;
  if (site && symbolize(ip, name, off))
    kprint("{}+{:#x}", name, off);
  else
    kprint("{:#x}", ip);
}

void report_inversion(uint32_t held, uint32_t taking, const uint32_t* path, uint32_t len,
                      const uintptr_t* now) {
  ++g_stats.inversions;
  kprint("lock_check: lock order inversion: taking ");
  print_class(taking);
  kprint("\nlock_check:   while holding ");
  print_class(held);
  kprint("\nlock_check: the opposite order was seen before:");
  for (uint32_t i = 0; i < len; ++i) {
    kprint("\nlock_check:   ");
    print_class(g_edges[path[i]].to);
    kprint(" taken while holding ");
    print_class(g_edges[path[i]].from);
  }
  kprint("\nlock_check: first, at:\n");
  backtrace_print_saved(g_edges[path[0]].trace, EDGE_TRACE);
  kprint("lock_check: now, at:\n");
  backtrace_print_saved(now, EDGE_TRACE);
}

// Graph lock not held. The edge held -> taking, checked first if new.
// Not inlined, nor is add_edges_from: the saved backtrace skips exactly
// these two and on_acquire.
[[gnu::noinline]] void add_edge(uint32_t held, uint32_t taking) {
  if (find_edge(held, taking)) return;
  uintptr_t now[EDGE_TRACE];
  backtrace_save(now, EDGE_TRACE, 3);  // from the lock's caller on
  graph_lock();
  if (find_edge(held, taking)) {
    graph_unlock();
    return;
  }
  uint32_t path[16];
  if (uint32_t len = find_path(taking, held, path, 16))
    report_inversion(held, taking, path, len, now);
  uint32_t e = g_edge_count.load(std::memory_order_relaxed);
  if (e >= MAX_EDGES) {
    graph_unlock();
    stop_checking("lock order");
    return;
  }
  Edge& edge = g_edges[e];
  edge.from = held;
  edge.to = taking;
  for (unsigned i = 0; i < EDGE_TRACE; ++i) edge.trace[i] = now[i];
  edge.next = g_classes[held].first_edge;
  g_classes[held].first_edge = e;
  g_edge_count.store(e + 1, std::memory_order_relaxed);
  g_stats.edges = e;
  uint32_t key = edge_key(held, taking);
  uint32_t h = hash_ptr(key, 0);
  for (uint32_t i = 0; i < EDGE_SLOTS; ++i) {
    uint32_t j = (h + i) & (EDGE_SLOTS - 1);
    if (!g_edge_slots[j].load(std::memory_order_relaxed)) {
      g_edge_index[j] = e;
      g_edge_slots[j].store(key, std::memory_order_release);
      break;
    }
  }
  graph_unlock();
}

[[gnu::noinline]] void add_edges_from(const HeldLocks& held, uint32_t cls) {
  for (unsigned i = 0; i < held.depth && i < HeldLocks::MAX; ++i) {
    const HeldLock& h = held.e[i];
    if (__atomic_load_n(&h.lock, __ATOMIC_RELAXED) && h.cls && h.cls != cls) add_edge(h.cls, cls);
  }
}

void push(HeldLocks& held, const void* lock, uint32_t cls, uintptr_t ip) {
  // Drop released slots at the top first.
  while (held.depth && !__atomic_load_n(&held.e[held.depth - 1].lock, __ATOMIC_RELAXED)) --held.depth;
  if (held.depth == HeldLocks::MAX) return;  // too deep to track: not checked
  held.e[held.depth] = {lock, cls, uint32_t(ip)};
  ++held.depth;
}

bool pop(HeldLocks& held, const void* lock) {
  for (unsigned i = held.depth; i-- > 0;) {
    if (__atomic_load_n(&held.e[i].lock, __ATOMIC_RELAXED) == lock) {
      __atomic_store_n(&held.e[i].lock, nullptr, __ATOMIC_RELAXED);
      while (held.depth && !__atomic_load_n(&held.e[held.depth - 1].lock, __ATOMIC_RELAXED)) --held.depth;
      return true;
    }
  }
  return false;
}

bool any_held(const HeldLocks& held) {
  for (unsigned i = 0; i < held.depth && i < HeldLocks::MAX; ++i)
    if (__atomic_load_n(&held.e[i].lock, __ATOMIC_RELAXED)) return true;
  return false;
}

// A spinlock taken with interrupts on: a timer tick can switch away from
// its holder, and the next thread on this CPU that wants it spins for ever
// (SpinGuard turns them off first; a bare lock() does not).
void report_irq_on(uintptr_t ip) {
  graph_lock();
  if (first_report((ip ^ 0x5a5a5a5a5a5a5a5aull) | 1)) {
    ++g_stats.irq_on;
    kprint("lock_check: spinlock taken with interrupts on, at ");
    print_site(static_cast<uint32_t>(ip));
    kprint(":\n");
    uintptr_t now[EDGE_TRACE];
    backtrace_save(now, EDGE_TRACE, 1);
    backtrace_print_saved(now, EDGE_TRACE);
  }
  graph_unlock();
}

void on_acquire(const void* lock, const char* file, unsigned line, LockKind kind, bool try_lock) {
  uintptr_t ip = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  const bool irq_was_on = interrupts_on();
  IrqsOff irq;
  uint32_t cpu = this_cpu()->index;
  if (g_busy[cpu]) return;
  g_busy[cpu] = true;
  if (kind == LockKind::Spin && irq_was_on) report_irq_on(ip);
  Thread* t = current_thread();
  HeldLocks* mine = kind == LockKind::Spin ? &g_cpu_held[cpu] : t ? &t->held_mutexes : nullptr;
  uint32_t cls = g_full.load(std::memory_order_relaxed) ? 0 : class_of(file, line, kind);
  if (cls && !try_lock) {
    add_edges_from(g_cpu_held[cpu], cls);
    if (t) add_edges_from(t->held_mutexes, cls);
  }
  if (mine) push(*mine, lock, cls, ip);
  g_busy[cpu] = false;
}

void on_release(const void* lock, LockKind kind) {
  IrqsOff irq;
  uint32_t cpu = this_cpu()->index;
  if (g_busy[cpu]) return;
  if (kind == LockKind::Mutex) {
    if (Thread* t = current_thread()) pop(t->held_mutexes, lock);
    return;
  }
  if (pop(g_cpu_held[cpu], lock)) return;
  // Released on another CPU than the one that took it (or taken before the
  // checker started): clear it wherever it is, so that CPU's list is true.
  for (uint32_t c = 0; c < MAX_CPUS; ++c) {
    HeldLocks& h = g_cpu_held[c];
    for (unsigned i = 0; i < h.depth && i < HeldLocks::MAX; ++i) {
      const void* expected = lock;
      if (__atomic_compare_exchange_n(&h.e[i].lock, &expected, nullptr, false, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED))
        return;
    }
  }
}

void on_might_sleep(const char* what) {
  IrqsOff irq;
  uint32_t cpu = this_cpu()->index;
  // A system call defined to run with interrupts off (linux/syscall.h
  // DEFINE_SYSCALL_IRQS_OFF) may not sleep, spinlock or not.
  const char* call = this_cpu()->irqs_off_call;
  if (g_busy[cpu] || (!call && !any_held(g_cpu_held[cpu]))) return;
  g_busy[cpu] = true;
  uintptr_t now[EDGE_TRACE];
  backtrace_save(now, EDGE_TRACE, 1);  // from the sleeping function on
  uintptr_t key = 0;
  for (unsigned i = 0; i < 4; ++i) key = key * 31 + now[i];
  graph_lock();
  if (call && first_report(key | 1)) {
    ++g_stats.sleeps;
    kprint("lock_check: sleeping ({}) in the interrupts-off system call {} (DEFINE_SYSCALL_IRQS_OFF)\n",
           what, call);
    kprint("lock_check: at:\n");
    backtrace_print_saved(now, EDGE_TRACE);
  } else if (!call && first_report(key | 1)) {
    ++g_stats.sleeps;
    kprint("lock_check: sleeping ({}) with a spinlock held:\n", what);
    const HeldLocks& h = g_cpu_held[cpu];
    for (unsigned i = 0; i < h.depth && i < HeldLocks::MAX; ++i) {
      if (!h.e[i].lock) continue;
      kprint("lock_check:   ");
      if (h.e[i].cls) print_class(h.e[i].cls);
      kprint(" at {:p}, taken at ", h.e[i].lock);
      print_site(h.e[i].site);
      kprint("\n");
    }
    kprint("lock_check: at:\n");
    backtrace_print_saved(now, EDGE_TRACE);
  }
  graph_unlock();
  g_busy[cpu] = false;
}

void on_irq_off() { g_irq_off_since[this_cpu()->index] = x64::rdtsc(); }

void on_irq_on() {
  uint32_t cpu = this_cpu()->index;
  uint64_t since = g_irq_off_since[cpu];
  g_irq_off_since[cpu] = 0;
  if (!since || !g_irq_off_max_tsc || g_busy[cpu]) return;
  uint64_t took = x64::rdtsc() - since;
  if (took <= g_irq_off_max_tsc) return;
  uintptr_t site = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  g_busy[cpu] = true;
  graph_lock();
  if (first_report(site & ~uintptr_t(1))) {
    ++g_stats.irq_off;
    kprint("lock_check: interrupts were off for {} us (the limit is {} us, --irq-off-max-ms), until here:\n",
           took / g_tsc_per_us, g_irq_off_max_tsc / g_tsc_per_us);
    uintptr_t now[EDGE_TRACE];
    backtrace_save(now, EDGE_TRACE, 1);
    backtrace_print_saved(now, EDGE_TRACE);
  }
  graph_unlock();
  g_busy[cpu] = false;
}

void on_switched() { g_irq_off_since[this_cpu()->index] = x64::rdtsc(); }

const LockDebugOps g_ops = {on_acquire, on_release, on_irq_off, on_irq_on, on_might_sleep, on_switched};

// At the program's exit: what the checker saw, so a clean run shows it
// was looking.
void summary_at_exit(uint64_t) {
  kprint("lock_check: {} lock classes, {} order edges, {} inversions, {} sleeps with a spinlock, "
         "{} long irq-off windows, {} spinlocks taken with interrupts on{}\n",
         g_stats.classes, g_stats.edges, g_stats.inversions, g_stats.sleeps, g_stats.irq_off,
         g_stats.irq_on,
         g_full.load() ? " (a table filled up: checking stopped)" : "");
}

}  // namespace

void lock_check_start(uint64_t irq_off_max_us) {
  uint64_t khz = tsc_khz();
  g_tsc_per_us = khz >= 1000 ? khz / 1000 : 1;
  g_irq_off_max_tsc = irq_off_max_us * g_tsc_per_us;
  lock_debug_ops.store(&g_ops, std::memory_order_release);
  shutdown_register(summary_at_exit);
  log_info("lock_check: on (lock order, sleeping with a spinlock held, interrupts off over {} us)",
           irq_off_max_us);
}

LockCheckStats lock_check_stats() {
  LockCheckStats s = g_stats;
  s.full = g_full.load();
  return s;
}

}  // namespace capsule

#endif  // CAPSULE_DEBUG_KERNEL
