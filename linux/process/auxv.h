#pragma once
// Auxiliary-vector tags (x86-64 psABI 3.4.3 "Auxiliary Vector"; Linux's
// include/uapi/linux/auxvec.h and arch/x86/include/uapi/asm/auxvec.h give
// the Linux-specific numbers). Values are ABI: never renumber. The spec's
// AT_xxx names are macros in the host's <elf.h>, hence Aux::Xxx here.
#include <cstdint>

namespace capsule::elf {

enum class Aux : uint64_t {
  Null = 0,            // AT_NULL: ends the vector
  Ignore = 1,          // AT_IGNORE
  Phdr = 3,            // AT_PHDR: program headers of the program
  Phent = 4,           // AT_PHENT
  Phnum = 5,           // AT_PHNUM
  Pagesz = 6,          // AT_PAGESZ
  Base = 7,            // AT_BASE: interpreter load address
  Flags = 8,           // AT_FLAGS
  Entry = 9,           // AT_ENTRY: the program's entry point
  Uid = 11,            // AT_UID
  Euid = 12,           // AT_EUID
  Gid = 13,            // AT_GID
  Egid = 14,           // AT_EGID
  Platform = 15,       // AT_PLATFORM: string
  Hwcap = 16,          // AT_HWCAP: CPUID.1:EDX on x86
  Clktck = 17,         // AT_CLKTCK: times(2) frequency
  Secure = 23,         // AT_SECURE
  BasePlatform = 24,   // AT_BASE_PLATFORM
  Random = 25,         // AT_RANDOM: 16 random bytes
  Hwcap2 = 26,         // AT_HWCAP2
  Execfn = 31,         // AT_EXECFN: pathname given to execve
  SysinfoEhdr = 33,    // AT_SYSINFO_EHDR: the vDSO
  Minsigstksz = 51,    // AT_MINSIGSTKSZ
};

}  // namespace capsule::elf
