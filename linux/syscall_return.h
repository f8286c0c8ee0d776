#pragma once
// The return-work test every system call makes on its way back to the
// application (linux/syscall.cc's dispatcher, docs/syscall.md): inline, so
// that the common case, nothing to do, is loads and one branch in the
// dispatcher itself, without a call and a return (each of which is a
// translation-block lookup under TCG: bench/README.md).
#include <atomic>
#include <cstdint>

#include "arch/percpu.h"
#include "core/sched/thread.h"
#include "linux/linux_errno.h"
#include "linux/process.h"
#include "linux/signal_internal.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {

// -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND: one compare.
inline bool is_restart_code(int64_t r) {
  static_assert(L_ERESTARTNOINTR == L_ERESTARTSYS + 1 && L_ERESTARTNOHAND == L_ERESTARTSYS + 2);
  return uint64_t(r) + uint64_t(L_ERESTARTNOHAND) < 3;  // -514..-512
}

// True when the calling thread returns from a system call with nothing to
// do: no signal deliverable, no restart code, no mask to restore, no group
// stop, no sticky interrupt; or it is no application thread. False sends
// it to syscall_return_work. `|`, not `||`: every operand is a plain load.
inline bool syscall_return_quiet(int64_t result, bool full_return) {
  const Thread* t = current_thread();
  auto* p = static_cast<const Process*>(t->process);
  const ProcessSignals* ps = p ? p->signals : nullptr;
  if (!ps) return true;
  auto* lt = static_cast<const LinuxThread*>(t->linux_state);
  const SignalThread* sst = lt ? lt->signal : nullptr;
  const bool restart = !full_return && is_restart_code(result);
  return sst && !(restart | !sst->registered | sst->restore_mask | (signal_deliverable(*ps, lt) != 0) |
                  t->interrupt_pending.load() | ps->stopping.load(std::memory_order_relaxed));
}

}  // namespace capsule::linux_abi
