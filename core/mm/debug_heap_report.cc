// The debug kernel's heap reports (core/mm/debug_heap.h): what went wrong,
// the object, where it was allocated and freed, then a panic whose
// backtrace is the call that found it.
#include "core/backtrace.h"
#include "core/mm/debug_heap.h"
#include "lib/log.h"
#include "lib/panic.h"

namespace capsule::mm {
namespace {

// Big enough to hold a fuzz run's churn of short-lived objects for a while,
// small enough for a 128 MiB guest.
constexpr size_t QUARANTINE_BYTES = 2 * 1024 * 1024;

const char* fault_name(DebugHeapFault f) {
  switch (f) {
    case DebugHeapFault::InvalidFree: return "invalid free";
    case DebugHeapFault::DoubleFree: return "double free";
    case DebugHeapFault::Overflow: return "out-of-bounds write (red zone changed)";
    case DebugHeapFault::UseAfterFree: return "write after free (poison changed)";
  }
  return "?";
}

void on_error(const DebugHeapError& e) {
  kprint("debug_heap: {} of the {}-byte object at {:#x}", fault_name(e.fault), e.size, e.payload);
  if (e.fault == DebugHeapFault::Overflow || e.fault == DebugHeapFault::UseAfterFree)
    kprint(", first changed byte at offset {}", e.offset);
  kprint("\n");
  if (e.alloc) {
    kprint("debug_heap: allocated at:\n");
    backtrace_print_saved(e.alloc, DEBUG_HEAP_TRACE);
  }
  if (e.freed) {
    kprint("debug_heap: freed at:\n");
    backtrace_print_saved(e.freed, DEBUG_HEAP_TRACE);
  }
  panic("debug_heap: {} at {:#x}", fault_name(e.fault), e.payload);
}

}  // namespace

DebugHeapConfig kernel_debug_heap_config() { return {QUARANTINE_BYTES, backtrace_save, on_error}; }

}  // namespace capsule::mm
