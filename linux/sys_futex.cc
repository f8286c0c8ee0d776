// futex(2): decodes the command and its arguments onto the futex service
// (core/include/core/futex.h). docs/threads-abi.md lists what is supported.
#include "core/futex.h"

#include "core/time.h"
#include "arch/uaccess.h"
#include "core/sched/thread.h"
#include "linux/process.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"
#include "linux/thread_table.h"

namespace capsule::linux_abi {
namespace {

// futex_op commands and flags (include/uapi/linux/futex.h: ABI facts).
enum : uint32_t {
  FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_FD = 2, FUTEX_REQUEUE = 3, FUTEX_CMP_REQUEUE = 4,
  FUTEX_WAKE_OP = 5, FUTEX_LOCK_PI = 6, FUTEX_UNLOCK_PI = 7, FUTEX_TRYLOCK_PI = 8,
  FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10, FUTEX_WAIT_REQUEUE_PI = 11,
  FUTEX_CMP_REQUEUE_PI = 12, FUTEX_LOCK_PI2 = 13,
};
constexpr uint32_t FUTEX_PRIVATE_FLAG = 128, FUTEX_CLOCK_REALTIME = 256;
constexpr uint32_t FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);

struct Timespec {
  int64_t tv_sec;
  int64_t tv_nsec;
};

// Reads a timeout and turns it into an absolute uptime_ns() deadline (0:
// none). relative: FUTEX_WAIT's interval; otherwise an absolute time on
// CLOCK_MONOTONIC (uptime) or, with FUTEX_CLOCK_REALTIME, on the wall clock.
Result<uint64_t> read_deadline(UserPtr<const Timespec> uptr, bool relative, bool realtime) {
  if (!uptr) return uint64_t(0);
  const Timespec ts = TRY(uptr.read());
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1'000'000'000) return Error::Invalid;
  constexpr uint64_t MAX_SEC = 1ull << 33;  // ~272 years: no overflow below
  uint64_t sec = uint64_t(ts.tv_sec) < MAX_SEC ? uint64_t(ts.tv_sec) : MAX_SEC;
  uint64_t ns = sec * 1'000'000'000ull + uint64_t(ts.tv_nsec);
  uint64_t now = uptime_ns();
  uint64_t deadline;
  if (relative) {
    deadline = now + ns;
  } else if (realtime) {
    int64_t wall = realtime_ns();
    deadline = int64_t(ns) > wall ? now + uint64_t(int64_t(ns) - wall) : now;
  } else {
    deadline = ns > now ? ns : now;
  }
  if (deadline == 0) deadline = 1;  // 0 would mean "no deadline"
  return deadline;
}

// A PI futex's owner: any live thread with that id, in any process (a
// PTHREAD_PROCESS_SHARED mutex may be held by another process).
bool pi_owner_alive(uint32_t tid) {
  if (tid == 0 || tid > uint32_t(INT32_MAX)) return false;
  Process* p = process_get_by_tid(int(tid));
  if (!p) return false;
  const bool alive = with_thread_in(p, int(tid), [](Thread*, void*) {}, nullptr);
  process_put(p);
  return alive;
}

// A signal during a PI lock restarts it after the handler (Linux's
// ERESTARTNOINTR): glibc's mutex code does not expect EINTR.
Result<int> restart_pi(Result<int> r) {
  if (!r.ok() && r.error() == Error::Interrupted) return Error::RestartNoIntr;
  return r;
}

}  // namespace

// futex(uaddr, futex_op, val, timeout | val2, uaddr2, val3). The fourth
// argument is a timeout pointer for the waits and a count (val2, the low
// 32 bits) for requeue and wake-op, as in Linux.
DEFINE_SYSCALL(202, futex, Result<int>, UserPtr<uint32_t> uaddr_p, Hex<int> op_arg, uint32_t val, Address timeout_or_val2,
               UserPtr<uint32_t> uaddr2_p, uint32_t val3) {
  const uintptr_t uaddr = uaddr_p.addr(), uaddr2 = uaddr2_p.addr();
  const uint32_t op = uint32_t(op_arg.value);
  const uint32_t cmd = op & FUTEX_CMD_MASK;
  const bool realtime = op & FUTEX_CLOCK_REALTIME;
  // Without FUTEX_PRIVATE_FLAG a word in shared memory is keyed by its
  // page, so processes mapping it meet (docs/futex.md "Keys").
  const FutexScope scope = (op & FUTEX_PRIVATE_FLAG) ? FutexScope::Private : FutexScope::Shared;
  if (realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI &&
      cmd != FUTEX_LOCK_PI2)
    return Error::NotSupported;
  AddressSpace* as = thread_current()->as;
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      uint32_t bitset = cmd == FUTEX_WAIT ? FUTEX_BITSET_ANY : val3;
      if (uaddr & 3) return Error::Invalid;
      if (!bitset) return Error::Invalid;
      const uint64_t deadline =
          TRY(read_deadline(UserPtr<const Timespec>(timeout_or_val2), cmd == FUTEX_WAIT, realtime));
      TRY(futex_wait(as, uaddr, val, deadline, bitset, scope));
      return 0;
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      uint32_t bitset = cmd == FUTEX_WAKE ? FUTEX_BITSET_ANY : val3;
      if (uaddr & 3) return Error::Invalid;
      if (!bitset) return Error::Invalid;
      // val is an int: INT_MAX wakes all; 0 (and a negative) still wakes one.
      return futex_wake(as, uaddr, int(val), bitset, scope);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      int n_wake = int(val), n_requeue = int(uint32_t(timeout_or_val2));  // val2 travels in the timeout slot
      if ((uaddr | uaddr2) & 3) return Error::Invalid;
      if (n_wake < 0 || n_requeue < 0) return Error::Invalid;
      return futex_requeue(as, uaddr, n_wake, uaddr2, n_requeue, cmd == FUTEX_CMP_REQUEUE ? &val3 : nullptr, scope);
    }
    case FUTEX_WAKE_OP: {
      if ((uaddr | uaddr2) & 3) return Error::Invalid;
      int n2 = int(uint32_t(timeout_or_val2));
      return futex_wake_op(as, uaddr, int(val), uaddr2, n2, val3, scope);
    }
    // PI futexes (docs/futex.md "PI futexes"): ownership, hand-over and
    // the errors as Linux; no priority is boosted (the fair scheduler has
    // no priorities to inherit).
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
    case FUTEX_TRYLOCK_PI: {
      uint64_t deadline = 0;
      // LOCK_PI's timeout is absolute on CLOCK_REALTIME; LOCK_PI2's on
      // CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME. TRYLOCK has none.
      if (cmd != FUTEX_TRYLOCK_PI)
        deadline = TRY(read_deadline(UserPtr<const Timespec>(timeout_or_val2), false, cmd == FUTEX_LOCK_PI || realtime));
      return restart_pi(futex_lock_pi(as, uaddr, uint32_t(current_tid()), deadline, cmd == FUTEX_TRYLOCK_PI,
                                      pi_owner_alive, scope));
    }
    case FUTEX_UNLOCK_PI:
      return futex_unlock_pi(as, uaddr, uint32_t(current_tid()), scope);
    case FUTEX_WAIT_REQUEUE_PI: {
      const uint64_t deadline = TRY(read_deadline(UserPtr<const Timespec>(timeout_or_val2), false, realtime));
      return restart_pi(futex_wait_requeue_pi(as, uaddr, val, deadline, uaddr2, uint32_t(current_tid()),
                                              pi_owner_alive, scope));
    }
    case FUTEX_CMP_REQUEUE_PI: {
      if (val != 1) return Error::Invalid;  // exactly one may be woken
      return futex_cmp_requeue_pi(as, uaddr, int(uint32_t(timeout_or_val2)), uaddr2, val3, scope);
    }
    case FUTEX_FD:  // removed from Linux in 2.6.26
      return Error::NotSupported;
    default:
      return Error::NotSupported;
  }
}

// futex_waitv (Linux 5.16): not provided; libcs do not depend on it.
DEFINE_SYSCALL(449, futex_waitv, Result<void>, UserPtr<const uint8_t> waiters, unsigned nr_futexes, Flags<unsigned> flags,
               UserPtr<const Timespec> timeout, int clockid) {
  return Error::NotSupported;
}

}  // namespace capsule::linux_abi
