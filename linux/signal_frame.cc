// The Linux x86-64 signal frame (docs/signals.md "Delivery"): built on the
// application's stack (or its sigaltstack) for a handler, read back by
// rt_sigreturn; sigaltstack.
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
// structure definitions. The vector state goes through arch's fpu
// (fpu_save_all, fpu_sanitize, fpu_restore).
#include "linux/signal_frame.h"

#include <cstddef>
#include <cstring>

#include "arch/fpu.h"
#include "arch/uaccess.h"
#include "core/mm.h"
#include "lib/log.h"
#include "linux/process.h"

namespace capsule::linux_abi {
namespace {

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

}  // namespace

namespace {

// SyscallFrame and TrapFrame name the same registers: one copy each way.
template <typename Frame>
Regs regs_from(const Frame& f) {
  return {f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx,
          f.rdx, f.rax, f.rcx, f.rsp, f.rip, f.rflags};
}
template <typename Frame>
void regs_to(Frame& f, const Regs& r) {
  f.r8 = r.r8, f.r9 = r.r9, f.r10 = r.r10, f.r11 = r.r11, f.r12 = r.r12, f.r13 = r.r13;
  f.r14 = r.r14, f.r15 = r.r15, f.rdi = r.rdi, f.rsi = r.rsi, f.rbp = r.rbp, f.rbx = r.rbx;
  f.rdx = r.rdx, f.rax = r.rax, f.rcx = r.rcx, f.rsp = r.rsp, f.rip = r.rip, f.rflags = r.rflags;
}

}  // namespace

Regs regs_from_syscall(const x64::SyscallFrame& f) { return regs_from(f); }
void regs_to_syscall(x64::SyscallFrame& f, const Regs& r) { regs_to(f, r); }
Regs regs_from_trap(const x64::TrapFrame& f) { return regs_from(f); }
void regs_to_trap(x64::TrapFrame& f, const Regs& r) { regs_to(f, r); }

namespace {

// --- the vector state in the frame ---

// The frame's vector area: the XSAVE area and FP_XSTATE_MAGIC2 after it,
// or the 512-byte FXSAVE area.
size_t fpu_frame_bytes() { return fpu_xfeatures() ? fpu_state_size() + 4 : 512; }

// The thread's 64-byte aligned scratch area (XSAVE's alignment) for the
// vector state, made at its first signal and kept until it ends: a
// delivery or rt_sigreturn then allocates nothing, so a program whose
// memory is short still returns from its handlers (a failed allocation in
// rt_sigreturn was SIGSEGV after the SYSCALL: seeds 14, 95 and 196 of the
// long fuzz run). Only the thread itself uses it, one use at a time.
struct FpuBuf {
  explicit FpuBuf(LinuxThread* lt) {
    if (!lt->fpu_scratch) lt->fpu_scratch = static_cast<uint8_t*>(kmalloc(fpu_state_size() + 64 + 4));
    uint8_t* raw = lt->fpu_scratch;
    p = raw ? reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + 63) & ~uintptr_t(63)) : nullptr;
  }
  uint8_t* p;
};

// The handler starts with the initial vector state, as on Linux.
void fpu_reset_for_handler(LinuxThread* lt) {
  FpuBuf b(lt);
  if (!b.p) return;
  fpu_init_state(b.p);  // XSTATE_BV 0: every component in its initial state
  fpu_restore(b.p);
}

// --- the alternate signal stack ---

bool on_altstack(const LinuxThread* lt, uint64_t sp) {
  return lt->altstack_size && sp > lt->altstack_sp && sp - lt->altstack_sp <= lt->altstack_size;
}
int altstack_flags_for(const LinuxThread* lt, uint64_t sp) {
  if (on_altstack(lt, sp)) return SS_ONSTACK;
  if (!lt->altstack_size) return SS_DISABLE;
  return int(uint32_t(lt->altstack_flags) & SS_AUTODISARM);
}

}  // namespace

const char* signal_setup_frame(LinuxThread* lt, Regs& r, int sig, const KSigInfo& info, const KSigAction& a,
                               uint64_t saved_mask, const FaultInfo& fi) {
  if (!(a.flags & SA_RESTORER) || !a.restorer) return "the handler has no SA_RESTORER";  // x86-64 requires it
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
  const uint64_t xcr0 = fpu_xfeatures();
  const size_t xsize = fpu_state_size();
  size_t fbytes = fpu_frame_bytes();
  uint64_t fpaddr = (sp - fbytes) & ~uint64_t(63);
  sp = ((fpaddr - sizeof(SigFrame)) & ~uint64_t(15)) - 8;
  if (sp >= mm::USER_END || sp < 4096) return "the signal stack pointer is not a user address";

  {
    FpuBuf b(lt);
    if (!b.p) return "no kernel memory for the vector state";
    fpu_save_all(b.p);
    if (xcr0) {
      // struct _fpx_sw_bytes in the FXSAVE area's software bytes (464..511)
      // and the second magic after the XSAVE area.
      uint32_t sw[12] = {};
      sw[0] = FP_XSTATE_MAGIC1;
      sw[1] = uint32_t(xsize + 4);
      memcpy(&sw[2], &xcr0, 8);
      sw[4] = uint32_t(xsize);
      memcpy(b.p + 464, sw, sizeof(sw));
      uint32_t m2 = FP_XSTATE_MAGIC2;
      memcpy(b.p + xsize, &m2, 4);
    }
    if (!copy_to_user(reinterpret_cast<void*>(fpaddr), b.p, fbytes).ok())
      return "the signal stack is not writable";
  }

  SigFrame f;
  memset(&f, 0, sizeof(f));
  f.pretcode = a.restorer;
  f.uc.flags = (xcr0 ? UC_FP_XSTATE : 0) | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
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
  if (!copy_to_user(reinterpret_cast<void*>(sp), &f, sizeof(f)).ok()) return "the signal stack is not writable";

  fpu_reset_for_handler(lt);
  r.rdi = uint64_t(sig);
  r.rsi = sp + offsetof(SigFrame, info);
  r.rdx = sp + offsetof(SigFrame, uc);
  r.rax = 0;
  r.rsp = sp;
  r.rip = a.handler;
  r.rflags = (r.rflags & ~(RF_TF | RF_DF | RF_RF | RF_AC)) | RF_IF | 2;
  return nullptr;
}

Result<void> signal_altstack(LinuxThread* lt, const KStack* ss, KStack* old, uint64_t user_rsp) {
  if (old) {
    old->sp = lt->altstack_sp;
    old->size = lt->altstack_size;
    old->flags = altstack_flags_for(lt, user_rsp);
    old->pad = 0;
  }
  if (ss) {
    if (on_altstack(lt, user_rsp)) return Error::Permission;
    uint32_t mode = uint32_t(ss->flags) & ~SS_AUTODISARM;
    if (mode != 0 && mode != uint32_t(SS_DISABLE) && mode != uint32_t(SS_ONSTACK)) return Error::Invalid;
    if (mode == uint32_t(SS_DISABLE)) {
      lt->altstack_sp = 0;
      lt->altstack_size = 0;
      lt->altstack_flags = SS_DISABLE;
    } else {
      if (ss->size < MINSIGSTKSZ) return Error::NoMemory;
      lt->altstack_sp = ss->sp;
      lt->altstack_size = ss->size;
      lt->altstack_flags = int(uint32_t(ss->flags) & SS_AUTODISARM);
    }
  }
  return {};
}

int64_t signal_sigreturn(SyscallArgs& args) {
  x64::SyscallFrame& f = *args.frame;
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) signal_terminate(SIGSEGV, f.rip, false, 0);
  UContext uc;
  if (!copy_from_user(&uc, reinterpret_cast<const void*>(f.rsp), sizeof(uc)).ok() ||
      uc.mc.r.rip >= mm::USER_END || uc.mc.r.rsp >= mm::USER_END) {
    kprint("capsule: rt_sigreturn with a bad frame at {:#x}\n", f.rsp);
    signal_terminate(SIGSEGV, f.rip, false, 0);
  }
  // Vector state.
  {
    const bool xsave = fpu_xfeatures() != 0;
    const size_t xsize = fpu_state_size();
    FpuBuf b(lt);
    if (!b.p) signal_terminate(SIGSEGV, f.rip, false, 0);
    bool ok = true;
    if (!uc.mc.fpstate) {
      fpu_init_state(b.p);  // XSTATE_BV 0: every component in its initial state
    } else {
      memset(b.p, 0, xsize);
      ok = copy_from_user(b.p, reinterpret_cast<const void*>(uc.mc.fpstate), 512).ok();
      if (ok && xsave) {
        uint32_t magic1, frame_xsize;
        memcpy(&magic1, b.p + 464, 4);
        memcpy(&frame_xsize, b.p + 464 + 16, 4);
        if ((uc.flags & UC_FP_XSTATE) && magic1 == FP_XSTATE_MAGIC1 && frame_xsize == xsize) {
          ok = copy_from_user(b.p + 512, reinterpret_cast<const uint8_t*>(uc.mc.fpstate) + 512, xsize - 512).ok();
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
    fpu_sanitize(b.p);
    fpu_restore(b.p);
  }
  Regs r = uc.mc.r;
  r.rflags = (f.rflags & ~RFLAGS_USER) | (uc.mc.r.rflags & RFLAGS_USER) | RF_IF | 2;
  r.rflags &= ~(RF_TF | RF_RF);
  regs_to_syscall(f, r);
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

}  // namespace capsule::linux_abi
