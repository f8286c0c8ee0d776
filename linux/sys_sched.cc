// Scheduling calls: sched_yield, affinity, getcpu, policies and priorities
// (docs/threads-abi.md).
#include "arch/percpu.h"
#include "core/thread.h"
#include "arch/uaccess.h"
#include "core/sched/thread.h"
#include "linux/identity.h"
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

// The policy set with sched_setscheduler or sched_setattr, kept per tid (a
// thread's Linux state is shared with other families; this is ours), with
// L_SCHED_RESET_ON_FORK or-ed in as sched_getscheduler reports it. Only the
// non-RT policies are accepted, and all three behave as L_SCHED_OTHER.
struct PolicyCtx {
  int policy;
  bool set;
  int nice = 0;  // out: the thread's nice value
};
void policy_of(Thread* t, void* c) {
  auto* ctx = static_cast<PolicyCtx*>(c);
  ctx->nice = t->se.nice;
  auto* lt = t == thread_current() ? linux_thread() : static_cast<LinuxThread*>(t->linux_state);
  if (!lt) {
    ctx->policy = L_SCHED_OTHER;
    return;
  }
  if (ctx->set) lt->sched_policy = ctx->policy;
  else ctx->policy = lt->sched_policy;
}

// sched_setattr's change, applied to the thread it names.
struct AttrCtx {
  int policy;       // with L_SCHED_RESET_ON_FORK, or -1: keep the policy
  bool reset;       // L_SCHED_RESET_ON_FORK wanted
  bool keep_params; // SCHED_FLAG_KEEP_PARAMS: only reset-on-fork changes
  int nice;
  Result<void> result{};
};
void set_attr(Thread* t, void* c) {
  auto* ctx = static_cast<AttrCtx*>(c);
  auto* lt = t == thread_current() ? linux_thread() : static_cast<LinuxThread*>(t->linux_state);
  const int old = lt ? lt->sched_policy : L_SCHED_OTHER;
  const int old_policy = old & ~L_SCHED_RESET_ON_FORK;
  const int policy = ctx->policy < 0 ? old_policy : ctx->policy;
  // What Linux lets a caller without CAP_SYS_NICE do (user_check_sched_setscheduler):
  // raise nice only within RLIMIT_NICE, leave SCHED_IDLE only if it could
  // set its nice value, and never drop reset-on-fork.
  if (!current_capable(L_CAP_SYS_NICE)) {
    const bool fair = policy == L_SCHED_OTHER || policy == L_SCHED_BATCH;
    auto can_nice = [](int nice) { return 20 - nice <= int64_t(rlimit_cur(L_RLIMIT_NICE)); };
    if (!ctx->keep_params && fair && ctx->nice < t->se.nice && !can_nice(ctx->nice)) {
      ctx->result = Error::Permission;
      return;
    }
    if (old_policy == L_SCHED_IDLE && policy != L_SCHED_IDLE && !can_nice(t->se.nice)) {
      ctx->result = Error::Permission;
      return;
    }
    if ((old & L_SCHED_RESET_ON_FORK) && !ctx->reset) {
      ctx->result = Error::Permission;
      return;
    }
  }
  if (ctx->keep_params) {
    if (lt) lt->sched_policy = old_policy | (ctx->reset ? L_SCHED_RESET_ON_FORK : 0);
    return;
  }
  if (lt) lt->sched_policy = policy | (ctx->reset ? L_SCHED_RESET_ON_FORK : 0);
  // SCHED_IDLE keeps the nice value it had (Linux sets it for the fair
  // policies only).
  if (policy != L_SCHED_IDLE) thread_set_nice(t, ctx->nice);
}

// struct sched_attr (include/uapi/linux/sched/types.h: ABI facts): 48
// bytes in its first version, 56 with the utilization clamps.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};
static_assert(sizeof(SchedAttr) == 56);
constexpr uint32_t SCHED_ATTR_SIZE_VER0 = 48, PAGE_BYTES = 4096;
constexpr uint64_t SCHED_FLAG_RESET_ON_FORK = 0x01, SCHED_FLAG_KEEP_POLICY = 0x08, SCHED_FLAG_KEEP_PARAMS = 0x10,
                   SCHED_FLAG_UTIL_CLAMP = 0x60, SCHED_FLAG_ALL = 0x7f;

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
  if (policy_arg < 0) return Error::Invalid;
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
  PolicyCtx ctx{policy | (policy_arg & L_SCHED_RESET_ON_FORK), true};
  if (!with_thread(pid, policy_of, &ctx)) return Error::NoProcess;
  return {};
}

// sched_setattr(pid, attr, flags). The size handshake: 0 means the first
// version; a size below it or above a page, or a longer structure whose
// extra bytes are not zero, is E2BIG with the size we know written back.
// Real-time and deadline classes are refused as for a caller without
// CAP_SYS_NICE; utilization clamps as on a kernel without
// CONFIG_UCLAMP_TASK (EOPNOTSUPP).
DEFINE_SYSCALL(314, sched_setattr, Result<void>, int pid, UserPtr<SchedAttr> uattr, Flags<unsigned> flags) {
  if (!uattr || pid < 0 || flags) return Error::Invalid;
  uint32_t size = TRY(UserPtr<uint32_t>(uattr.addr()).read());
  if (size == 0) size = SCHED_ATTR_SIZE_VER0;
  auto too_big = [&]() -> Result<void> {
    TRY(UserPtr<uint32_t>(uattr.addr()).write(uint32_t(sizeof(SchedAttr))));
    return Error::TooBig;
  };
  if (size > PAGE_BYTES || size < SCHED_ATTR_SIZE_VER0) return too_big();
  SchedAttr a{};
  TRY(UserPtr<uint8_t>(uattr.addr()).copy_in(reinterpret_cast<uint8_t*>(&a), size < sizeof a ? size : sizeof a));
  for (uint32_t off = sizeof a; off < size; off += 8) {
    uint8_t tail[8] = {};
    const uint32_t n = size - off < 8 ? size - off : 8;
    TRY(UserPtr<uint8_t>(uattr.addr() + off).copy_in(tail, n));
    for (uint32_t i = 0; i < n; ++i)
      if (tail[i]) return too_big();
  }
  if ((a.sched_flags & SCHED_FLAG_UTIL_CLAMP) && size < sizeof a) return Error::Invalid;
  const int nice = a.sched_nice < -20 ? -20 : a.sched_nice > 19 ? 19 : a.sched_nice;
  if (int32_t(a.sched_policy) < 0) return Error::Invalid;
  const bool keep_policy = a.sched_flags & SCHED_FLAG_KEEP_POLICY;
  const bool keep_params = a.sched_flags & SCHED_FLAG_KEEP_PARAMS;
  PolicyCtx cur{0, false};
  if (!with_thread(pid, policy_of, &cur)) return Error::NoProcess;
  const int policy = keep_policy ? (cur.policy & ~L_SCHED_RESET_ON_FORK) : int(a.sched_policy);
  if (policy != L_SCHED_OTHER && policy != L_SCHED_BATCH && policy != L_SCHED_IDLE && policy != L_SCHED_FIFO &&
      policy != L_SCHED_RR && policy != L_SCHED_DEADLINE)
    return Error::Invalid;
  if (a.sched_flags & ~SCHED_FLAG_ALL) return Error::Invalid;
  // SCHED_FLAG_KEEP_PARAMS takes the thread's own parameters: priority 0
  // and no deadline parameters for the policies a thread can have here.
  const uint32_t prio = keep_params ? 0 : a.sched_priority;
  if (prio > 99) return Error::Invalid;
  const bool rt = policy == L_SCHED_FIFO || policy == L_SCHED_RR;
  if (policy == L_SCHED_DEADLINE) {
    // __checkparam_dl: a deadline, runtime <= deadline <= period.
    if (keep_params || a.sched_deadline == 0 || a.sched_runtime < 1024 || a.sched_deadline < a.sched_runtime ||
        (a.sched_period && a.sched_period < a.sched_deadline))
      return Error::Invalid;
    return Error::Permission;
  }
  if (rt != (prio != 0)) return Error::Invalid;
  if (rt) return Error::Permission;  // as sched_setscheduler
  if (a.sched_flags & SCHED_FLAG_UTIL_CLAMP) return Error::OpNotSupported;
  AttrCtx ctx{keep_policy ? -1 : policy, bool(a.sched_flags & SCHED_FLAG_RESET_ON_FORK), keep_params, nice};
  if (!with_thread(pid, set_attr, &ctx)) return Error::NoProcess;
  return ctx.result;
}

// sched_getattr(pid, attr, size, flags): writes min(size, 56) bytes with
// that size in attr->size, and zeroes the rest of a longer buffer.
DEFINE_SYSCALL(315, sched_getattr, Result<void>, int pid, UserPtr<SchedAttr> uattr, unsigned usize,
               Flags<unsigned> flags) {
  if (!uattr || pid < 0 || usize > PAGE_BYTES || usize < SCHED_ATTR_SIZE_VER0 || flags) return Error::Invalid;
  PolicyCtx ctx{0, false};
  if (!with_thread(pid, policy_of, &ctx)) return Error::NoProcess;
  SchedAttr a{};
  a.size = usize < sizeof a ? usize : uint32_t(sizeof a);
  a.sched_policy = uint32_t(ctx.policy & ~L_SCHED_RESET_ON_FORK);
  a.sched_flags = (ctx.policy & L_SCHED_RESET_ON_FORK) ? SCHED_FLAG_RESET_ON_FORK : 0;
  a.sched_nice = ctx.nice;
  TRY(UserPtr<uint8_t>(uattr.addr()).copy_out(reinterpret_cast<const uint8_t*>(&a), a.size));
  // The rest of a longer buffer is zeroed (copy_struct_to_user, Linux 6.x).
  static constexpr uint8_t zeros[256] = {};
  for (uint32_t off = a.size; off < usize; off += sizeof zeros) {
    const uint32_t n = usize - off < sizeof zeros ? usize - off : uint32_t(sizeof zeros);
    TRY(UserPtr<uint8_t>(uattr.addr() + off).copy_out(zeros, n));
  }
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
