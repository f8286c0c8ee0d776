// Timers that raise signals (docs/signals.md): alarm, setitimer/getitimer,
// timer_create/settime/gettime/getoverrun/delete.
//
// Each process has its own timers (Process::timers, under their lock). One
// kernel thread ("sigtimer") serves every armed timer of every process: it
// sleeps on a semaphore until the earliest expiry (or until a timer is
// armed), fires what is due and re-arms the periodic ones. Expiries are kept in
// monotonic time (uptime_ns); an absolute L_CLOCK_REALTIME expiry is
// converted when armed (a later settimeofday does not move it). The
// CPU-time timers (L_ITIMER_VIRTUAL, L_ITIMER_PROF, L_CLOCK_PROCESS_CPUTIME_ID)
// compare against the process's summed thread CPU time, which the service
// re-reads at each wake-up (no separate user/system accounting: VIRTUAL and
// PROF count the same time).
#include <new>

#include "lib/log.h"
#include "linux/process.h"
#include "core/thread.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "core/sync/wait_queue.h"
#include "linux/exec_state.h"
#include "linux/process_state.h"
#include "linux/signal.h"
#include "linux/syscall.h"
#include "linux/sys_time.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {
namespace {

constexpr uint64_t NS = 1000000000ull;
constexpr int L_CLOCK_REALTIME = 0, L_CLOCK_MONOTONIC = 1, L_CLOCK_PROCESS_CPUTIME_ID = 2, L_CLOCK_BOOTTIME = 7,
              L_CLOCK_TAI = 11;
constexpr int L_SIGEV_SIGNAL = 0, L_SIGEV_NONE = 1, L_SIGEV_THREAD = 2, L_SIGEV_THREAD_ID = 4;
constexpr int L_TIMER_ABSTIME = 1;
constexpr int L_ITIMER_REAL = 0, L_ITIMER_VIRTUAL = 1, L_ITIMER_PROF = 2;

struct KTimespec {
  int64_t sec, nsec;
};
struct KTimeval {
  int64_t sec, usec;
};
struct KItimerspec {
  KTimespec interval, value;
};
struct KItimerval {
  KTimeval interval, value;
};
// struct sigevent: value, signo, notify, then the union (tid for THREAD_ID).
struct KSigevent {
  uint64_t value;
  int32_t signo;
  int32_t notify;
  int32_t tid;
  int32_t pad[11];
};
static_assert(sizeof(KSigevent) == 64);

struct Timer {
  bool used = false;
  bool armed = false;
  bool cpu = false;        // expiry/interval are process CPU time
  bool posix = false;      // a timer_create timer (SI_TIMER siginfo)
  int id = 0;
  int clock = L_CLOCK_MONOTONIC;
  int notify = L_SIGEV_SIGNAL;
  int signo = SIGALRM;
  int tid = 0;             // L_SIGEV_THREAD_ID target
  uint64_t value = 0;      // sigev_value
  uint64_t expiry = 0;     // ns on its clock (uptime or process CPU time)
  uint64_t interval = 0;
  // Expiries since its signal was queued, taken (and reset) as the signal
  // is dequeued (timer_take_overrun: si_overrun, then timer_getoverrun's
  // overrun_last). Atomic: the dequeue runs under the signal lock, which
  // nests inside the timers' lock, so it cannot take the latter.
  int overrun_acc = 0;
  int overrun_last = 0;
};

constexpr int MAX_TIMERS = 256;
constexpr int ITIMER_SLOT = MAX_TIMERS;  // + which: the three itimers

}  // namespace

// A process's timers: the POSIX timers by id, then its three itimers.
struct ProcessTimers {
  SpinLock lock;
  Timer timers[MAX_TIMERS + 3] GUARDED_BY(lock);
  // POSIX timers in use, read without the lock by the signal sender
  // (RLIMIT_SIGPENDING); changed under it.
  std::atomic<int> posix_count{0};
};

ProcessTimers* timers_create() { return new (std::nothrow) ProcessTimers(); }

int timer_posix_count(Process& p) { return p.timers ? p.timers->posix_count.load(std::memory_order_relaxed) : 0; }

int timer_take_overrun(Process& p, int timer_id) {
  if (timer_id < 0 || timer_id >= MAX_TIMERS || !p.timers) return 0;
  Timer& t = p.timers->timers[timer_id];
  const int n = __atomic_exchange_n(&t.overrun_acc, 0, __ATOMIC_ACQ_REL);
  __atomic_store_n(&t.overrun_last, n, __ATOMIC_RELEASE);
  return n;
}
void timers_destroy(ProcessTimers* t) { delete t; }

namespace {

// Machine-wide: the one service thread, its wake-up and its start.
Semaphore g_kick;
bool g_service_started;
SpinLock g_start_lock;

ProcessTimers& cur_timers() { return *cur_process().timers; }

uint64_t clock_now(const Timer& t) { return t.cpu ? process_cpu_ns_of(cur_process()) : uptime_ns(); }

void fire(Timer& t, KSigInfo* out, int* tid_out) {
  // Called under the timers' lock; the signal is sent after it is dropped.
  KSigInfo info;
  info.signo = t.signo;
  if (t.posix) {
    info.code = SI_TIMER;
    info.u.timer.tid = t.id;
    info.u.timer.overrun = 0;  // filled at dequeue (timer_take_overrun)
    info.u.timer.value = t.value;
  } else {
    info.code = SI_KERNEL;
  }
  *out = info;
  *tid_out = t.notify == L_SIGEV_THREAD_ID ? t.tid : 0;
}

// One pass of the service over the timers of one process.
struct ServicePass {
  uint64_t wake_at = 0;  // the earliest next look (0: none)
  bool again = false;    // more signals were due than one round sends
};

void serve_process(Process& p, void* ctx) {
  auto& pass = *static_cast<ServicePass*>(ctx);
  ProcessTimers& pt = *p.timers;
  KSigInfo send[16];
  int tids[16];
  int n = 0;
  uint64_t& wake_at = pass.wake_at;
  {
    uint64_t cpu_now = 0;
    bool cpu_read = false;
    for (int i = 0; i < MAX_TIMERS + 3; ++i) {
      // CPU time is read outside the timers' lock (it takes the signal lock).
      bool need_cpu;
      {
        SpinGuard g(pt.lock);
        need_cpu = pt.timers[i].used && pt.timers[i].armed && pt.timers[i].cpu;
      }
      if (need_cpu && !cpu_read) {
        cpu_now = process_cpu_ns_of(p);
        cpu_read = true;
      }
      SpinGuard g(pt.lock);
      Timer& t = pt.timers[i];
      if (!t.used || !t.armed) continue;
      uint64_t now = t.cpu ? cpu_now : uptime_ns();
      if (t.cpu && !cpu_read) continue;
      if (now >= t.expiry) {
        bool pending = t.posix && t.notify != L_SIGEV_NONE && signal_process_pending(p, t.signo);
        if (t.notify != L_SIGEV_NONE && !pending && n < 16) {
          fire(t, &send[n], &tids[n]);
          __atomic_store_n(&t.overrun_acc, 0, __ATOMIC_RELEASE);
          ++n;
        } else if (pending) {
          __atomic_fetch_add(&t.overrun_acc, 1, __ATOMIC_ACQ_REL);
        }
        if (t.interval) {
          uint64_t missed = (now - t.expiry) / t.interval;
          if (t.posix && missed) __atomic_fetch_add(&t.overrun_acc, int(missed), __ATOMIC_ACQ_REL);
          t.expiry += (missed + 1) * t.interval;
        } else {
          t.armed = false;
        }
      }
      if (t.armed) {
        // CPU-time timers: look again when the remaining CPU time could
        // have run out at the earliest.
        uint64_t at = t.cpu ? uptime_ns() + (t.expiry > now ? t.expiry - now : 0) : t.expiry;
        if (t.cpu && at < uptime_ns() + 1000000) at = uptime_ns() + 1000000;
        if (!wake_at || at < wake_at) wake_at = at;
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    if (tids[i]) (void)signal_send_tid(p, tids[i], send[i]);
    else (void)signal_send_process(p, send[i]);
  }
  if (n == 16) pass.again = true;
}

void service(void*) {
  for (;;) {
    ServicePass pass;
    process_for_each(serve_process, &pass);
    if (pass.again) continue;
    (void)g_kick.down_until(pass.wake_at);
  }
}

void ensure_service() {
  {
    SpinGuard g(g_start_lock);
    if (g_service_started) return;
    g_service_started = true;
  }
  ThreadOptions o;
  o.detached = true;
  if (!thread_create("sigtimer", service, nullptr, o).ok()) log_warn("signals: cannot start the timer service");
}

void poke() {
  ensure_service();
  g_kick.up();
}

uint64_t ts_ns(const KTimespec& t) {
  if (uint64_t(t.sec) > 1000ull * 1000 * 1000 * 100) return ~0ull / 4;
  return uint64_t(t.sec) * NS + uint64_t(t.nsec);
}
KTimespec ns_ts(uint64_t ns) { return {int64_t(ns / NS), int64_t(ns % NS)}; }
KTimeval ns_tv(uint64_t ns) { return {int64_t(ns / NS), int64_t(ns % NS / 1000)}; }
bool tv_ok(const KTimeval& t) { return t.sec >= 0 && t.usec >= 0 && t.usec < 1000000; }
bool ts_ok(const KTimespec& t) { return t.sec >= 0 && t.nsec >= 0 && t.nsec < int64_t(NS); }
uint64_t tv_ns(const KTimeval& t) { return ts_ns({t.sec, t.usec * 1000}); }

// Remaining time and interval of a timer of `pt`, under its lock.
void remaining_locked(ProcessTimers& pt, const Timer& t, uint64_t now, uint64_t* value, uint64_t* interval)
    REQUIRES(pt.lock) {
  pt.lock.assert_held();
  *interval = t.interval;
  *value = t.armed ? (t.expiry > now ? t.expiry - now : 1) : 0;
}

// Arms (value_ns != 0) or disarms a timer; value_ns is relative.
void arm(ProcessTimers& pt, Timer& t, uint64_t value_ns, uint64_t interval_ns, uint64_t now) {
  SpinGuard g(pt.lock);
  t.armed = value_ns != 0;
  t.expiry = now + value_ns;
  t.interval = t.armed ? interval_ns : 0;
  __atomic_store_n(&t.overrun_acc, 0, __ATOMIC_RELEASE);
}

Timer& itimer(ProcessTimers& pt, int which) { return pt.timers[ITIMER_SLOT + which]; }

void itimer_init(ProcessTimers& pt, int which) {
  Timer& t = itimer(pt, which);
  SpinGuard g(pt.lock);
  if (t.used) return;
  t.used = true;
  t.cpu = which != L_ITIMER_REAL;
  t.signo = which == L_ITIMER_REAL ? SIGALRM : which == L_ITIMER_VIRTUAL ? SIGVTALRM : SIGPROF;
  t.notify = L_SIGEV_SIGNAL;
}

int64_t do_setitimer(int which, const KItimerval* n, KItimerval* old) {
  ProcessTimers& pt = cur_timers();
  itimer_init(pt, which);
  Timer& t = itimer(pt, which);
  uint64_t now = t.cpu ? process_cpu_ns_of(cur_process()) : uptime_ns();
  if (old) {
    SpinGuard g(pt.lock);
    uint64_t v, i;
    remaining_locked(pt, t, now, &v, &i);
    old->value = ns_tv(v);
    old->interval = ns_tv(i);
  }
  if (n) {
    arm(pt, t, tv_ns(n->value), tv_ns(n->interval), now);
    poke();
  }
  return 0;
}

Timer* posix_timer(int id) {
  if (id < 0 || id >= MAX_TIMERS) return nullptr;
  ProcessTimers& pt = cur_timers();
  Timer* t = &pt.timers[id];
  SpinGuard g(pt.lock);
  return t->used ? t : nullptr;
}

}  // namespace

void timers_exec_reset(bool fresh) {
  ProcessTimers& pt = cur_timers();
  SpinGuard g(pt.lock);
  for (int i = 0; i < MAX_TIMERS + (fresh ? 3 : 0); ++i) {
    Timer& t = pt.timers[i];
    if (i >= ITIMER_SLOT) {  // a new process's itimers: disarmed
      t.armed = false;
      t.interval = 0;
    } else {
      t = Timer();
    }
  }
  pt.posix_count.store(0, std::memory_order_relaxed);
}

DEFINE_SYSCALL(37, alarm, Result<unsigned>, unsigned seconds) {
  KItimerval n{{0, 0}, {int64_t(seconds), 0}}, old{};
  do_setitimer(L_ITIMER_REAL, &n, &old);
  // The previous alarm's remaining seconds, rounded as Linux does (an
  // armed alarm never reports 0).
  uint64_t r = uint64_t(old.value.sec) + (old.value.usec >= 500000 ? 1 : 0);
  if (!r && (old.value.sec || old.value.usec)) r = 1;
  return unsigned(r);
}

DEFINE_SYSCALL(38, setitimer, Result<void>, int which, UserPtr<const KItimerval> new_value,
               UserPtr<KItimerval> old_value) {
  if (which < L_ITIMER_REAL || which > L_ITIMER_PROF) return Error::Invalid;
  KItimerval n{};
  if (new_value) {  // NULL: disarm (Linux accepts it)
    n = TRY(new_value.read());
    if (!tv_ok(n.value) || !tv_ok(n.interval)) return Error::Invalid;
  }
  KItimerval old{};
  do_setitimer(which, &n, &old);
  if (old_value) TRY(old_value.write(old));
  return {};
}

DEFINE_SYSCALL(36, getitimer, Result<void>, int which, UserPtr<KItimerval> curr_value) {
  if (which < L_ITIMER_REAL || which > L_ITIMER_PROF) return Error::Invalid;
  KItimerval old{};
  do_setitimer(which, nullptr, &old);
  return curr_value.write(old);
}

DEFINE_SYSCALL(222, timer_create, Result<void>, int clock, UserPtr<const KSigevent> sevp, UserPtr<int32_t> timer_id) {
  if (clock != L_CLOCK_REALTIME && clock != L_CLOCK_MONOTONIC && clock != L_CLOCK_BOOTTIME && clock != L_CLOCK_TAI &&
      clock != L_CLOCK_PROCESS_CPUTIME_ID)
    return Error::Invalid;
  KSigevent ev{};
  const bool have_ev = bool(sevp);
  if (have_ev) {
    ev = TRY(sevp.read());
    // SIGEV_THREAD is a libc construction over SIGEV_THREAD_ID: EINVAL here too.
    if (ev.notify != L_SIGEV_SIGNAL && ev.notify != L_SIGEV_NONE && ev.notify != L_SIGEV_THREAD_ID &&
        ev.notify != (L_SIGEV_SIGNAL | L_SIGEV_THREAD_ID))
      return Error::Invalid;
    if (ev.notify != L_SIGEV_NONE && (ev.signo < 1 || ev.signo > L_NSIG)) return Error::Invalid;
    if ((ev.notify & L_SIGEV_THREAD_ID) && !signal_tid_exists(ev.tid)) return Error::Invalid;
  }
  ProcessTimers& pt = cur_timers();
  // Each timer holds a signal instance of its own, charged against
  // RLIMIT_SIGPENDING with the queued signals (Linux's sigqueue_alloc in
  // timer_create, whatever the notification): EAGAIN past it.
  const uint64_t charged = signal_queued_count(cur_process()) + uint64_t(timer_posix_count(cur_process()));
  if (charged >= rlimit_cur(L_RLIMIT_SIGPENDING)) return Error::Again;
  int id = -1;
  {
    SpinGuard g(pt.lock);
    for (int i = 0; i < MAX_TIMERS; ++i) {
      if (!pt.timers[i].used) {
        id = i;
        break;
      }
    }
    if (id < 0) return Error::Again;
    Timer& t = pt.timers[id];
    t = Timer();
    t.used = true;
    pt.posix_count.fetch_add(1, std::memory_order_relaxed);
    t.posix = true;
    t.id = id;
    t.clock = clock;
    t.cpu = clock == L_CLOCK_PROCESS_CPUTIME_ID;
    t.notify = have_ev ? (ev.notify & L_SIGEV_THREAD_ID ? L_SIGEV_THREAD_ID : ev.notify) : L_SIGEV_SIGNAL;
    t.signo = have_ev ? ev.signo : SIGALRM;
    t.value = have_ev ? ev.value : uint64_t(id);
    t.tid = ev.tid;
  }
  if (!timer_id.write(int32_t(id)).ok()) {
    SpinGuard g(pt.lock);
    pt.timers[id].used = false;
    pt.posix_count.fetch_sub(1, std::memory_order_relaxed);
    return Error::Fault;
  }
  return {};
}

// timer_t is an int in the kernel ABI (__kernel_timer_t).
DEFINE_SYSCALL(223, timer_settime, Result<void>, int timer_id, Flags<int> flags, UserPtr<const KItimerspec> new_value,
               UserPtr<KItimerspec> old_value) {
  Timer* t = posix_timer(timer_id);
  if (!t) return Error::Invalid;
  const KItimerspec n = TRY(new_value.read());
  if (!ts_ok(n.value) || !ts_ok(n.interval)) return Error::Invalid;
  ProcessTimers& pt = cur_timers();
  uint64_t now = clock_now(*t);
  KItimerspec old{};
  {
    SpinGuard g(pt.lock);
    uint64_t v, i;
    remaining_locked(pt, *t, now, &v, &i);
    old.value = ns_ts(v);
    old.interval = ns_ts(i);
  }
  uint64_t value = ts_ns(n.value);
  if (value && flags.any(L_TIMER_ABSTIME)) {
    // Absolute: relative to the timer's clock at `now`, the instant it is
    // armed from (expired already: fire at once). A second clock read here
    // would make the timer fire early by the time between the two reads.
    const bool wall = t->clock == L_CLOCK_REALTIME || t->clock == L_CLOCK_TAI;
    uint64_t clock_now_ns = wall && !t->cpu ? uint64_t(int64_t(now) + realtime_offset_ns()) : now;
    value = value > clock_now_ns ? value - clock_now_ns : 1;
  }
  arm(pt, *t, value, ts_ns(n.interval), now);
  poke();
  if (old_value) TRY(old_value.write(old));
  return {};
}

DEFINE_SYSCALL(224, timer_gettime, Result<void>, int timer_id, UserPtr<KItimerspec> curr_value) {
  Timer* t = posix_timer(timer_id);
  if (!t) return Error::Invalid;
  ProcessTimers& pt = cur_timers();
  uint64_t now = clock_now(*t);
  KItimerspec cur{};
  {
    SpinGuard g(pt.lock);
    uint64_t v, i;
    remaining_locked(pt, *t, now, &v, &i);
    cur.value = ns_ts(v);
    cur.interval = ns_ts(i);
  }
  return curr_value.write(cur);
}

DEFINE_SYSCALL(225, timer_getoverrun, Result<int>, int timer_id) {
  Timer* t = posix_timer(timer_id);
  if (!t) return Error::Invalid;
  SpinGuard g(cur_timers().lock);
  return __atomic_load_n(&t->overrun_last, __ATOMIC_ACQUIRE);
}

DEFINE_SYSCALL(226, timer_delete, Result<void>, int timer_id) {
  Timer* t = posix_timer(timer_id);
  if (!t) return Error::Invalid;
  SpinGuard g(cur_timers().lock);
  if (!t->used) return Error::Invalid;  // deleted meanwhile by another thread
  t->used = false;
  t->armed = false;
  cur_timers().posix_count.fetch_sub(1, std::memory_order_relaxed);
  return {};
}

}  // namespace capsule::linux_abi
