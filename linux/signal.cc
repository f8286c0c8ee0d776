// Signal state and delivery (docs/signals.md).
//
// Delivery points: the syscall return hook (linux/syscall.cc), the return
// from an interrupt to application code (arch AppReturnHook) and
// application exceptions (arch_set_app_exception_handler). Each builds a
// Linux x86-64 rt_sigframe on the application's stack (or its sigaltstack):
//
//   sp ->  pretcode (sa_restorer)         the handler's return address
//          struct ucontext (304 bytes)     uc_flags, uc_link, uc_stack,
//                                          uc_mcontext (struct sigcontext),
//                                          uc_sigmask (8 bytes)
//          siginfo_t (128 bytes)
//          ...
//          XSAVE/FXSAVE area, 64-byte aligned (sigcontext.fpstate)
//          128-byte red zone below the interrupted RSP
//
// The layouts below are the Linux ABI (facts), written from the documented
// structure definitions.
#include <cstddef>
#include <cstring>

#include "core/address_space.h"
#include "arch/apic.h"
#include "arch/arch.h"
#include "arch/cpu.h"
#include "arch/fpu.h"
#include "arch/irq.h"
#include "lib/log.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "linux/process.h"
#include "core/thread.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "arch/x64/cpu/trap_frame.h"
#include "core/mm/vma.h"
#include "core/sched/thread.h"
#include "linux/exec_state.h"
#include "linux/signal_internal.h"
#include "linux/sys_time.h"

namespace capsule::linux_abi {

ProcessSignals* signals_of(const Thread* t) {
  auto* p = static_cast<Process*>(t->process);
  return p ? p->signals : nullptr;
}
ProcessSignals* signals_current() { return signals_of(thread_current()); }

namespace {

std::atomic<SignalPendingObserver> g_pending_observer{nullptr};

void tell_observer(int sig) {
  if (SignalPendingObserver fn = g_pending_observer.load(std::memory_order_acquire)) fn(sig);
}

// --- Linux x86-64 signal frame (ABI facts) ---

// The general registers in struct sigcontext order.
struct Regs {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, rflags;
};
struct SigContext {
  Regs r;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;
  uint64_t reserved1[8];
};
static_assert(sizeof(SigContext) == 256);
struct UContext {
  uint64_t flags;
  uint64_t link;
  KStack stack;
  SigContext mc;
  uint64_t sigmask;
};
static_assert(sizeof(UContext) == 304);
struct SigFrame {
  uint64_t pretcode;
  UContext uc;
  uint8_t info[128];
};
static_assert(offsetof(SigFrame, uc) == 8 && offsetof(SigFrame, info) == 312);

constexpr uint64_t UC_FP_XSTATE = 1, UC_SIGCONTEXT_SS = 2, UC_STRICT_RESTORE_SS = 4;
constexpr uint32_t FP_XSTATE_MAGIC1 = 0x46505853, FP_XSTATE_MAGIC2 = 0x46505845;
constexpr uint64_t RF_CF = 1 << 0, RF_PF = 1 << 2, RF_AF = 1 << 4, RF_ZF = 1 << 6, RF_SF = 1 << 7,
                   RF_TF = 1 << 8, RF_IF = 1 << 9, RF_DF = 1 << 10, RF_OF = 1 << 11, RF_RF = 1 << 16,
                   RF_AC = 1 << 18;
// What rt_sigreturn takes from the frame. TF is left out: single-stepping
// at CPL0 would trap inside the kernel's return path.
constexpr uint64_t RFLAGS_USER = RF_CF | RF_PF | RF_AF | RF_ZF | RF_SF | RF_DF | RF_OF | RF_AC;

constexpr uint64_t SYNC_SIGNALS = sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) | sigbit(SIGTRAP) |
                                  sigbit(SIGFPE) | sigbit(SIGSYS);

// si_code values for faults (ABI facts).
constexpr int32_t SEGV_MAPERR = 1, SEGV_ACCERR = 2, BUS_ADRALN = 1, BUS_ADRERR = 2, ILL_ILLOPN = 2,
                  FPE_INTDIV = 1, FPE_FLTDIV = 3, FPE_FLTOVF = 4, FPE_FLTUND = 5, FPE_FLTRES = 6,
                  FPE_FLTINV = 7, TRAP_BRKPT = 1, TRAP_TRACE = 2;

Regs from_syscall(const x64::SyscallFrame& f) {
  return {f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx,
          f.rdx, f.rax, f.rcx, f.rsp, f.rip, f.rflags};
}
void to_syscall(x64::SyscallFrame& f, const Regs& r) {
  f.r8 = r.r8, f.r9 = r.r9, f.r10 = r.r10, f.r11 = r.r11, f.r12 = r.r12, f.r13 = r.r13;
  f.r14 = r.r14, f.r15 = r.r15, f.rdi = r.rdi, f.rsi = r.rsi, f.rbp = r.rbp, f.rbx = r.rbx;
  f.rdx = r.rdx, f.rax = r.rax, f.rcx = r.rcx, f.rsp = r.rsp, f.rip = r.rip, f.rflags = r.rflags;
}
Regs from_trap(const x64::TrapFrame& f) {
  return {f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx,
          f.rdx, f.rax, f.rcx, f.rsp, f.rip, f.rflags};
}
void to_trap(x64::TrapFrame& f, const Regs& r) {
  f.r8 = r.r8, f.r9 = r.r9, f.r10 = r.r10, f.r11 = r.r11, f.r12 = r.r12, f.r13 = r.r13;
  f.r14 = r.r14, f.r15 = r.r15, f.rdi = r.rdi, f.rsi = r.rsi, f.rbp = r.rbp, f.rbx = r.rbx;
  f.rdx = r.rdx, f.rax = r.rax, f.rcx = r.rcx, f.rsp = r.rsp, f.rip = r.rip, f.rflags = r.rflags;
}

// --- vector state in the frame ---
// Our own XSAVE (not fpu_save's XSAVEOPT: its "modified" optimization may
// skip components when the buffer address matches the last XRSTOR's, and
// these buffers are recycled heap memory).

bool g_fpu_ready;
bool g_xsave;
uint64_t g_xcr0;
size_t g_xsize = 512;
uint32_t g_mxcsr_mask = 0xffbf;

uint64_t xgetbv0() {
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return uint64_t(hi) << 32 | lo;
}

void fpu_setup() {
  if (g_fpu_ready) return;
  const CpuFeatures& f = cpu_features();
  g_xsave = f.xsave;
  g_xsize = fpu_state_size();
  if (g_xsave) g_xcr0 = xgetbv0();
  alignas(64) static uint8_t area[512];
  asm volatile("fxsave64 %0" : "=m"(area));
  uint32_t m;
  memcpy(&m, area + 28, 4);
  if (m) g_mxcsr_mask = m;
  g_fpu_ready = true;
}

size_t fpu_frame_bytes() { return g_xsave ? g_xsize + 4 : 512; }

struct FpuBuf {
  FpuBuf() {
    raw = static_cast<uint8_t*>(kmalloc(g_xsize + 64 + 4));
    p = raw ? reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + 63) & ~uintptr_t(63)) : nullptr;
  }
  ~FpuBuf() { kfree(raw); }
  uint8_t* raw;
  uint8_t* p;
};

void xsave_to(uint8_t* a) {
  if (g_xsave) {
    memset(a + 512, 0, 64);  // XSAVE writes the header's XSTATE_BV only
    asm volatile("xsave64 (%0)" : : "r"(a), "a"(uint32_t(g_xcr0)), "d"(uint32_t(g_xcr0 >> 32)) : "memory");
  } else {
    asm volatile("fxsave64 (%0)" : : "r"(a) : "memory");
  }
}
void xrstor_from(const uint8_t* a) {
  if (g_xsave)
    asm volatile("xrstor64 (%0)" : : "r"(a), "a"(uint32_t(g_xcr0)), "d"(uint32_t(g_xcr0 >> 32)) : "memory");
  else
    asm volatile("fxrstor64 (%0)" : : "r"(a) : "memory");
}

// Makes an area safe for XRSTOR/FXRSTOR (anything else would #GP in the
// kernel): MXCSR within the supported bits, a standard-format XSAVE header
// naming only enabled components.
void sanitize_fpu(uint8_t* a) {
  uint32_t mxcsr;
  memcpy(&mxcsr, a + 24, 4);
  mxcsr &= g_mxcsr_mask;
  memcpy(a + 24, &mxcsr, 4);
  if (g_xsave) {
    uint64_t bv;
    memcpy(&bv, a + 512, 8);
    bv &= g_xcr0;
    memset(a + 512, 0, 64);
    memcpy(a + 512, &bv, 8);
  }
}

// The handler starts with the initial vector state, as on Linux.
void fpu_reset_for_handler() {
  FpuBuf b;
  if (!b.p) return;
  fpu_init_state(b.p);
  if (g_xsave) {
    uint64_t bv = 0;  // every component in its initial state
    memcpy(b.p + 512, &bv, 8);
  }
  xrstor_from(b.p);
}

// --- thread registry ---

void register_locked(ProcessSignals& ps, Thread* t, SignalThread* st) REQUIRES(ps.lock) {
  ps.lock.assert_held();
  if (st->registered) return;
  if (ps.nthreads == ps.cap) {
    size_t cap = ps.cap ? ps.cap * 2 : 16;
    auto** n = static_cast<Thread**>(kmalloc(cap * sizeof(Thread*)));
    if (!n) return;
    for (size_t i = 0; i < ps.nthreads; ++i) n[i] = ps.threads[i];
    kfree(ps.threads);  // under the lock: the heap does not take it
    ps.threads = n;
    ps.cap = cap;
  }
  ps.threads[ps.nthreads++] = t;
  st->registered = true;
}

// The signal state of application thread `t` (registered with its process
// on first use); nullptr on a kernel thread or when out of memory.
SignalThread* state_of(Thread* t, LinuxThread** out_lt) {
  ProcessSignals* ps = signals_of(t);
  if (!ps) return nullptr;
  LinuxThread* lt = linux_thread_of(t);
  if (!lt) return nullptr;
  if (!lt->signal) {
    auto* st = new (std::nothrow) SignalThread();
    if (!st) return nullptr;
    st->thread = t;
    lt->signal = st;
  }
  if (!lt->signal->registered) {
    SpinGuard g(ps->lock);
    register_locked(*ps, t, lt->signal);
  }
  *out_lt = lt;
  return lt->signal;
}

LinuxThread* lt_of(Thread* t) { return static_cast<LinuxThread*>(t->linux_state); }

enum class Dfl { Term, Core, Ign, Stop, Cont };
Dfl default_action(int sig) {
  switch (sig) {
    case SIGCHLD: case SIGURG: case SIGWINCH: return Dfl::Ign;
    case SIGCONT: return Dfl::Cont;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU: return Dfl::Stop;
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV:
    case SIGXCPU: case SIGXFSZ: case SIGSYS: return Dfl::Core;
    default: return Dfl::Term;
  }
}
// No job control: stop signals are ignored, and so is SIGCONT.
bool default_ignores(int sig) {
  Dfl d = default_action(sig);
  return d == Dfl::Ign || d == Dfl::Stop || d == Dfl::Cont;
}

int lowest(uint64_t set) { return __builtin_ctzll(set) + 1; }

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

struct FaultInfo {
  uint64_t err = 0, trapno = 0, cr2 = 0;
};


bool on_altstack(const LinuxThread* lt, uint64_t sp) {
  return lt->altstack_size && sp > lt->altstack_sp && sp - lt->altstack_sp <= lt->altstack_size;
}
int altstack_flags_for(const LinuxThread* lt, uint64_t sp) {
  if (on_altstack(lt, sp)) return SS_ONSTACK;
  if (!lt->altstack_size) return SS_DISABLE;
  return int(uint32_t(lt->altstack_flags) & SS_AUTODISARM);
}

// Builds the frame and points `r` at the handler. `saved_mask` is the mask
// the handler's ucontext records (restored by rt_sigreturn).
bool setup_frame(LinuxThread* lt, Regs& r, int sig, const KSigInfo& info, const KSigAction& a,
                 uint64_t saved_mask, const FaultInfo& fi) {
  if (!(a.flags & SA_RESTORER) || !a.restorer) return false;  // x86-64 requires it
  fpu_setup();
  uint64_t sp = r.rsp - 128;  // the red zone
  KStack saved_stack{lt->altstack_sp, altstack_flags_for(lt, r.rsp), 0, lt->altstack_size};
  if (!lt->altstack_size) saved_stack.flags = SS_DISABLE;
  if ((a.flags & SA_ONSTACK) && lt->altstack_size && !on_altstack(lt, r.rsp)) {
    sp = lt->altstack_sp + lt->altstack_size;
    if (uint32_t(lt->altstack_flags) & SS_AUTODISARM) {
      lt->altstack_sp = 0;
      lt->altstack_size = 0;
      lt->altstack_flags = SS_DISABLE;
    }
  }
  size_t fbytes = fpu_frame_bytes();
  uint64_t fpaddr = (sp - fbytes) & ~uint64_t(63);
  sp = ((fpaddr - sizeof(SigFrame)) & ~uint64_t(15)) - 8;
  if (sp >= mm::USER_END || sp < 4096) return false;

  {
    FpuBuf b;
    if (!b.p) return false;
    xsave_to(b.p);
    if (g_xsave) {
      // struct _fpx_sw_bytes in the FXSAVE area's software bytes (464..511)
      // and the second magic after the XSAVE area.
      uint32_t sw[12] = {};
      sw[0] = FP_XSTATE_MAGIC1;
      sw[1] = uint32_t(g_xsize + 4);
      memcpy(&sw[2], &g_xcr0, 8);
      sw[4] = uint32_t(g_xsize);
      memcpy(b.p + 464, sw, sizeof(sw));
      uint32_t m2 = FP_XSTATE_MAGIC2;
      memcpy(b.p + g_xsize, &m2, 4);
    }
    if (!copy_to_user(reinterpret_cast<void*>(fpaddr), b.p, fbytes).ok()) return false;
  }

  SigFrame f;
  memset(&f, 0, sizeof(f));
  f.pretcode = a.restorer;
  f.uc.flags = (g_xsave ? UC_FP_XSTATE : 0) | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
  f.uc.link = 0;
  f.uc.stack = saved_stack;
  f.uc.mc.r = r;
  f.uc.mc.cs = 0x33;  // what Linux reports for a 64-bit user context
  f.uc.mc.ss = 0x2b;
  f.uc.mc.err = fi.err;
  f.uc.mc.trapno = fi.trapno;
  f.uc.mc.oldmask = saved_mask;
  f.uc.mc.cr2 = fi.cr2;
  f.uc.mc.fpstate = fpaddr;
  f.uc.sigmask = saved_mask;
  memcpy(f.info, &info, sizeof(info));
  if (!copy_to_user(reinterpret_cast<void*>(sp), &f, sizeof(f)).ok()) return false;

  fpu_reset_for_handler();
  r.rdi = uint64_t(sig);
  r.rsi = sp + offsetof(SigFrame, info);
  r.rdx = sp + offsetof(SigFrame, uc);
  r.rax = 0;
  r.rsp = sp;
  r.rip = a.handler;
  r.rflags = (r.rflags & ~(RF_TF | RF_DF | RF_RF | RF_AC)) | RF_IF | 2;
  return true;
}

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
  else if (code == -kERESTARTNOINTR) restart = true;
  else if (code == -kERESTARTSYS) restart = (a->flags & SA_RESTART) != 0;
  else restart = false;  // ERESTARTNOHAND with a handler
  if (restart) {
    r.rax = nr;
    r.rip -= 2;  // the syscall instruction again
  } else {
    r.rax = uint64_t(-kEINTR);
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
    {
      SpinGuard g(ps.lock);
      sig = signal_dequeue_locked(ps, lt, st, ~lt->sigmask, &info);
      if (sig) a = ps.actions[sig - 1];
    }
    if (!sig) break;
    if (sig == SIGKILL || sig == SIGSTOP) a.handler = SIG_DFL;
    if (a.handler == SIG_IGN) continue;
    if (a.handler == SIG_DFL) {
      if (default_ignores(sig)) continue;
      if (sig == SIGKILL && exec_kills_current()) exec_thread_exit_killed();  // another thread's execve
      signal_terminate(sig, r.rip, false, 0);
    }
    if (restart) {
      apply_restart(r, restart, true, &a, nr);
      restart = 0;
    }
    uint64_t saved = st->restore_mask ? st->saved_mask : lt->sigmask;
    st->restore_mask = false;
    if (!setup_frame(lt, r, sig, info, a, saved, {})) signal_terminate(SIGSEGV, r.rip, false, 0);
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

bool is_restart_code(int64_t r) { return r == -kERESTARTSYS || r == -kERESTARTNOINTR || r == -kERESTARTNOHAND; }

void on_syscall_return(SyscallArgs& args, int64_t result) {
  Thread* t = thread_current();
  ProcessSignals* ps = signals_of(t);
  if (!ps) return;
  auto* lt = lt_of(t);
  bool restart = !args.full_return && is_restart_code(result);
  if (!restart && lt && lt->signal && lt->signal->registered && !lt->signal->restore_mask &&
      !signal_deliverable(*ps, lt) && !thread_interrupt_pending(t))
    return;  // the common case: nothing to do
  SignalThread* st = state_of(t, &lt);
  if (!st) return;
  Regs r = from_syscall(*args.frame);
  if (do_signal(*ps, lt, st, r, restart ? result : 0, args.nr)) {
    to_syscall(*args.frame, r);
    args.full_return = true;
  }
  sync_interrupt_flag(*ps, t, lt);
}

bool irq_pending() {
  Thread* t = current_thread();
  auto* lt = lt_of(t);
  ProcessSignals* ps = signals_of(t);
  return lt && ps && signal_deliverable(*ps, lt);
}

void on_irq_return(x64::TrapFrame& f) {
  LinuxThread* lt;
  SignalThread* st = state_of(thread_current(), &lt);
  if (!st) return;
  ProcessSignals& ps = *signals_current();
  Regs r = from_trap(f);
  if (do_signal(ps, lt, st, r, 0, 0)) to_trap(f, r);
  sync_interrupt_flag(ps, thread_current(), lt);
}

const AppReturnHook g_return_hook = {irq_pending, on_irq_return};

// A synchronous signal: delivered at once; if blocked or ignored, the
// action becomes the default (Linux's forced signals).
void force_signal(x64::TrapFrame& f, const KSigInfo& info, const FaultInfo& fi, bool has_addr) {
  int sig = info.signo;
  LinuxThread* lt;
  SignalThread* st = state_of(thread_current(), &lt);
  if (!st) signal_terminate(sig, f.rip, has_addr, info.u.addr);
  ProcessSignals& ps = *signals_current();
  KSigAction a;
  uint64_t saved;
  {
    SpinGuard g(ps.lock);
    KSigAction& act = ps.actions[sig - 1];
    if ((lt->sigmask & sigbit(sig)) || act.handler == SIG_IGN) {
      act.handler = SIG_DFL;
      lt->sigmask &= ~sigbit(sig);
    }
    a = act;
    saved = lt->sigmask;
  }
  if (a.handler == SIG_DFL) signal_terminate(sig, f.rip, has_addr, info.u.addr);
  Regs r = from_trap(f);
  if (!setup_frame(lt, r, sig, info, a, saved, fi)) signal_terminate(SIGSEGV, f.rip, has_addr, info.u.addr);
  after_delivery(ps, lt, sig, a, saved);
  to_trap(f, r);
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
        case UserFault::OutOfMemory:
          kprint("capsule: out of memory serving a page fault at {:#x}\n", cr2);
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

void kick(Thread* t) {
  thread_interrupt(t);  // sticky flag + wake: interruptible waits (futex, ...) return EINTR
  if (t == current_thread()) return;
  if (!t->on_cpu.load(std::memory_order_acquire)) return;  // will see it at its next return
  uint8_t v = kick_vector();
  if (!v) return;
  IrqGuard irq;
  PerCpu* c = cpu_by_index(t->se.cpu);
  if (c && c != this_cpu()) lapic_send_ipi(c->apic_id, v);
}

// Generation. Returns the thread to interrupt, or nullptr.
Thread* queue_locked(ProcessSignals& ps, Thread* target, const KSigInfo& info) REQUIRES(ps.lock) {
  ps.lock.assert_held();
  int sig = info.signo;
  uint64_t bit = sigbit(sig);
  if (target) {
    LinuxThread* lt = lt_of(target);
    SignalThread* st = lt->signal;
    if (signal_ignored_locked(ps, sig) && !(lt->sigmask & bit)) return nullptr;
    if (!(lt->pending & bit)) {
      lt->pending |= bit;
      st->info[sig - 1] = info;
    } else if (sig >= kSIGRTMIN) {
      (void)st->rtq.push(info);  // real-time signals queue; standard ones coalesce
    }
    // Blocked: only a thread waiting for it in rt_sigtimedwait is woken.
    bool waiting = __atomic_load_n(&st->waiting_for, __ATOMIC_ACQUIRE) & bit;
    return ((lt->sigmask & bit) && !waiting) ? nullptr : target;
  }
  Thread* chosen = nullptr;
  for (size_t i = 0; i < ps.nthreads; ++i) {
    LinuxThread* lt = lt_of(ps.threads[i]);
    bool waiting = lt->signal && (__atomic_load_n(&lt->signal->waiting_for, __ATOMIC_ACQUIRE) & bit);
    if (!(lt->sigmask & bit) || waiting) {
      chosen = ps.threads[i];
      break;
    }
  }
  if (signal_ignored_locked(ps, sig) && chosen) return nullptr;
  if (!(ps.pending & bit)) {
    __atomic_store_n(&ps.pending, ps.pending | bit, __ATOMIC_RELEASE);
    ps.info[sig - 1] = info;
  } else if (sig >= kSIGRTMIN) {
    (void)ps.rtq.push(info);
  }
  return chosen;
}

Thread* find_tid_locked(ProcessSignals& ps, int tid) REQUIRES(ps.lock) {
  ps.lock.assert_held();
  for (size_t i = 0; i < ps.nthreads; ++i)
    if (lt_of(ps.threads[i])->tid == tid) return ps.threads[i];
  return nullptr;
}

struct Init {
  Init() {
    set_syscall_return_hook(on_syscall_return);
    arch_set_app_exception_handler(on_app_exception);
    arch_set_app_return_hook(&g_return_hook);
    set_sleep_signal_check(signal_pending_current);  // nanosleep, clock_nanosleep
  }
};
Init g_init;

}  // namespace

// --- shared with sys_signal.cc ---

LinuxThread* signal_self(SignalThread** st) {
  LinuxThread* lt = nullptr;
  *st = state_of(thread_current(), &lt);
  return *st ? lt : nullptr;
}

uint64_t signal_deliverable(const ProcessSignals& ps, const LinuxThread* lt) {
  uint64_t pend = __atomic_load_n(&lt->pending, __ATOMIC_ACQUIRE) | __atomic_load_n(&ps.pending, __ATOMIC_ACQUIRE);
  return pend & ~(__atomic_load_n(&lt->sigmask, __ATOMIC_RELAXED) & ~UNBLOCKABLE);
}

int signal_dequeue_locked(ProcessSignals& ps, LinuxThread* lt, SignalThread* st, uint64_t want, KSigInfo* out) {
  ps.lock.assert_held();
  want |= UNBLOCKABLE;
  uint64_t tp = lt->pending & want, pp = ps.pending & want;
  int sig;
  if (tp & SYNC_SIGNALS) sig = lowest(tp & SYNC_SIGNALS);
  else if (tp) sig = lowest(tp);
  else if (pp) sig = lowest(pp);
  else return 0;
  if (tp & sigbit(sig)) {
    *out = st->info[sig - 1];
    // A queued further instance stays pending with its own siginfo.
    if (!st->rtq.pop(sig, st->info[sig - 1])) lt->pending &= ~sigbit(sig);
  } else {
    *out = ps.info[sig - 1];
    if (!ps.rtq.pop(sig, ps.info[sig - 1]))
      __atomic_store_n(&ps.pending, ps.pending & ~sigbit(sig), __ATOMIC_RELEASE);
  }
  return sig;
}

bool signal_ignored_locked(const ProcessSignals& ps, int sig) {
  ps.lock.assert_held();
  if (sig == SIGKILL || sig == SIGSTOP) return false;
  uint64_t h = ps.actions[sig - 1].handler;
  return h == SIG_IGN || (h == SIG_DFL && default_ignores(sig));
}

void signal_flush_locked(ProcessSignals& ps, int sig) {
  ps.lock.assert_held();
  uint64_t bit = sigbit(sig);
  __atomic_store_n(&ps.pending, ps.pending & ~bit, __ATOMIC_RELEASE);
  KSigInfo drop;
  while (ps.rtq.pop(sig, drop)) {
  }
  for (size_t i = 0; i < ps.nthreads; ++i) {
    lt_of(ps.threads[i])->pending &= ~bit;
    if (SignalThread* st = lt_of(ps.threads[i])->signal)
      while (st->rtq.pop(sig, drop)) {
      }
  }
}

bool signal_wait_for(uint64_t want, uint64_t deadline_ns) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return false;
  ProcessSignals& ps = *signals_current();
  want |= UNBLOCKABLE;
  __atomic_store_n(&st->waiting_for, want, __ATOMIC_SEQ_CST);
  bool got = false;
  for (;;) {
    sched_prepare_block();
    uint64_t pend = __atomic_load_n(&lt->pending, __ATOMIC_SEQ_CST) | __atomic_load_n(&ps.pending, __ATOMIC_SEQ_CST);
    if (pend & want) {
      ThreadState b = ThreadState::Blocked;
      thread_current()->state.compare_exchange_strong(b, ThreadState::Running);
      got = true;
      break;
    }
    if (!sched_block(deadline_ns)) break;
  }
  __atomic_store_n(&st->waiting_for, 0, __ATOMIC_SEQ_CST);
  return got;
}

int64_t signal_altstack(LinuxThread* lt, const KStack* ss, KStack* old, uint64_t user_rsp) {
  if (old) {
    old->sp = lt->altstack_sp;
    old->size = lt->altstack_size;
    old->flags = altstack_flags_for(lt, user_rsp);
    old->pad = 0;
  }
  if (ss) {
    if (on_altstack(lt, user_rsp)) return -kEPERM;
    uint32_t mode = uint32_t(ss->flags) & ~SS_AUTODISARM;
    if (mode != 0 && mode != uint32_t(SS_DISABLE) && mode != uint32_t(SS_ONSTACK)) return -kEINVAL;
    if (mode == uint32_t(SS_DISABLE)) {
      lt->altstack_sp = 0;
      lt->altstack_size = 0;
      lt->altstack_flags = SS_DISABLE;
    } else {
      if (ss->size < MINSIGSTKSZ) return -kENOMEM;
      lt->altstack_sp = ss->sp;
      lt->altstack_size = ss->size;
      lt->altstack_flags = int(uint32_t(ss->flags) & SS_AUTODISARM);
    }
  }
  return 0;
}

int64_t signal_sigreturn(SyscallArgs& args) {
  x64::SyscallFrame& f = *args.frame;
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) signal_terminate(SIGSEGV, f.rip, false, 0);
  fpu_setup();
  UContext uc;
  if (!copy_from_user(&uc, reinterpret_cast<const void*>(f.rsp), sizeof(uc)).ok() ||
      uc.mc.r.rip >= mm::USER_END || uc.mc.r.rsp >= mm::USER_END) {
    kprint("capsule: rt_sigreturn with a bad frame at {:#x}\n", f.rsp);
    signal_terminate(SIGSEGV, f.rip, false, 0);
  }
  // Vector state.
  {
    FpuBuf b;
    if (!b.p) signal_terminate(SIGSEGV, f.rip, false, 0);
    bool ok = true;
    if (!uc.mc.fpstate) {
      fpu_init_state(b.p);
      if (g_xsave) memset(b.p + 512, 0, 64);
    } else {
      memset(b.p, 0, g_xsize);
      ok = copy_from_user(b.p, reinterpret_cast<const void*>(uc.mc.fpstate), 512).ok();
      if (ok && g_xsave) {
        uint32_t magic1, xsize;
        memcpy(&magic1, b.p + 464, 4);
        memcpy(&xsize, b.p + 464 + 16, 4);
        if ((uc.flags & UC_FP_XSTATE) && magic1 == FP_XSTATE_MAGIC1 && xsize == g_xsize) {
          ok = copy_from_user(b.p + 512, reinterpret_cast<const uint8_t*>(uc.mc.fpstate) + 512, g_xsize - 512).ok();
        } else {
          memset(b.p + 512, 0, 64);
          uint64_t bv = 3;  // x87 and SSE from the legacy area
          memcpy(b.p + 512, &bv, 8);
        }
      }
    }
    if (!ok) {
      kprint("capsule: rt_sigreturn with a bad fpstate at {:#x}\n", uc.mc.fpstate);
      signal_terminate(SIGSEGV, f.rip, false, 0);
    }
    sanitize_fpu(b.p);
    xrstor_from(b.p);
  }
  Regs r = uc.mc.r;
  r.rflags = (f.rflags & ~RFLAGS_USER) | (uc.mc.r.rflags & RFLAGS_USER) | RF_IF | 2;
  r.rflags &= ~(RF_TF | RF_RF);
  to_syscall(f, r);
  {
    SpinGuard g(signals_current()->lock);
    lt->sigmask = uc.sigmask & ~UNBLOCKABLE;
  }
  st->restore_mask = false;
  KStack ss = uc.stack;
  (void)signal_altstack(lt, &ss, nullptr, r.rsp);  // errors ignored, as Linux
  args.full_return = true;
  return int64_t(r.rax);
}

// --- execve (linux/exec_state.h) ---

void signal_kill_thread(Thread* t) {
  ProcessSignals* ps = signals_of(t);
  if (!ps) return;
  {
    SpinGuard g(ps->lock);
    LinuxThread* lt = lt_of(t);
    if (!lt || !lt->signal || !lt->signal->registered) return;  // leaving, or not started yet
    KSigInfo info;
    info.signo = SIGKILL;
    info.code = SI_KERNEL;
    lt->pending |= sigbit(SIGKILL);
    lt->signal->info[SIGKILL - 1] = info;
  }
  kick(t);
}

void signal_exec_reset(bool fresh) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  ProcessSignals* ps = signals_current();
  if (!ps) return;
  SpinGuard g(ps->lock);
  for (int i = 0; i < kNSIG; ++i) {
    KSigAction& a = ps->actions[i];
    if (fresh || a.handler != SIG_IGN) a.handler = SIG_DFL;
    a.flags = 0;
    a.restorer = 0;
    a.mask = 0;
  }
  if (!lt) return;
  lt->altstack_sp = 0;
  lt->altstack_size = 0;
  lt->altstack_flags = SS_DISABLE;
  st->restore_mask = false;
  st->waiting_for = 0;
  if (fresh) {
    lt->sigmask = 0;
    lt->pending = 0;
    st->rtq.count = 0;
    __atomic_store_n(&ps->pending, 0, __ATOMIC_RELEASE);
    ps->rtq.count = 0;
  }
}

// --- public (linux/signal.h) ---

bool signal_pending_current() {
  Thread* t = thread_current();
  auto* lt = lt_of(t);
  ProcessSignals* ps = signals_of(t);
  return lt && ps && signal_deliverable(*ps, lt);
}

void signal_interrupt_target(Thread* t) { kick(t); }

int64_t signal_sleep_until(uint64_t deadline_ns) {
  ProcessSignals* ps = signals_current();
  auto* lt = ps ? linux_thread() : nullptr;  // kernel threads: no signals
  for (;;) {
    if (lt && signal_deliverable(*ps, lt)) return -kEINTR;
    sched_prepare_block();
    if (lt && signal_deliverable(*ps, lt)) {
      ThreadState b = ThreadState::Blocked;
      thread_current()->state.compare_exchange_strong(b, ThreadState::Running);
      return -kEINTR;
    }
    if (!sched_block(deadline_ns)) return 0;
    if (deadline_ns && uptime_ns() >= deadline_ns) return (lt && signal_deliverable(*ps, lt)) ? -kEINTR : 0;
  }
}

namespace {
// Makes sure the caller, if an application thread, is a known target.
void register_caller() {
  LinuxThread* lt;
  (void)state_of(thread_current(), &lt);
}
}  // namespace

int64_t signal_send_process(Process& p, const KSigInfo& info) {
  if (info.signo < 1 || info.signo > kNSIG) return -kEINVAL;
  register_caller();
  ProcessSignals& ps = *p.signals;
  Thread* t;
  {
    SpinGuard g(ps.lock);
    t = queue_locked(ps, nullptr, info);
  }
  if (t) kick(t);
  tell_observer(info.signo);
  return 0;
}

int64_t signal_send_process(const KSigInfo& info) {
  Process* p = current_process();
  if (!p) return -kESRCH;
  return signal_send_process(*p, info);
}

int64_t signal_send_tid(Process& p, int tid, const KSigInfo& info) {
  if (info.signo < 0 || info.signo > kNSIG) return -kEINVAL;
  register_caller();
  ProcessSignals& ps = *p.signals;
  Thread* t;
  {
    SpinGuard g(ps.lock);
    Thread* target = find_tid_locked(ps, tid);
    if (!target) return -kESRCH;
    if (!info.signo) return 0;
    t = queue_locked(ps, target, info);
  }
  if (t) kick(t);
  tell_observer(info.signo);
  return 0;
}

int64_t signal_send_tid(int tid, const KSigInfo& info) {
  Process* p = current_process();
  if (!p) return -kESRCH;
  return signal_send_tid(*p, tid, info);
}

bool signal_tid_exists(int tid) {
  ProcessSignals* ps = signals_current();
  if (!ps) return false;
  register_caller();
  SpinGuard g(ps->lock);
  return find_tid_locked(*ps, tid) != nullptr;
}

bool signal_begin_temp_mask(uint64_t mask) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return false;
  ProcessSignals& ps = *signals_current();
  // The interrupt flag follows the new mask: a flag left from a signal the
  // call's mask blocks would otherwise end every wait (and, restarted,
  // the call again) at once. Signals queued after this see the new mask.
  thread_clear_interrupt(thread_current());
  bool deliverable;
  {
    SpinGuard g(ps.lock);
    if (!st->restore_mask) st->saved_mask = lt->sigmask;  // a restarted call keeps the first one
    st->restore_mask = true;
    lt->sigmask = mask & ~UNBLOCKABLE;
    deliverable = signal_deliverable(ps, lt);
  }
  if (deliverable) thread_interrupt(thread_current());
  return true;
}

void signal_end_temp_mask(bool interrupted) {
  if (interrupted) return;  // the return path restores it after delivery
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return;
  SpinGuard g(signals_current()->lock);
  if (!st->restore_mask) return;
  lt->sigmask = st->saved_mask;
  st->restore_mask = false;
}

uint64_t signal_pending_any() {
  Thread* t = thread_current();
  ProcessSignals* ps = signals_of(t);
  if (!ps) return 0;
  auto* lt = lt_of(t);
  uint64_t p = __atomic_load_n(&ps->pending, __ATOMIC_ACQUIRE);
  return lt ? p | __atomic_load_n(&lt->pending, __ATOMIC_ACQUIRE) : p;
}

int signal_take(uint64_t mask, KSigInfo* out) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return 0;
  ProcessSignals& ps = *signals_current();
  SpinGuard g(ps.lock);
  uint64_t pend = lt->pending | ps.pending;
  // signal_dequeue_locked always admits SIGKILL/SIGSTOP: leave the call
  // (the caller sees a deliverable signal) rather than take them.
  if (pend & UNBLOCKABLE) return 0;
  if (!(pend & mask)) return 0;
  return signal_dequeue_locked(ps, lt, st, mask & ~UNBLOCKABLE, out);
}

void signal_wait_any(uint64_t mask) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return;
  (void)signal_wait_for(mask | ~lt->sigmask, 0);
}

void signal_set_pending_observer(SignalPendingObserver fn) { g_pending_observer.store(fn, std::memory_order_release); }

bool signal_process_pending(Process& p, int sig) {
  return __atomic_load_n(&p.signals->pending, __ATOMIC_ACQUIRE) & sigbit(sig);
}

void signal_thread_start(Thread* t) {
  LinuxThread* lt;
  (void)state_of(t, &lt);
}

void signal_thread_exit(Thread* t) {
  ProcessSignals* ps = signals_of(t);
  if (!ps) return;
  SpinGuard g(ps->lock);
  for (size_t i = 0; i < ps->nthreads; ++i) {
    if (ps->threads[i] == t) {
      ps->threads[i] = ps->threads[--ps->nthreads];
      if (auto* lt = lt_of(t); lt && lt->signal) lt->signal->registered = false;
      break;
    }
  }
}

void signal_process_masks(Process& p, uint64_t* shared_pending, uint64_t* ignored, uint64_t* caught) {
  ProcessSignals& ps = *p.signals;
  SpinGuard g(ps.lock);
  *shared_pending = ps.pending;
  *ignored = *caught = 0;
  for (int sig = 1; sig <= kNSIG; ++sig) {
    uint64_t h = ps.actions[sig - 1].handler;
    if (h == SIG_IGN) *ignored |= sigbit(sig);
    else if (h != SIG_DFL) *caught |= sigbit(sig);
  }
}

uint64_t signal_process_cpu_ns(Process& p) {
  ProcessSignals& ps = *p.signals;
  SpinGuard g(ps.lock);
  uint64_t sum = 0;
  // A thread running now has not been charged for its current slice: the
  // live figure adds it.
  for (size_t i = 0; i < ps.nthreads; ++i) sum += thread_cpu_time_live_ns(ps.threads[i]);
  return sum;
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

[[noreturn]] void signal_terminate(int sig, uint64_t rip, bool has_addr, uint64_t addr) {
  ProcessSignals* ps = signals_current();
  if (!ps || !ps->terminating.exchange(true)) {
    if (has_addr)
      kprint("capsule: program terminated by signal {} ({}) at RIP {:#x} (fault address {:#x})\n", sig,
             signal_name(sig), rip, addr);
    else
      kprint("capsule: program terminated by signal {} ({}) at RIP {:#x}\n", sig, signal_name(sig), rip);
  }
  process_exit(128 + sig);
}

}  // namespace capsule::linux_abi
