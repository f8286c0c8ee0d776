#pragma once
// The application: one process per VM (core/app). It owns the address space
// and its threads; the VM ends with the process's exit status.
#include <atomic>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule {

class AddressSpace;
struct Thread;

struct Process {
  AddressSpace* as = nullptr;
  int pid = 1;
  char comm[16] = {};        // prctl(PR_SET_NAME) and /proc/self/comm
  char exe[256] = {};        // the program's path
  Thread* main_thread = nullptr;
  uintptr_t vdso_base = 0;
  uintptr_t auxv_addr = 0;   // where auxv lies on the initial stack
  uintptr_t arg_start = 0, arg_end = 0;  // argv's strings on the initial stack (/proc/self/cmdline)
  uintptr_t env_start = 0, env_end = 0;  // envp's strings, just above (/proc/self/environ)
  uintptr_t image_start = 0, image_end = 0;  // the program's segments (/proc/self/maps names them)
  size_t auxv_bytes = 0;
  uint64_t start_ns = 0;
  std::atomic<bool> exiting{false};
  std::atomic<uint32_t> thread_count{0};
};

// The one process (nullptr before exec).
Process* current_process();

struct ExecArgs {
  StringView path;
  const StringView* argv;
  size_t argc;
  const StringView* envp;
  size_t envc;
};

// Loads the program from the initrd and starts its main thread. Errors are
// printed (program missing, not an ELF, dynamically linked, ...).
Result<void> process_exec(const ExecArgs& args);

// Ends the VM with `status` (exit_group, or 128+N for a fatal signal N).
[[noreturn]] void process_exit(int status);

// Jumps to application code on this thread: RSP = sp, all other general
// registers zero (the psABI leaves RDX = 0: no atexit function).
[[noreturn]] void enter_application(uintptr_t entry, uintptr_t sp);

}  // namespace capsule
