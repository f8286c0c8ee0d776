// The record a host debugger reads after each exec (core/debugger.h,
// docs/gdb.md). One record for the whole VM: it describes the last image
// loaded, whichever process loaded it.
#include "core/debugger.h"

#include <atomic>

extern "C" {

CapsuleExecRecord capsule_exec_record = {};

// gdb's breakpoint: kept out of line and never folded away.
[[gnu::noinline, gnu::used]] void capsule_exec_loaded(const CapsuleExecRecord* record) {
  asm volatile("" : : "r"(record) : "memory");
}
}

namespace capsule {
namespace {
std::atomic_flag g_lock = ATOMIC_FLAG_INIT;  // two CPUs exec'ing at once: one record at a time
}

void debugger_note_exec(int pid, StringView path, uint64_t bias, uint64_t interp_base, uint64_t entry) {
  while (g_lock.test_and_set(std::memory_order_acquire)) __builtin_ia32_pause();
  CapsuleExecRecord& r = capsule_exec_record;
  size_t n = path.size() < sizeof(r.path) - 1 ? path.size() : sizeof(r.path) - 1;
  for (size_t i = 0; i < sizeof(r.path); ++i) r.path[i] = i < n ? path[i] : 0;
  r.path_len = uint32_t(n);
  r.pid = pid;
  r.bias = bias;
  r.interp_base = interp_base;
  r.entry = entry;
  r.version = CAPSULE_EXEC_RECORD_VERSION;
  r.generation = r.generation + 1;
  capsule_exec_loaded(&r);
  g_lock.clear(std::memory_order_release);
}

}  // namespace capsule
