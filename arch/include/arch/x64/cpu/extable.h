#pragma once
// Exception table: instructions that may fault on purpose (reads and writes
// of application memory through copy-in/copy-out helpers, probes). Each
// entry pairs the address of such an instruction with a fixup address; when
// a #PF or #GP hits the instruction, the handler resumes at the fixup
// instead of panicking. Entries live in the .extable section (kernel.ld).
//
// In assembly (see probe.S):
//   1:  movq (%rdi), %rax
//       .pushsection .extable, "a"
//       .balign 8
//       .quad 1b, fixup_label
//       .popsection
// In C++ inline asm, CAPSULE_EXTABLE("1b", "2f") expands to the same.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

#define CAPSULE_EXTABLE(insn, fixup)                                   \
  ".pushsection .extable, \"a\"\n\t.balign 8\n\t.quad " insn ", " fixup \
  "\n\t.popsection\n\t"

namespace capsule::x64 {

struct ExtableEntry {
  uintptr_t insn;
  uintptr_t fixup;
};

// The fixup for a faulting instruction address, or 0 if it has none.
uintptr_t extable_find(uintptr_t rip);
size_t extable_size();

// Reads 8 bytes at `addr`; Error::Fault instead of a panic if the read
// faults (unmapped or non-canonical address). arch/x64/cpu/probe.S.
Result<uint64_t> probe_read_u64(const void* addr);

}  // namespace capsule::x64
