#pragma once
// The initial process stack, laid out as Linux's execve(2) lays it out
// (x86-64 psABI 3.4.1 "Initial Stack and Register State"; docs/exec.md has
// the picture). From the top of the stack down:
//
//   8 zero bytes                    (Linux keeps the top word NULL)
//   AT_EXECFN string
//   envp strings, argv strings      (argv[0] lowest)
//   AT_PLATFORM string "x86_64"
//   16 AT_RANDOM bytes
//   padding to 16
//   auxv pairs ... AT_NULL
//   envp[] NULL
//   argv[] NULL
//   argc                            <- rsp, 16-byte aligned
//
// build_initial_stack() writes into a caller's buffer standing for the
// bytes [top - size, top) of the stack, so the same code fills real stack
// pages in the kernel and a plain array in the host tests.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::elf {

// Linux's MAX_ARG_STRLEN (32 pages): one argument or environment string
// longer than this makes execve(2) fail with E2BIG.
constexpr size_t MAX_ARG_STRLEN = 32 * 4096;

struct StackParams {
  const StringView* argv = nullptr;
  size_t argc = 0;
  const StringView* envp = nullptr;
  size_t envc = 0;
  StringView execfn;               // AT_EXECFN: the path given to execve
  StringView platform = "x86_64";  // AT_PLATFORM (ELF_PLATFORM on x86-64)
  uint8_t random[16] = {};         // AT_RANDOM bytes (the caller's CSPRNG)

  // Auxv values (biased addresses: where things are in this process).
  uint64_t sysinfo_ehdr = 0;  // vDSO ELF header; 0 leaves AT_SYSINFO_EHDR out
  uint64_t minsigstksz = 2048;
  uint64_t hwcap = 0;         // CPUID.1:EDX on x86-64
  uint64_t hwcap2 = 0;
  uint64_t pagesz = 4096;
  uint64_t clktck = 100;      // USER_HZ
  uint64_t phdr = 0, phent = 56, phnum = 0;
  uint64_t base = 0;          // interpreter load address, 0 without one
  uint64_t flags = 0;
  uint64_t entry = 0;         // the program's entry (not the interpreter's)
  uint64_t uid = 0, euid = 0, gid = 0, egid = 0;
  uint64_t secure = 0;
};

// Where everything ended up (virtual addresses in the process).
struct StackLayout {
  uint64_t sp = 0;        // initial RSP: points at argc, 16-byte aligned
  uint64_t argv = 0;      // &argv[0]
  uint64_t envp = 0;      // &envp[0]
  uint64_t auxv = 0;      // &auxv[0].a_type
  size_t auxv_count = 0;  // pairs, AT_NULL included
  uint64_t random = 0;    // AT_RANDOM
  uint64_t execfn = 0;    // AT_EXECFN
  uint64_t platform = 0;  // AT_PLATFORM
  uint64_t strings_start = 0;  // lowest byte of the argv/envp strings (for /proc/self/cmdline)
  size_t used = 0;        // top - sp
};

// `buf` holds the `size` bytes just below virtual address `top` (top must be
// 16-byte aligned). Fails with TooBig (E2BIG) when a string is longer than
// MAX_ARG_STRLEN or the whole does not fit, Invalid for a misaligned top.
Result<StackLayout> build_initial_stack(uint8_t* buf, size_t size, uint64_t top, const StackParams& params);

// An upper bound of the bytes build_initial_stack() takes for `params`
// (strings, alignment slack, the tables with the most auxv pairs it ever
// writes): with a buffer at least this large it never fails for room, and
// the layout does not depend on the buffer's size. Lets exec size its
// scratch buffer by the arguments instead of by the 2 MiB limit.
size_t initial_stack_bound(const StackParams& params);

}  // namespace capsule::elf
