// Signal delivery (docs/signals.md "Delivery", "Synchronous signals",
// "Default actions"): on the way back to the application, at the syscall
// return hook (linux/syscall.cc), the return from an interrupt to
// application code (arch AppReturnHook) and application exceptions
// (arch_set_app_exception_handler); the restart of interrupted calls;
// interrupting a thread that runs on another CPU; ending the program.
// The frame itself is linux/signal_frame.cc, the state linux/signal_state.cc.
#include <cstddef>
#include <cstring>

#include "arch/apic.h"
#include "arch/arch.h"
#include "arch/cpu.h"
#include "arch/irq.h"
#include "arch/percpu.h"
#include "arch/x64/cpu/trap_frame.h"
#include "core/address_space.h"
#include "core/sched/thread.h"
#include "core/thread.h"
#include "lib/log.h"
#include "linux/exec_state.h"
#include "linux/fork_state.h"
#include "linux/notice.h"
#include "linux/oom.h"
#include "linux/process.h"
#include "linux/signal_frame.h"
#include "linux/signal_internal.h"
#include "linux/strace.h"
#include "linux/syscall_return.h"
#include "linux/sys_time.h"

namespace capsule::linux_abi {
namespace {

// si_code values for faults (ABI facts).
constexpr int32_t SEGV_MAPERR = 1, SEGV_ACCERR = 2, BUS_ADRALN = 1, BUS_ADRERR = 2, ILL_ILLOPN = 2,
                  FPE_INTDIV = 1, FPE_FLTDIV = 3, FPE_FLTOVF = 4, FPE_FLTUND = 5, FPE_FLTRES = 6,
                  FPE_FLTINV = 7, TRAP_BRKPT = 1, TRAP_TRACE = 2;

LinuxThread* lt_of(Thread* t) { return static_cast<LinuxThread*>(t->linux_state); }

// The handler's frame could not be written: SIGSEGV with the reason, as
// Linux's force_sigsegv — unless the copy ran out of memory and the OOM
// killer chose this process, whose end is then SIGKILL (the "out of
// memory" line already said why).
[[noreturn]] void frame_failed(uint64_t rip, bool has_addr, uint64_t addr, const char* why) {
  Process* p = current_process();
  if (p && p->oom_killed.load()) signal_terminate(SIGKILL, rip, has_addr, addr, nullptr);
  signal_terminate(SIGSEGV, rip, has_addr, addr, why);
}

// --- interrupting a running thread on another CPU ---

std::atomic<int> g_kick_vector{-1};
SpinLock g_kick_lock;

void on_kick(void*) {}  // the interrupt's return path does the work

uint8_t kick_vector() {
  int v = g_kick_vector.load(std::memory_order_acquire);
  if (v >= 0) return uint8_t(v);
  SpinGuard g(g_kick_lock);
  v = g_kick_vector.load();
  if (v < 0) {
    auto r = irq_vector_alloc();
    if (!r.ok()) return 0;
    (void)irq_register(r.value(), on_kick, nullptr);
    v = r.value();
    g_kick_vector.store(v, std::memory_order_release);
  }
  return uint8_t(v);
}

// --- delivery ---

// After a frame is built: the handler's mask, SA_RESETHAND.
void after_delivery(ProcessSignals& ps, LinuxThread* lt, int sig, const KSigAction& a, uint64_t saved_mask) {
  SpinGuard g(ps.lock);
  uint64_t m = saved_mask | a.mask;
  if (!(a.flags & SA_NODEFER)) m |= sigbit(sig);
  lt->sigmask = m & ~UNBLOCKABLE;
  if (a.flags & SA_RESETHAND) {
    ps.actions[sig - 1].handler = SIG_DFL;
    ps.actions[sig - 1].flags &= ~SA_SIGINFO;
  }
}

void apply_restart(Regs& r, int64_t code, bool handler, const KSigAction* a, uint64_t nr) {
  bool restart;
  if (!handler) restart = true;
  else if (code == -L_ERESTARTNOINTR) restart = true;
  else if (code == -L_ERESTARTSYS) restart = (a->flags & SA_RESTART) != 0;
  else restart = false;  // ERESTARTNOHAND with a handler
  if (restart) {
    r.rax = nr;
    r.rip -= 2;  // the syscall instruction again
  } else {
    r.rax = uint64_t(-L_EINTR);
  }
}

// Delivers the next deliverable signal to the calling thread. `restart` is
// the syscall's result if it is one of the ERESTART codes (else 0).
// Returns true if `r` changed.
bool do_signal(ProcessSignals& ps, LinuxThread* lt, SignalThread* st, Regs& r, int64_t restart, uint64_t nr) {
  for (;;) {
    KSigInfo info;
    KSigAction a;
    int sig;
    uint64_t seq = 0;
    {
      SpinGuard g(ps.lock);
      sig = signal_dequeue_locked(ps, lt, st, ~lt->sigmask, &info);
      if (sig) a = ps.actions[sig - 1];
      seq = ps.cont_seq;
    }
    if (!sig) break;
    if (strace::active()) strace::signal_delivered(sig, &info);  // "--- SIGX {...} ---"
    if (sig == SIGKILL || sig == SIGSTOP) a.handler = SIG_DFL;
    if (a.handler == SIG_IGN) continue;
    if (a.handler == SIG_DFL) {
      if (signal_default_ignores(sig)) continue;
      if (signal_default_stops(sig)) {
        // Stop the process (docs/signals.md "Stop and continue"). SIGTSTP,
        // SIGTTIN and SIGTTOU to an orphaned process group are discarded
        // (POSIX; Linux's get_signal), SIGSTOP never is. Once continued,
        // the next signal is looked at (SIGCONT's handler, SIGKILL).
        Process* p = current_process();
        if (sig != SIGSTOP && p && process_pgrp_orphaned(*p)) continue;
        signal_group_stop(ps, lt, st, sig, seq);
        continue;
      }
      if (sig == SIGKILL && exec_kills_current()) exec_thread_exit_killed();  // another thread's execve
      signal_terminate(sig, r.rip, false, 0);
    }
    if (restart) {
      apply_restart(r, restart, true, &a, nr);
      restart = 0;
    }
    uint64_t saved = st->restore_mask ? st->saved_mask : lt->sigmask;
    st->restore_mask = false;
    if (const char* why = signal_setup_frame(lt, r, sig, info, a, saved, {})) frame_failed(r.rip, false, 0, why);
    after_delivery(ps, lt, sig, a, saved);
    return true;
  }
  bool changed = false;
  if (restart) {
    apply_restart(r, restart, false, nullptr, nr);
    changed = true;
  }
  if (st->restore_mask) {
    SpinGuard g(ps.lock);
    lt->sigmask = st->saved_mask;
    st->restore_mask = false;
  }
  return changed;
}

// The scheduler's sticky interrupt flag follows "a signal is deliverable":
// cleared once none is, set again if one raced in.
void sync_interrupt_flag(const ProcessSignals& ps, Thread* t, const LinuxThread* lt) {
  if (!thread_interrupt_pending(t)) return;
  thread_clear_interrupt(t);
  if (signal_deliverable(ps, lt)) thread_interrupt(t);
}

}  // namespace

// A system call's return that syscall_return_quiet (linux/syscall_return.h)
// did not find quiet: deliver, restart, park (issue 16).
void syscall_return_work(SyscallArgs& args, int64_t result) {
  Thread* t = current_thread();
  ProcessSignals* ps = signals_of(t);
  if (!ps) return;
  LinuxThread* lt = nullptr;
  const bool restart = !args.full_return && is_restart_code(result);
  SignalThread* st = signal_state_of(t, &lt);
  if (!st) return;
  if (ps->stopping.load()) signal_park(*ps, lt, st);  // a group stop: wait here for SIGCONT
  Regs r = regs_from_syscall(*args.frame);
  if (do_signal(*ps, lt, st, r, restart ? result : 0, args.nr)) {
    regs_to_syscall(*args.frame, r);
    args.full_return = true;
  }
  sync_interrupt_flag(*ps, t, lt);
}

namespace {

bool irq_pending() {
  Thread* t = current_thread();
  auto* lt = lt_of(t);
  ProcessSignals* ps = signals_of(t);
  return lt && ps && (signal_deliverable(*ps, lt) || ps->stopping.load(std::memory_order_relaxed));
}

void on_irq_return(x64::TrapFrame& f) {
  LinuxThread* lt;
  SignalThread* st = signal_state_of(thread_current(), &lt);
  if (!st) return;
  ProcessSignals& ps = *signals_current();
  if (ps.stopping.load()) signal_park(ps, lt, st);
  Regs r = regs_from_trap(f);
  if (do_signal(ps, lt, st, r, 0, 0)) regs_to_trap(f, r);
  sync_interrupt_flag(ps, thread_current(), lt);
}

const AppReturnHook g_return_hook = {irq_pending, on_irq_return};

// A synchronous signal: delivered at once; if blocked or ignored, the
// action becomes the default (Linux's forced signals).
void force_signal(x64::TrapFrame& f, const KSigInfo& info, const FaultInfo& fi, bool has_addr) {
  int sig = info.signo;
  LinuxThread* lt;
  SignalThread* st = signal_state_of(thread_current(), &lt);
  if (!st) signal_terminate(sig, f.rip, has_addr, info.u.addr);
  ProcessSignals& ps = *signals_current();
  KSigAction a;
  uint64_t saved;
  const char* why = nullptr;  // the default action: the usual line
  {
    SpinGuard g(ps.lock);
    KSigAction& act = ps.actions[sig - 1];
    if ((lt->sigmask & sigbit(sig)) || act.handler == SIG_IGN) {
      why = (lt->sigmask & sigbit(sig)) ? "the signal was blocked" : "the signal was ignored";
      act.handler = SIG_DFL;
      lt->sigmask &= ~sigbit(sig);
    }
    a = act;
    saved = lt->sigmask;
  }
  if (a.handler == SIG_DFL) signal_terminate(sig, f.rip, has_addr, info.u.addr, why);
  Regs r = regs_from_trap(f);
  if (const char* why = signal_setup_frame(lt, r, sig, info, a, saved, fi)) frame_failed(f.rip, has_addr, info.u.addr, why);
  after_delivery(ps, lt, sig, a, saved);
  regs_to_trap(f, r);
}

int32_t fpe_code(uint32_t status_and_unmasked) {
  uint32_t s = status_and_unmasked;
  if (s & 0x01) return FPE_FLTINV;  // invalid operation (or x87 stack fault)
  if (s & 0x04) return FPE_FLTDIV;
  if (s & 0x08) return FPE_FLTOVF;
  if (s & 0x10) return FPE_FLTUND;
  if (s & 0x20) return FPE_FLTRES;
  if (s & 0x02) return FPE_FLTUND;  // denormal operand
  return 0;
}

void on_app_exception(x64::TrapFrame& f, uint64_t cr2) {
  KSigInfo info;
  FaultInfo fi;
  fi.trapno = f.vector;
  fi.err = f.error_code;
  bool has_addr = true;
  switch (f.vector) {
    case 14: {  // #PF: ask the address space why (it may be served now: a racing mprotect)
      Process* p = current_process();
      UserFault why = p && p->as ? p->as->handle_fault(cr2, f.error_code) : UserFault::NoMapping;
      if (why == UserFault::None) return;
      fi.cr2 = cr2;
      fi.err = f.error_code | 4;  // Linux reports a user-mode fault
      info.u.addr = cr2;
      switch (why) {
        case UserFault::NoMapping: info.signo = SIGSEGV; info.code = SEGV_MAPERR; break;
        case UserFault::BusError: info.signo = SIGBUS; info.code = BUS_ADRERR; break;
        case UserFault::OutOfMemory:  // Linux's OOM killer, with a line the user sees
          // The largest process goes; if it is another, its memory is back
          // and the fault is retried (the instruction runs again).
          if (oom_kill_largest(cr2)) return;
          signal_terminate(SIGKILL, f.rip, true, cr2);
        default: info.signo = SIGSEGV; info.code = SEGV_ACCERR; break;
      }
      break;
    }
    case 0:  info.signo = SIGFPE; info.code = FPE_INTDIV; info.u.addr = f.rip; break;
    case 1:  info.signo = SIGTRAP; info.code = TRAP_TRACE; info.u.addr = f.rip; break;
    case 3:  info.signo = SIGTRAP; info.code = SI_KERNEL; has_addr = false; break;  // int3: as Linux
    case 4:  info.signo = SIGSEGV; info.code = SI_KERNEL; has_addr = false; break;  // into
    case 5:  info.signo = SIGSEGV; info.code = SI_KERNEL; has_addr = false; break;  // bound
    case 6:  info.signo = SIGILL; info.code = ILL_ILLOPN; info.u.addr = f.rip; break;
    case 16: {  // #MF: x87
      uint16_t sw, cw;
      asm volatile("fnstsw %0; fnstcw %1" : "=m"(sw), "=m"(cw));
      info.signo = SIGFPE;
      info.code = fpe_code(sw & ~cw & 0x3f);
      info.u.addr = f.rip;
      fi.err = 0;
      break;
    }
    case 19: {  // #XM: SSE
      uint32_t mxcsr;
      asm volatile("stmxcsr %0" : "=m"(mxcsr));
      info.signo = SIGFPE;
      info.code = fpe_code(mxcsr & ~(mxcsr >> 7) & 0x3f);
      info.u.addr = f.rip;
      fi.err = 0;
      break;
    }
    case 17: info.signo = SIGBUS; info.code = BUS_ADRALN; info.u.addr = f.rip; break;
    case 12: info.signo = SIGBUS; info.code = SI_KERNEL; has_addr = false; break;  // #SS
    default: info.signo = SIGSEGV; info.code = SI_KERNEL; has_addr = false; break;  // #GP, #NP, #TS...
  }
  force_signal(f, info, fi, has_addr);
}

struct Init {
  Init() {
    arch_set_app_exception_handler(on_app_exception);
    arch_set_app_return_hook(&g_return_hook);
    set_sleep_signal_check(signal_pending_current);  // nanosleep, clock_nanosleep
  }
};
Init g_init;

}  // namespace

void signal_interrupt_target(Thread* t) {
  thread_interrupt(t);  // sticky flag + wake: interruptible waits (futex, ...) return EINTR
  if (t == current_thread()) return;
  if (!t->on_cpu.load(std::memory_order_acquire)) return;  // will see it at its next return
  uint8_t v = kick_vector();
  if (!v) return;
  IrqGuard irq;
  PerCpu* c = cpu_by_index(t->se.cpu);
  if (c && c != this_cpu()) lapic_send_ipi(c->apic_id, v);
}

void signal_kick(Thread* t) {
  if (t == current_thread() || !t->on_cpu.load(std::memory_order_acquire)) return;
  uint8_t v = kick_vector();
  if (!v) return;
  IrqGuard irq;
  PerCpu* c = cpu_by_index(t->se.cpu);
  if (c && c != this_cpu()) lapic_send_ipi(c->apic_id, v);
}

const char* signal_name(int sig) {
  static const char* const names[] = {
      "SIG0",    "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",
      "SIGFPE",  "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM",
      "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",
      "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS"};
  if (sig >= 0 && sig < 32) return names[sig];
  return "SIGRT";
}

[[noreturn]] void signal_terminate(int sig, uint64_t rip, bool has_addr, uint64_t addr, const char* why) {
  ProcessSignals* ps = signals_current();
  Process* p = current_process();
  if (p && p->pid != 1) {
    // Another process of the program: its parent learns it from wait4, as
    // on Linux (the console line is for the command's own end).
    if (ps) ps->terminating.store(true);
    log_info("process {} terminated by signal {} ({}) at RIP {:#x}", p->pid, sig, signal_name(sig), rip);
    process_exit_signaled(sig);
  }
  if (!ps || !ps->terminating.exchange(true)) {
    const char* sep = why ? ": " : "";
    if (!why) why = "";
    if (has_addr)
      kprint("capsule: program terminated by signal {} ({}) at RIP {:#x} (fault address {:#x}){}{}\n", sig,
             signal_name(sig), rip, addr, sep, why);
    else
      kprint("capsule: program terminated by signal {} ({}) at RIP {:#x}{}{}\n", sig, signal_name(sig), rip, sep, why);
  }
  process_exit_signaled(sig);
}

}  // namespace capsule::linux_abi
