#pragma once
// What the boot loader hands the kernel: the PVH start info (Xen's
// hvm_start_info, arch/x86/include/xen/interface/hvm/start_info.h in the
// spec) and the kernel's boot-time globals.
#include <cstdint>

namespace capsule {

constexpr uint32_t HVM_START_MAGIC = 0x336ec578;

struct HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;    // version >= 1
  uint32_t memmap_entries;  // version >= 1
  uint32_t reserved;
};

struct HvmModlistEntry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};

struct HvmMemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;  // 1 RAM, 2 reserved, 3 ACPI, 4 NVS, 5 unusable
  uint32_t reserved;
};

// Set by arch/x64/boot/pvh_entry.S.
extern "C" uint64_t boot_tsc_early;
extern "C" uint64_t boot_start_info;

// Linker-script symbols bounding the kernel image.
extern "C" char __kernel_start[], __kernel_end[], __text_start[], __text_end[],
    __rodata_start[], __rodata_end[], __data_start[], __bss_start[], __bss_end[];
extern "C" char boot_stack_guard[], boot_stack_bottom[], boot_stack_top[];

}  // namespace capsule
