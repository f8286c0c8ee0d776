#pragma once
// Futexes: wait on a 32-bit word of memory until another thread wakes the
// word (futex(2)). A kernel service with Capsule's own types; linux/'s futex
// adapter decodes the FUTEX_* command, turns a timeout into an absolute
// uptime_ns() deadline, and maps the errors to -errno:
//
//   Error::Again        EAGAIN     the word did not hold `expected` (or *cmp)
//   Error::TimedOut     ETIMEDOUT  the deadline passed
//   Error::Interrupted  EINTR      thread_interrupt() (a signal) broke the wait
//   Error::Fault        EFAULT     the word is not readable (writable for wake_op)
//   Error::Invalid      EINVAL     unaligned word, bitset 0, negative count
//   Error::NotSupported ENOSYS     unknown FUTEX_OP op or comparison
//
// Waiters are keyed by (address space, address) — FutexScope::Private,
// FUTEX_PRIVATE_FLAG — or, for FutexScope::Shared (no FUTEX_PRIVATE_FLAG),
// by what the word is in memory when it lies in a shared mapping: the
// physical address of the word (the page of the file or of the shared
// anonymous object, which never moves while mapped), so processes mapping
// the page at different addresses meet. A shared futex on private memory
// keeps the private key, as Linux's does (docs/futex.md "Keys").
//
// `as` is the caller's address space, which must be the one loaded on the
// calling CPU (the word is read through the uaccess helpers, which fault in
// lazily mapped pages). as == nullptr is the kernel-address mode: uaddr is
// kernel memory, read directly (in-kernel users and tests).
#include <cstdint>

#include "lib/result.h"

namespace capsule {

class AddressSpace;
struct Thread;

constexpr uint32_t FUTEX_BITSET_ANY = 0xffffffffu;  // FUTEX_BITSET_MATCH_ANY

// FUTEX_PRIVATE_FLAG given (Private) or not (Shared). Every uaddr of one
// call is keyed in the same scope.
enum class FutexScope : uint8_t { Private, Shared };

// Sleeps if *uaddr == expected (checked atomically with the enqueue) until a
// wake whose bitset intersects `bitset`, the deadline (absolute
// uptime_ns(), 0 = none), or an interrupt. 0 when woken. A wake-up may be
// spurious from the caller's point of view (the word is re-checked by the
// libc, as on Linux).
Result<int> futex_wait(AddressSpace* as, uintptr_t uaddr, uint32_t expected, uint64_t deadline_ns = 0,
                       uint32_t bitset = FUTEX_BITSET_ANY, FutexScope scope = FutexScope::Private);

// Wakes up to n waiters of uaddr whose bitset intersects `bitset`, oldest
// first; returns how many. As Linux, n <= 0 wakes one.
Result<int> futex_wake(AddressSpace* as, uintptr_t uaddr, int n, uint32_t bitset = FUTEX_BITSET_ANY,
                       FutexScope scope = FutexScope::Private);

// FUTEX_REQUEUE (cmp == nullptr) and FUTEX_CMP_REQUEUE: wakes up to n_wake
// waiters of uaddr and moves up to n_requeue of the rest to uaddr2 (they
// keep sleeping, now on uaddr2). With cmp, *uaddr must equal *cmp
// (Error::Again otherwise, nothing done). Returns woken + requeued.
Result<int> futex_requeue(AddressSpace* as, uintptr_t uaddr, int n_wake, uintptr_t uaddr2, int n_requeue,
                          const uint32_t* cmp, FutexScope scope = FutexScope::Private);

// FUTEX_WAKE_OP with Linux's encoding of `op` (futex_op_encode): atomically
// old = *uaddr2; *uaddr2 = old OP oparg; then wakes up to n waiters of
// uaddr and, if (old CMP cmparg), up to n2 waiters of uaddr2. Returns the
// total woken.
Result<int> futex_wake_op(AddressSpace* as, uintptr_t uaddr, int n, uintptr_t uaddr2, int n2, uint32_t op,
                          FutexScope scope = FutexScope::Private);

// Breaks `t` out of a futex wait with Error::Interrupted (the same as
// thread_interrupt(t), which every interruptible wait honours).
void futex_interrupt(Thread* t);

// FUTEX_OP encoding (linux/futex.h, futex(2) "FUTEX_WAKE_OP"):
//   bits 28..31 op (bit 31: FUTEX_OP_OPARG_SHIFT, oparg = 1 << oparg)
//   bits 24..27 cmp, bits 12..23 oparg, bits 0..11 cmparg (both signed 12-bit)
enum class FutexOp : uint32_t { Set = 0, Add = 1, Or = 2, AndNot = 3, Xor = 4 };
enum class FutexCmp : uint32_t { Eq = 0, Ne = 1, Lt = 2, Le = 3, Gt = 4, Ge = 5 };
constexpr uint32_t FUTEX_OP_OPARG_SHIFT = 8;  // or-ed into op: oparg is a shift count

constexpr uint32_t futex_op_encode(uint32_t op, int32_t oparg, FutexCmp cmp, int32_t cmparg) {
  return ((op & 15) << 28) | ((uint32_t(cmp) & 15) << 24) | ((uint32_t(oparg) & 0xfff) << 12) |
         (uint32_t(cmparg) & 0xfff);
}
constexpr uint32_t futex_op_encode(FutexOp op, int32_t oparg, FutexCmp cmp, int32_t cmparg) {
  return futex_op_encode(uint32_t(op), oparg, cmp, cmparg);
}

// PI futexes (FUTEX_LOCK_PI & co., docs/futex.md "PI futexes"). The word
// is the lock: the owner's thread id in the low 30 bits, FUTEX_PI_WAITERS
// while someone sleeps for it, FUTEX_PI_OWNER_DIED after a robust owner
// died. `tid` is the caller's id; `alive(tid)` tells whether a thread with
// that id exists (the caller's thread table). Errors besides the above:
// Deadlock (the caller owns it), NoProcess (no such owner), Permission
// (unlock of a word the caller does not own), Again (trylock of a held
// lock). Interrupted: the caller restarts the call after the handler.
constexpr uint32_t FUTEX_PI_WAITERS = 0x80000000u, FUTEX_PI_OWNER_DIED = 0x40000000u,
                   FUTEX_PI_TID_MASK = 0x3fffffffu;
using FutexOwnerAlive = bool (*)(uint32_t tid);

// Takes the lock (or, with trylock, fails with Again); sleeps in FIFO
// order until an unlock hands it over, the deadline or an interrupt. An
// owner that exits without unlocking lets the oldest waiter take the word
// (OWNER_DIED kept, as the robust list's release leaves it).
Result<int> futex_lock_pi(AddressSpace* as, uintptr_t uaddr, uint32_t tid, uint64_t deadline_ns, bool trylock,
                          FutexOwnerAlive alive, FutexScope scope = FutexScope::Private);
// Hands the lock to the oldest waiter (word = its id | WAITERS) or frees it (0).
Result<int> futex_unlock_pi(AddressSpace* as, uintptr_t uaddr, uint32_t tid, FutexScope scope = FutexScope::Private);
// Thread `tid` is gone (no longer alive()): its PI waiters look at their
// words again.
void futex_pi_owner_exited(uint32_t tid);
// FUTEX_WAIT_REQUEUE_PI: waits on uaddr (if it holds `expected`) until a
// futex_cmp_requeue_pi gives it the PI lock uaddr2 or moves it to wait for
// it; returns 0 owning uaddr2. Invalid if both are one word.
Result<int> futex_wait_requeue_pi(AddressSpace* as, uintptr_t uaddr, uint32_t expected, uint64_t deadline_ns,
                                  uintptr_t uaddr2, uint32_t tid, FutexOwnerAlive alive,
                                  FutexScope scope = FutexScope::Private);
// FUTEX_CMP_REQUEUE_PI (one to wake): if *uaddr == cmp, the oldest
// requeue-PI waiter takes uaddr2 if it is free (and is woken), and up to
// n_requeue of them (it included if it could not) then wait for uaddr2.
// Returns woken + requeued; Invalid for a waiter of another kind or target.
Result<int> futex_cmp_requeue_pi(AddressSpace* as, uintptr_t uaddr, int n_requeue, uintptr_t uaddr2, uint32_t cmp,
                                 FutexScope scope = FutexScope::Private);

// Waiters queued on a word right now (tests and debugging).
int futex_waiter_count(AddressSpace* as, uintptr_t uaddr, FutexScope scope = FutexScope::Private);

}  // namespace capsule
