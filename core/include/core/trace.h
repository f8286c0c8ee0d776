#pragma once
// Kernel tracepoints (docs/trace.md): `capsule run --trace[=GROUPS]`
// records events into a per-CPU flight recorder (lib/trace_ring.h) that the
// Linux adapter drains to the host after pid 1 exits (linux/trace.h).
//
// A site is
//   trace::point<trace::Event::SchedWakeup>(tid, cpu);
// which, with its group off (the default), costs one load of a global and a
// not-taken branch: nothing is written, no argument beyond what is already
// in registers is computed. Where an argument costs something to compute,
// test trace::on(group) first.
#include <cstdint>

namespace capsule::trace {

// Groups, as --trace=sched,fault,... names them (a bit each).
enum Group : uint32_t {
  SCHED = 1u << 0,
  FAULT = 1u << 1,
  SYSCALL = 1u << 2,
  BLOCK = 1u << 3,
  NET = 1u << 4,
  PROC = 1u << 5,
  ALL_GROUPS = (1u << 6) - 1,
};

// The events and their arguments (the decoder, tools/capsule/capsule_cli/
// trace.py, names them the same way; docs/trace.md has the table).
enum class Event : uint16_t {
  SchedSwitch = 1,    // prev tid, next tid, prev state (0 runnable, 1 blocked, 2 dead), preempted
  SchedWakeup = 2,    // tid, target CPU
  PageFault = 3,      // address, error code, UserFault result, kind (core/stats.h slot; 0xff none, 0xfe deferred)
  SyscallEnter = 4,   // nr, arg0, arg1, arg2
  SyscallExit = 5,    // nr, result
  BlockSubmit = 6,    // sector, bytes, op (virtio-blk type), request id
  BlockComplete = 7,  // sector, bytes, op, virtio-blk status
  NetTx = 8,          // frame bytes
  NetRx = 9,          // frame bytes
  ProcFork = 10,      // parent pid, child pid, clone flags
  ProcExec = 11,      // pid
  ProcExit = 12,      // pid, exit status, signal
  COUNT
};

constexpr uint32_t group_of(Event e) {
  switch (e) {
    case Event::SchedSwitch:
    case Event::SchedWakeup: return SCHED;
    case Event::PageFault: return FAULT;
    case Event::SyscallEnter:
    case Event::SyscallExit: return SYSCALL;
    case Event::BlockSubmit:
    case Event::BlockComplete: return BLOCK;
    case Event::NetTx:
    case Event::NetRx: return NET;
    default: return PROC;
  }
}

// The groups being recorded (0: off). Written by start/stop only.
extern "C" uint32_t g_trace_groups;

inline bool on(uint32_t group) { return __builtin_expect((g_trace_groups & group) != 0, false); }

// Out of line: stamps and stores the record on this CPU's ring.
void record(Event e, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);

template <Event E>
inline void point(uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0) {
  if (on(group_of(E))) record(E, a0, a1, a2, a3);
}

// Parses "sched,fault" (or "all") into groups; 0 for an unknown name.
uint32_t parse_groups(const char* text, uint64_t len);

// Boot, with every CPU up: a ring of `bytes` per online CPU (rounded down
// to whole records), then records `groups`. NoMemory-style failure: false,
// tracing stays off.
bool start(uint32_t groups, uint64_t bytes_per_cpu);
// Stops recording and waits until no CPU is writing: the rings are then
// stable for the drain.
void stop();

// The rings after stop(): per CPU index (< cpus()).
struct RingView {
  uint64_t written;  // records ever pushed
  uint64_t lost;     // overwritten
  uint32_t held;     // records held, oldest first through at()
  uint32_t capacity;
};
uint32_t cpus();
RingView ring(uint32_t cpu);
// The i-th record held by cpu's ring, oldest first, as bytes (48).
const void* ring_record(uint32_t cpu, uint32_t i);
uint32_t groups_started();  // the groups start() was given (after stop too)
uint64_t start_tsc();       // the TSC when start() ran

}  // namespace capsule::trace
