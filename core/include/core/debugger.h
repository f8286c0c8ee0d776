#pragma once
// What a host debugger reads to find the running program (docs/gdb.md).
// capsule run --gdb starts QEMU's gdb stub; tools/gdb/capsule-gdb.py breaks
// on capsule_exec_loaded, reads capsule_exec_record (by its symbol, at the
// fixed offsets below: no debug info needed) and loads the program's and
// its loader's symbols at their load addresses.
#include <cstdint>

#include "lib/string_view.h"

extern "C" {

// Version 1; offsets are part of the interface (tools/gdb/capsule-gdb.py).
struct CapsuleExecRecord {
  uint32_t version;      // +0: CAPSULE_EXEC_RECORD_VERSION
  uint32_t generation;   // +4: 1 after the first exec, +1 at each exec
  int32_t pid;           // +8: the process that exec'd
  uint32_t path_len;     // +12: bytes of path, without the NUL
  uint64_t bias;         // +16: the program's load bias (0 for ET_EXEC)
  uint64_t interp_base;  // +24: its PT_INTERP loader's load bias (0: none)
  uint64_t entry;        // +32: the first instruction it runs (the loader's entry when it has one)
  char path[256];        // +40: the ELF file run (a script's interpreter), absolute, NUL-terminated
};

extern CapsuleExecRecord capsule_exec_record;
// Called with the record filled, the new image mapped and its address space
// active, before its first instruction: the debugger's breakpoint.
void capsule_exec_loaded(const CapsuleExecRecord* record);
}

namespace capsule {

constexpr uint32_t CAPSULE_EXEC_RECORD_VERSION = 1;

// Fills the record (path cut at 255 bytes) and calls capsule_exec_loaded.
void debugger_note_exec(int pid, StringView path, uint64_t bias, uint64_t interp_base, uint64_t entry);

}  // namespace capsule
