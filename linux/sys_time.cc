// Time: clock_gettime/getres/settime, clock_nanosleep, nanosleep,
// gettimeofday/settimeofday, time, times, getrusage. docs/syscalls.md.
//
// L_CLOCK_MONOTONIC (and BOOTTIME, MONOTONIC_RAW, the COARSE variants: one
// precise clock, no suspend) is uptime_ns(); L_CLOCK_REALTIME is
// realtime_ns(), which settimeofday/clock_settime move. CPU-time clocks come
// from the scheduler's per-thread run time.
#include "linux/sys_time.h"

#include <atomic>

#include "core/address_space.h"
#include "linux/process.h"
#include "core/thread.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "arch/percpu.h"
#include "core/sched/thread.h"
#include "arch/spinlock.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"
#include "linux/thread_table.h"
#include "linux/signal.h"

namespace capsule::linux_abi {
namespace {

constexpr int64_t NS = 1000000000;
constexpr int64_t L_USER_HZ = 100;  // AT_CLKTCK, clock_t units

enum : int64_t {
  L_CLOCK_REALTIME = 0, L_CLOCK_MONOTONIC = 1, L_CLOCK_PROCESS_CPUTIME_ID = 2, L_CLOCK_THREAD_CPUTIME_ID = 3,
  L_CLOCK_MONOTONIC_RAW = 4, L_CLOCK_REALTIME_COARSE = 5, L_CLOCK_MONOTONIC_COARSE = 6, L_CLOCK_BOOTTIME = 7,
  L_CLOCK_REALTIME_ALARM = 8, L_CLOCK_BOOTTIME_ALARM = 9, L_CLOCK_TAI = 11,
};
constexpr uint64_t L_TIMER_ABSTIME = 1;

struct Timespec {
  int64_t tv_sec;
  int64_t tv_nsec;
};
struct Timeval {
  int64_t tv_sec;
  int64_t tv_usec;
};
struct Timezone {
  int32_t tz_minuteswest;
  int32_t tz_dsttime;
};

std::atomic<SignalPendingFn> g_signal_check{nullptr};
Timezone g_tz{0, 0};

Timespec to_ts(int64_t ns) {
  Timespec t{ns / NS, ns % NS};
  if (t.tv_nsec < 0) {
    t.tv_nsec += NS;
    t.tv_sec -= 1;
  }
  return t;
}
bool ts_valid(const Timespec& t) { return t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < NS; }
int64_t ts_ns(const Timespec& t) {
  constexpr int64_t max_sec = INT64_MAX / NS - 1;
  if (t.tv_sec > max_sec) return INT64_MAX;
  return t.tv_sec * NS + t.tv_nsec;
}

// A thread's CPU time. The scheduler charges run time at switches and timer
// interrupts only; for the calling thread the time since the last charge
// is added, so that a thread running alone (no ticks) still sees its clock
// advance.
uint64_t thread_cpu(const Thread* t) {
  if (t != thread_current()) return thread_cpu_time_ns(t);
  return thread_cpu_time_live_ns(t);
}

// Dynamic CPU clocks (clock_getcpuclockid, pthread_getcpuclockid): a
// negative id with ~pid (or ~tid) above bit 3, bit 2 for a thread, the low
// two bits the kind (0 PROF, 1 VIRT, 2 SCHED; 3 is invalid; all three read
// the same run time here). A process clock names any process by its pid
// (the caller's also by its own tid, 0 the caller's), a zombie too, until
// it is reaped; a thread clock names a thread of the caller's process (as
// Linux's pid_for_clock). EINVAL otherwise.
Result<int64_t> cpu_clock_read(int64_t id) {
  if (id >= 0 || (id & 3) == 3) return Error::Invalid;
  const int64_t pid = ~(id >> 3);
  const bool per_thread = id & 4;
  Process* me = current_process();
  if (pid < 0 || pid > INT32_MAX) return Error::Invalid;
  if (!per_thread) {
    if (pid == 0 || (me && pid == me->pid) || pid == current_tid()) return int64_t(process_cpu_time_ns());
    Process* p = process_get(int(pid));
    if (!p) return Error::Invalid;
    const uint64_t ns = process_cpu_ns_of(*p);
    process_put(p);
    return int64_t(ns);
  }
  if (pid == 0 || pid == current_tid()) return int64_t(thread_cpu(thread_current()));
  uint64_t ns = 0;
  auto read = [](Thread* t, void* out) { *static_cast<uint64_t*>(out) = thread_cpu_time_live_ns(t); };
  if (!me || !with_thread_in(me, int(pid), read, &ns)) return Error::Invalid;
  return int64_t(ns);
}

// The value of clock `id` in ns; Error::Invalid for an unknown clock.
Result<int64_t> clock_read(int64_t id) {
  switch (id) {
    case L_CLOCK_REALTIME:
    case L_CLOCK_REALTIME_COARSE:
    case L_CLOCK_TAI:
      return realtime_ns();
    case L_CLOCK_MONOTONIC:
    case L_CLOCK_MONOTONIC_RAW:
    case L_CLOCK_MONOTONIC_COARSE:
    case L_CLOCK_BOOTTIME:
      return int64_t(uptime_ns());
    case L_CLOCK_PROCESS_CPUTIME_ID:
      return int64_t(process_cpu_time_ns());
    case L_CLOCK_THREAD_CPUTIME_ID:
      return int64_t(thread_cpu(thread_current()));
    default:
      return cpu_clock_read(id);
  }
}

// A sleep on `id`: Error::Interrupted with *remaining_ns, or done.
Result<void> do_sleep(int64_t id, bool absolute, int64_t req_ns, int64_t* remaining_ns) {
  const int64_t now_mono = int64_t(uptime_ns());
  int64_t deadline;  // ns since boot
  if (!absolute) {
    deadline = req_ns > INT64_MAX - now_mono ? INT64_MAX : now_mono + req_ns;
  } else if (id == L_CLOCK_REALTIME || id == L_CLOCK_TAI) {
    // The wall-clock deadline on the monotonic clock: through the offset
    // alone, read once (realtime = monotonic + offset). Measuring "time
    // left" against a second clock read would move the deadline earlier
    // by the time between the reads, and the sleep would end early.
    const int64_t off = realtime_offset_ns();
    deadline = off < 0 && req_ns > INT64_MAX + off ? INT64_MAX : req_ns - off;
  } else {
    deadline = req_ns;
  }
  if (deadline <= now_mono) return {};
  if (sleep_until_ns(uint64_t(deadline))) return {};
  const int64_t left = deadline - int64_t(uptime_ns());
  *remaining_ns = left > 0 ? left : 0;
  return Error::Interrupted;
}

}  // namespace

void set_sleep_signal_check(SignalPendingFn fn) { g_signal_check.store(fn); }

bool sleep_until_ns(uint64_t deadline_ns) {
  Thread* self = thread_current();
  for (;;) {
    sched_prepare_block();
    SignalPendingFn check = g_signal_check.load();
    if (check && check()) {
      ThreadState b = ThreadState::Blocked;
      self->state.compare_exchange_strong(b, ThreadState::Running);
      return false;
    }
    if (!sched_block(deadline_ns)) return true;  // the deadline passed
    if (uptime_ns() >= deadline_ns) return true;
    // Woken early: a signal (checked at the top) or a spurious wake-up.
  }
}

void account_thread_exit(const Thread* t) {
  Process* p = static_cast<Process*>(t->process);
  if (!p) return;
  // Once per thread: the last thread of a process passes here twice
  // (exit_thread, then the process's end).
  if (auto* lt = static_cast<LinuxThread*>(t->linux_state)) {
    if (lt->cpu_accounted) return;
    lt->cpu_accounted = true;
  }
  if (t == p->main_thread && p->main_cpu_counted.exchange(true)) return;
  p->exited_cpu_ns.fetch_add(thread_cpu(t));
}

// The sum over the process's threads: those that exited
// (account_thread_exit) and the live ones (the signal code's list of the
// process's threads, each with the slice it is running now). A thread
// between leaving the list and being added to the exited sum is missed for
// that instant: the result is kept monotonic.
uint64_t process_cpu_ns_of(Process& p) {
  uint64_t sum = p.exited_cpu_ns.load() + signal_process_cpu_ns(p);
  uint64_t last = p.cpu_reported_ns.load();
  while (sum > last && !p.cpu_reported_ns.compare_exchange_weak(last, sum)) {
  }
  return sum > last ? sum : last;
}

uint64_t process_cpu_time_ns() {
  Process* p = current_process();
  if (!p) return thread_cpu(thread_current());  // a kernel thread: its own
  return process_cpu_ns_of(*p);
}

DEFINE_SYSCALL(228, clock_gettime, Result<void>, int clock_id, UserPtr<Timespec> tp) {
  const int64_t ns = TRY(clock_read(clock_id));
  return tp.write(to_ts(ns));
}

DEFINE_SYSCALL(229, clock_getres, Result<void>, int clock_id, UserPtr<Timespec> res) {
  TRY(clock_read(clock_id));
  if (!res) return {};
  return res.write(Timespec{0, 1});  // every clock here is precise to 1 ns
}

DEFINE_SYSCALL(227, clock_settime, Result<void>, int clock_id, UserPtr<const Timespec> tp) {
  const Timespec t = TRY(tp.read());
  TRY(clock_read(clock_id));
  if (clock_id != L_CLOCK_REALTIME) return Error::Invalid;  // only the wall clock can be set
  if (!ts_valid(t)) return Error::Invalid;
  time_set_realtime(ts_ns(t));
  return {};
}

namespace {
// Sleeping on a process CPU clock (the caller's, or another process's by
// its dynamic id): wake up when that process has used `target` ns of CPU.
// Polls with wall-clock sleeps of a quarter of the CPU time still missing
// (several threads may use it faster than the wall clock runs), at least
// 1 ms. A process reaped meanwhile ends the sleep with EINVAL.
Result<void> cpu_sleep(int64_t clock_id, bool absolute, int64_t req_ns, int64_t* remaining_ns) {
  const int64_t start = TRY(clock_read(clock_id));
  const int64_t target = absolute ? req_ns : (req_ns > INT64_MAX - start ? INT64_MAX : start + req_ns);
  for (;;) {
    const int64_t now = TRY(clock_read(clock_id));
    if (now >= target) return {};
    int64_t step = (target - now) / 4;
    if (step < 1000000) step = 1000000;
    if (!sleep_until_ns(uptime_ns() + uint64_t(step))) {
      auto again = clock_read(clock_id);
      const int64_t left = again.ok() ? target - again.value() : 0;
      *remaining_ns = left > 0 ? left : 0;
      return Error::Interrupted;
    }
  }
}
}  // namespace

DEFINE_SYSCALL(230, clock_nanosleep, Result<void>, int clock_id, Flags<int> flags, UserPtr<const Timespec> request,
               UserPtr<Timespec> remain) {
  const bool absolute = flags.any(L_TIMER_ABSTIME);  // other flag bits are ignored (Linux)
  bool cpu = false;
  switch (clock_id) {
    case L_CLOCK_REALTIME: case L_CLOCK_MONOTONIC: case L_CLOCK_BOOTTIME: case L_CLOCK_TAI:
      break;
    case L_CLOCK_PROCESS_CPUTIME_ID:
      cpu = true;
      break;
    default: {
      TRY(clock_read(clock_id));
      if (clock_id < 0) {  // a dynamic CPU clock: the process's can be slept on, a thread's not
        if (clock_id & 4) return Error::Invalid;
        cpu = true;
        break;
      }
      return Error::OpNotSupported;  // THREAD_CPUTIME_ID, MONOTONIC_RAW, the COARSE clocks
    }
  }
  const Timespec req = TRY(request.read());
  if (!ts_valid(req)) return Error::Invalid;
  int64_t left = 0;
  Result<void> r =
      cpu ? cpu_sleep(clock_id, absolute, ts_ns(req), &left) : do_sleep(clock_id, absolute, ts_ns(req), &left);
  if (r.error() == Error::Interrupted && !absolute && remain) TRY(remain.write(to_ts(left)));
  return r;
}

DEFINE_SYSCALL(35, nanosleep, Result<void>, UserPtr<const Timespec> request, UserPtr<Timespec> remain) {
  const Timespec req = TRY(request.read());
  if (!ts_valid(req)) return Error::Invalid;
  int64_t left = 0;
  Result<void> r = do_sleep(L_CLOCK_MONOTONIC, false, ts_ns(req), &left);
  if (r.error() == Error::Interrupted && remain) TRY(remain.write(to_ts(left)));
  return r;
}

DEFINE_SYSCALL(96, gettimeofday, Result<void>, UserPtr<Timeval> tv, UserPtr<Timezone> tz) {
  if (tv) {
    Timespec t = to_ts(realtime_ns());
    TRY(tv.write(Timeval{t.tv_sec, t.tv_nsec / 1000}));
  }
  if (tz) TRY(tz.write(g_tz));
  return {};
}

DEFINE_SYSCALL(164, settimeofday, Result<void>, UserPtr<const Timeval> tv_p, UserPtr<const Timezone> tz_p) {
  Timeval tv{};
  Timezone tz{};
  if (tv_p) tv = TRY(tv_p.read());
  if (tz_p) tz = TRY(tz_p.read());
  if (tv_p && (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)) return Error::Invalid;
  if (tz_p && (tz.tz_minuteswest < -15 * 60 || tz.tz_minuteswest > 15 * 60)) return Error::Invalid;
  if (tz_p) g_tz = tz;
  if (tv_p) time_set_realtime(ts_ns(Timespec{tv.tv_sec, tv.tv_usec * 1000}));
  return {};
}

DEFINE_SYSCALL(201, time, Result<int64_t>, UserPtr<int64_t> tloc) {
  const int64_t s = to_ts(realtime_ns()).tv_sec;
  if (tloc) TRY(tloc.write(s));
  return s;
}

namespace {
struct Tms {
  int64_t utime, stime, cutime, cstime;
};
struct Rusage {
  Timeval utime, stime;
  int64_t maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv,
      nsignals, nvcsw, nivcsw;
};
static_assert(sizeof(Rusage) == 144);
}  // namespace

DEFINE_SYSCALL(100, times, Result<int64_t>, UserPtr<Tms> buf) {
  // All CPU time counts as user time (the scheduler does not split it).
  if (buf) {
    Process* p = current_process();
    const int64_t tick = NS / L_USER_HZ;
    const int64_t children = p ? int64_t(p->children_cpu_ns.load()) : 0;
    TRY(buf.write(Tms{int64_t(process_cpu_time_ns()) / tick, 0, children / tick, 0}));
  }
  return int64_t(uptime_ns() / (NS / L_USER_HZ));
}

DEFINE_SYSCALL(98, getrusage, Result<void>, int who, UserPtr<Rusage> usage) {
  enum : int { L_RUSAGE_SELF = 0, L_RUSAGE_CHILDREN = -1, L_RUSAGE_THREAD = 1 };
  if (who != L_RUSAGE_SELF && who != L_RUSAGE_CHILDREN && who != L_RUSAGE_THREAD) return Error::Invalid;
  Rusage u = {};
  if (who == L_RUSAGE_CHILDREN) {  // the reaped children's CPU time
    Process* p = current_process();
    uint64_t cpu = p ? p->children_cpu_ns.load() : 0;
    u.utime = Timeval{int64_t(cpu / NS), int64_t(cpu % NS / 1000)};
  } else {
    uint64_t cpu = who == L_RUSAGE_SELF ? process_cpu_time_ns() : thread_cpu(thread_current());
    u.utime = Timeval{int64_t(cpu / NS), int64_t(cpu % NS / 1000)};
    Process* p = current_process();
    if (p && p->as) {
      uint64_t rss = p->as->resident_pages(), m = p->max_rss_pages.load();
      while (rss > m && !p->max_rss_pages.compare_exchange_weak(m, rss)) {
      }
      u.maxrss = int64_t((rss > m ? rss : m) * (PAGE_SIZE / 1024));  // KiB
      u.minflt = int64_t(p->as->fault_count());
    }
  }
  return usage.write(u);
}

}  // namespace capsule::linux_abi
