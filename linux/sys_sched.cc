// Scheduling calls: sched_yield, affinity, getcpu, policies and priorities
// (docs/threads-abi.md).
#include "arch/percpu.h"
#include "core/thread.h"
#include "arch/uaccess.h"
#include "core/sched/thread.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"
#include "linux/thread_table.h"

namespace capsule::linux_abi {
namespace {

// Policies (include/uapi/linux/sched.h: ABI facts).
constexpr int L_SCHED_OTHER = 0, L_SCHED_FIFO = 1, L_SCHED_RR = 2, L_SCHED_BATCH = 3, L_SCHED_IDLE = 5,
              L_SCHED_DEADLINE = 6;
constexpr int L_SCHED_RESET_ON_FORK = 0x40000000;

// Linux's cpumask is BITS_TO_LONGS(nr_cpu_ids) longs: 8 bytes up to 64 CPUs.
size_t cpumask_bytes() {
  uint32_t n = cpu_count();
  return ((n + 63) / 64) * 8;
}

struct AffinityCtx {
  sched::CpuMask mask;
  Result<void> result{};
};

void get_affinity(Thread* t, void* c) { static_cast<AffinityCtx*>(c)->mask = thread_affinity(t); }
void set_affinity(Thread* t, void* c) {
  auto* ctx = static_cast<AffinityCtx*>(c);
  ctx->result = thread_set_affinity(t, ctx->mask);
}

void noop(Thread*, void*) {}

// The policy set with sched_setscheduler, kept per tid (a thread's Linux
// state is shared with other families; this is ours). Only the non-RT
// policies are accepted, and all three behave as L_SCHED_OTHER.
struct PolicyCtx {
  int policy;
  bool set;
};
void policy_of(Thread* t, void* c) {
  auto* ctx = static_cast<PolicyCtx*>(c);
  auto* lt = t == thread_current() ? linux_thread() : static_cast<LinuxThread*>(t->linux_state);
  if (!lt) {
    ctx->policy = L_SCHED_OTHER;
    return;
  }
  if (ctx->set) lt->sched_policy = ctx->policy;
  else ctx->policy = lt->sched_policy;
}

struct SchedParam {
  int32_t sched_priority;
};

}  // namespace

DEFINE_SYSCALL(24, sched_yield, Result<void>) {
  thread_yield();
  return {};
}

// len is an unsigned int in Linux (SYSCALL_DEFINE3(sched_getaffinity,
// pid_t, pid, unsigned int, len, unsigned long __user *, user_mask_ptr)).
DEFINE_SYSCALL(204, sched_getaffinity, Result<size_t>, int pid, unsigned len, UserPtr<uint8_t> user_mask) {
  size_t size = cpumask_bytes();
  if (uint64_t(len) * 8 < cpu_count() || (len & 7)) return Error::Invalid;
  AffinityCtx ctx;
  if (pid < 0 || !with_thread(pid, get_affinity, &ctx)) return Error::NoProcess;
  uint8_t buf[sched::CpuMask::MAX_CPUS / 8] = {};
  for (uint32_t i = 0; i < cpu_count(); ++i)
    if (ctx.mask.has(i) && cpu_by_index(i) && cpu_by_index(i)->online) buf[i / 8] |= uint8_t(1u << (i % 8));
  size_t n = len < size ? len : size;
  TRY(user_mask.copy_out(buf, n));
  return n;  // bytes written, as the raw Linux call returns
}

DEFINE_SYSCALL(203, sched_setaffinity, Result<void>, int pid, unsigned len, UserPtr<const uint8_t> user_mask) {
  uint8_t buf[sched::CpuMask::MAX_CPUS / 8] = {};
  // Linux reads its cpumask size; a shorter mask is zero-extended, the
  // bytes past the size of a longer one are ignored.
  size_t want = cpumask_bytes();
  size_t n = len < want ? len : want;
  TRY(user_mask.copy_in(buf, n));
  AffinityCtx ctx;
  for (uint32_t i = 0; i < n * 8; ++i)
    if (buf[i / 8] >> (i % 8) & 1) ctx.mask.set(i);
  if (pid < 0) return Error::NoProcess;
  if (!with_thread(pid, set_affinity, &ctx)) return Error::NoProcess;
  if (!ctx.result.ok()) return Error::Invalid;  // no online CPU in the mask
  return {};
}

// getcpu(cpu, node, tcache): NUMA node 0; tcache is unused since 2.6.24.
DEFINE_SYSCALL(309, getcpu, Result<void>, UserPtr<uint32_t> cpu, UserPtr<uint32_t> node, UserPtr<uint8_t> tcache) {
  if (cpu) TRY(cpu.write(current_cpu()));
  if (node) TRY(node.write(0));
  return {};
}

DEFINE_SYSCALL(143, sched_getparam, Result<void>, int pid, UserPtr<SchedParam> param) {
  if (pid < 0 || !param) return Error::Invalid;
  if (!with_thread(pid, noop, nullptr)) return Error::NoProcess;
  return param.write(SchedParam{0});  // non-RT policies have static priority 0
}

DEFINE_SYSCALL(142, sched_setparam, Result<void>, int pid, UserPtr<const SchedParam> param) {
  if (pid < 0 || !param) return Error::Invalid;
  const SchedParam sp = TRY(param.read());
  if (!with_thread(pid, noop, nullptr)) return Error::NoProcess;
  if (sp.sched_priority != 0) return Error::Invalid;
  return {};
}

DEFINE_SYSCALL(145, sched_getscheduler, Result<int>, int pid) {
  if (pid < 0) return Error::Invalid;
  PolicyCtx ctx{L_SCHED_OTHER, false};
  if (!with_thread(pid, policy_of, &ctx)) return Error::NoProcess;
  return ctx.policy;
}

DEFINE_SYSCALL(144, sched_setscheduler, Result<void>, int pid, int policy_arg, UserPtr<const SchedParam> param) {
  const int policy = policy_arg & ~L_SCHED_RESET_ON_FORK;
  if (pid < 0 || !param) return Error::Invalid;
  const int prio = TRY(param.read()).sched_priority;
  switch (policy) {
    case L_SCHED_OTHER:
    case L_SCHED_BATCH:
    case L_SCHED_IDLE:
      if (prio != 0) return Error::Invalid;
      break;
    case L_SCHED_FIFO:
    case L_SCHED_RR:
      if (prio < 1 || prio > 99) return Error::Invalid;
      if (!with_thread(pid, noop, nullptr)) return Error::NoProcess;
      // Real-time classes are not implemented: answered as for a process
      // without CAP_SYS_NICE and RLIMIT_RTPRIO 0.
      return Error::Permission;
    case L_SCHED_DEADLINE:  // only through sched_setattr
    default:
      return Error::Invalid;
  }
  PolicyCtx ctx{policy, true};
  if (!with_thread(pid, policy_of, &ctx)) return Error::NoProcess;
  return {};
}

DEFINE_SYSCALL(146, sched_get_priority_max, Result<int>, int policy) {
  switch (policy) {
    case L_SCHED_FIFO: case L_SCHED_RR: return 99;
    case L_SCHED_OTHER: case L_SCHED_BATCH: case L_SCHED_IDLE: case L_SCHED_DEADLINE: return 0;
    default: return Error::Invalid;
  }
}

DEFINE_SYSCALL(147, sched_get_priority_min, Result<int>, int policy) {
  switch (policy) {
    case L_SCHED_FIFO: case L_SCHED_RR: return 1;
    case L_SCHED_OTHER: case L_SCHED_BATCH: case L_SCHED_IDLE: case L_SCHED_DEADLINE: return 0;
    default: return Error::Invalid;
  }
}

namespace {
struct Timespec {
  int64_t tv_sec, tv_nsec;
};
}  // namespace

// The fair policy has no fixed quantum; report L_SCHED_RR's Linux default
// (100 ms), which is also what the fair policy's period is near.
DEFINE_SYSCALL(148, sched_rr_get_interval, Result<void>, int pid, UserPtr<Timespec> interval) {
  if (pid < 0) return Error::Invalid;
  if (!with_thread(pid, noop, nullptr)) return Error::NoProcess;
  return interval.write(Timespec{0, 100'000'000});
}

}  // namespace capsule::linux_abi
