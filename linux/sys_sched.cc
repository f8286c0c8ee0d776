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
constexpr int kSCHED_OTHER = 0, kSCHED_FIFO = 1, kSCHED_RR = 2, kSCHED_BATCH = 3, kSCHED_IDLE = 5,
              kSCHED_DEADLINE = 6;
constexpr int kSCHED_RESET_ON_FORK = 0x40000000;

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
// policies are accepted, and all three behave as kSCHED_OTHER.
struct PolicyCtx {
  int policy;
  bool set;
};
void policy_of(Thread* t, void* c) {
  auto* ctx = static_cast<PolicyCtx*>(c);
  auto* lt = t == thread_current() ? linux_thread() : static_cast<LinuxThread*>(t->linux_state);
  if (!lt) {
    ctx->policy = kSCHED_OTHER;
    return;
  }
  if (ctx->set) lt->sched_policy = ctx->policy;
  else ctx->policy = lt->sched_policy;
}

struct SchedParam {
  int32_t sched_priority;
};

}  // namespace

LINUX_SYSCALL(24, sched_yield, "") {
  thread_yield();
  return 0;
}

LINUX_SYSCALL(204, sched_getaffinity, "dup") {
  int pid = int(args.a[0]);
  uint64_t len = args.a[1];
  size_t size = cpumask_bytes();
  if (len * 8 < cpu_count() || (len & 7)) return -kEINVAL;
  AffinityCtx ctx;
  if (pid < 0 || !with_thread(pid, get_affinity, &ctx)) return -kESRCH;
  uint8_t buf[sched::CpuMask::kMaxCpus / 8] = {};
  for (uint32_t i = 0; i < cpu_count(); ++i)
    if (ctx.mask.has(i) && cpu_by_index(i) && cpu_by_index(i)->online) buf[i / 8] |= uint8_t(1u << (i % 8));
  size_t n = len < size ? len : size;
  if (!copy_to_user(reinterpret_cast<void*>(args.a[2]), buf, n).ok()) return -kEFAULT;
  return int64_t(n);  // bytes written, as the raw Linux call returns
}

LINUX_SYSCALL(203, sched_setaffinity, "dup") {
  int pid = int(args.a[0]);
  uint64_t len = args.a[1];
  uint8_t buf[sched::CpuMask::kMaxCpus / 8] = {};
  // Linux reads its cpumask size; a shorter mask is zero-extended, the
  // bytes past the size of a longer one are ignored.
  size_t want = cpumask_bytes();
  size_t n = len < want ? len : want;
  if (!copy_from_user(buf, reinterpret_cast<const void*>(args.a[2]), n).ok()) return -kEFAULT;
  AffinityCtx ctx;
  for (uint32_t i = 0; i < n * 8; ++i)
    if (buf[i / 8] >> (i % 8) & 1) ctx.mask.set(i);
  if (pid < 0) return -kESRCH;
  if (!with_thread(pid, set_affinity, &ctx)) return -kESRCH;
  return ctx.result.ok() ? 0 : -kEINVAL;  // no online CPU in the mask
}

// getcpu(cpu, node, tcache): NUMA node 0; tcache is unused since 2.6.24.
LINUX_SYSCALL(309, getcpu, "ppp") {
  uint32_t cpu = current_cpu(), node = 0;
  if (args.a[0] && !put_user(reinterpret_cast<uint32_t*>(args.a[0]), cpu).ok()) return -kEFAULT;
  if (args.a[1] && !put_user(reinterpret_cast<uint32_t*>(args.a[1]), node).ok()) return -kEFAULT;
  return 0;
}

LINUX_SYSCALL(143, sched_getparam, "dp") {
  int pid = int(args.a[0]);
  if (pid < 0 || !args.a[1]) return -kEINVAL;
  if (!with_thread(pid, noop, nullptr)) return -kESRCH;
  SchedParam sp{0};  // non-RT policies have static priority 0
  return copy_to_user(reinterpret_cast<void*>(args.a[1]), &sp, sizeof(sp)).ok() ? 0 : -kEFAULT;
}

LINUX_SYSCALL(142, sched_setparam, "dp") {
  int pid = int(args.a[0]);
  if (pid < 0 || !args.a[1]) return -kEINVAL;
  auto sp = get_user(reinterpret_cast<const SchedParam*>(args.a[1]));
  if (!sp.ok()) return -kEFAULT;
  if (!with_thread(pid, noop, nullptr)) return -kESRCH;
  return sp->sched_priority == 0 ? 0 : -kEINVAL;
}

LINUX_SYSCALL(145, sched_getscheduler, "d") {
  int pid = int(args.a[0]);
  if (pid < 0) return -kEINVAL;
  PolicyCtx ctx{kSCHED_OTHER, false};
  if (!with_thread(pid, policy_of, &ctx)) return -kESRCH;
  return ctx.policy;
}

LINUX_SYSCALL(144, sched_setscheduler, "ddp") {
  int pid = int(args.a[0]);
  int policy = int(args.a[1]) & ~kSCHED_RESET_ON_FORK;
  if (pid < 0 || !args.a[2]) return -kEINVAL;
  auto sp = get_user(reinterpret_cast<const SchedParam*>(args.a[2]));
  if (!sp.ok()) return -kEFAULT;
  int prio = sp->sched_priority;
  switch (policy) {
    case kSCHED_OTHER:
    case kSCHED_BATCH:
    case kSCHED_IDLE:
      if (prio != 0) return -kEINVAL;
      break;
    case kSCHED_FIFO:
    case kSCHED_RR:
      if (prio < 1 || prio > 99) return -kEINVAL;
      if (!with_thread(pid, noop, nullptr)) return -kESRCH;
      // Real-time classes are not implemented: answered as for a process
      // without CAP_SYS_NICE and RLIMIT_RTPRIO 0.
      return -kEPERM;
    case kSCHED_DEADLINE:  // only through sched_setattr
    default:
      return -kEINVAL;
  }
  PolicyCtx ctx{policy, true};
  if (!with_thread(pid, policy_of, &ctx)) return -kESRCH;
  return 0;
}

LINUX_SYSCALL(146, sched_get_priority_max, "d") {
  switch (int(args.a[0])) {
    case kSCHED_FIFO: case kSCHED_RR: return 99;
    case kSCHED_OTHER: case kSCHED_BATCH: case kSCHED_IDLE: case kSCHED_DEADLINE: return 0;
    default: return -kEINVAL;
  }
}

LINUX_SYSCALL(147, sched_get_priority_min, "d") {
  switch (int(args.a[0])) {
    case kSCHED_FIFO: case kSCHED_RR: return 1;
    case kSCHED_OTHER: case kSCHED_BATCH: case kSCHED_IDLE: case kSCHED_DEADLINE: return 0;
    default: return -kEINVAL;
  }
}

// The fair policy has no fixed quantum; report kSCHED_RR's Linux default
// (100 ms), which is also what the fair policy's period is near.
LINUX_SYSCALL(148, sched_rr_get_interval, "dp") {
  int pid = int(args.a[0]);
  if (pid < 0) return -kEINVAL;
  if (!with_thread(pid, noop, nullptr)) return -kESRCH;
  struct {
    int64_t sec, nsec;
  } ts{0, 100'000'000};
  return copy_to_user(reinterpret_cast<void*>(args.a[1]), &ts, sizeof(ts)).ok() ? 0 : -kEFAULT;
}

}  // namespace capsule::linux_abi
