// Memory system calls: brk, mmap family (anonymous memory; file mappings
// arrive with the VFS). Linux's PROT_* and MAP_* values are translated
// explicitly into the address space's own flags.
#include "capsule/address_space.h"
#include "capsule/process.h"
#include "core/mm/vma.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {
namespace {

constexpr uint64_t PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4, PROT_GROWSDOWN = 0x01000000,
                   PROT_GROWSUP = 0x02000000;
constexpr uint64_t MAP_SHARED = 0x1, MAP_PRIVATE = 0x2, MAP_SHARED_VALIDATE = 0x3, MAP_TYPE = 0xf,
                   MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_32BIT = 0x40, MAP_GROWSDOWN = 0x100,
                   MAP_DENYWRITE = 0x800, MAP_EXECUTABLE = 0x1000, MAP_LOCKED = 0x2000,
                   MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000, MAP_NONBLOCK = 0x10000,
                   MAP_STACK = 0x20000, MAP_HUGETLB = 0x40000, MAP_SYNC = 0x80000,
                   MAP_FIXED_NOREPLACE = 0x100000;
constexpr uint64_t KNOWN_MAP_FLAGS = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT | MAP_GROWSDOWN |
                                     MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE |
                                     MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_SYNC |
                                     MAP_FIXED_NOREPLACE;

AddressSpace* as() { return current_process()->as; }

uint32_t vm_prot(uint64_t prot) {
  return ((prot & PROT_READ) ? mm::VM_READ : 0) | ((prot & PROT_WRITE) ? mm::VM_WRITE : 0) |
         ((prot & PROT_EXEC) ? mm::VM_EXEC : 0);
}

}  // namespace

LINUX_SYSCALL(12, brk, "p>x") { return int64_t(as()->brk(args.a[0])); }

LINUX_SYSCALL(9, mmap, "pxxxfx>x") {
  uint64_t addr = args.a[0], len = args.a[1], prot = args.a[2], flags = args.a[3], off = args.a[5];
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP)) return -kEINVAL;
  uint64_t type = flags & MAP_TYPE;
  if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE) return -kEINVAL;
  if (type == MAP_SHARED_VALIDATE && (flags & ~KNOWN_MAP_FLAGS)) return -kEOPNOTSUPP;
  if (!len) return -kEINVAL;
  if (off & 0xfff) return -kEINVAL;
  if (!(flags & MAP_ANONYMOUS)) return -kENODEV;  // file mappings: with the VFS
  mm::MapRequest req;
  req.addr = addr;
  req.len = len;
  req.prot = vm_prot(prot);
  req.flags = (type != MAP_PRIVATE ? mm::VM_SHARED : 0) | ((flags & MAP_GROWSDOWN) ? mm::VM_GROWSDOWN : 0) |
              ((flags & MAP_NORESERVE) ? mm::VM_NORESERVE : 0) | ((flags & MAP_LOCKED) ? mm::VM_LOCKED : 0);
  req.placement = (flags & MAP_FIXED_NOREPLACE) ? mm::Placement::FixedNoReplace
                  : (flags & MAP_FIXED)         ? mm::Placement::Fixed
                                                : mm::Placement::Hint;
  return ret(as()->mmap(req, flags & MAP_POPULATE));
}

LINUX_SYSCALL(11, munmap, "px") { return ret(as()->munmap(args.a[0], args.a[1])); }

LINUX_SYSCALL(10, mprotect, "pxx") {
  if (args.a[2] & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP)) return -kEINVAL;
  if (args.a[0] & 0xfff) return -kEINVAL;
  if (!args.a[1]) return 0;
  return ret(as()->mprotect(args.a[0], args.a[1], vm_prot(args.a[2])));
}

}  // namespace capsule::linux_abi
