// Memory bring-up and the kernel-facing allocator services.
//
// mm_init, in order (docs/memory.md explains why this order):
//   1. memory map from the firmware; carve out what is in use
//   2. page tables for the kernel's own PML4, in pages taken from RAM below
//      1 GiB with a bump allocator (only the first 1 GiB is mapped by the
//      boot tables, so only there can the new tables be written)
//   3. CR3 switch: from here every byte of RAM is reachable via the direct map
//   4. the page metadata array (sized from the highest RAM address), placed
//      anywhere in RAM, then the buddy allocator gets every free range
//   5. the kernel heap on top of the buddy
#include <atomic>

#include "arch/x64/cpu/x64.h"
#include "arch/x64/mm/paging.h"
#include "arch/boot.h"
#include "arch/cpu.h"
#include "lib/log.h"
#include "core/mm.h"
#include "lib/panic.h"
#include "core/mm/buddy.h"
#include "core/mm/heap.h"
#ifdef CAPSULE_DEBUG_KERNEL
#include "core/mm/debug_heap.h"
#include "core/shutdown.h"
#endif
#include "core/mm/memmap.h"
#include "core/mm/mm_internal.h"
#include "arch/spinlock.h"
#include "lib/thread_annotations.h"

namespace capsule {
namespace {

using namespace mm;
using x64::PageSize;

constexpr uint64_t MIB = 1ull << 20;
constexpr uint64_t GIB = 1ull << 30;
constexpr uint64_t MMIO_WINDOW_SIZE = 1ull << 40;
constexpr uint64_t CR0_WP = 1ull << 16;
constexpr uint64_t EFER_NXE = 1ull << 11;

constexpr uint64_t page_down(uint64_t v) { return v & ~uint64_t(PAGE_SIZE - 1); }
constexpr uint64_t page_up(uint64_t v) { return (v + PAGE_SIZE - 1) & ~uint64_t(PAGE_SIZE - 1); }
uint64_t kphys(const void* p) { return reinterpret_cast<uintptr_t>(p) - KERNEL_VMA; }

// Page tables before the switch: a bump allocator over RAM below 1 GiB,
// written through the boot tables' direct map.
class EarlyTables final : public x64::TableMemory {
 public:
  EarlyTables(uint64_t start, uint64_t end) : start_(start), cur_(start), end_(end) {}
  Result<uint64_t> alloc_table() override {
    if (cur_ + PAGE_SIZE > end_) return Error::NoMemory;
    uint64_t pa = cur_;
    cur_ += PAGE_SIZE;
    __builtin_memset(phys_to_virt(pa), 0, PAGE_SIZE);
    return pa;
  }
  uint64_t* table(uint64_t phys) override { return static_cast<uint64_t*>(phys_to_virt(phys)); }
  uint64_t start() const { return start_; }
  uint64_t used_end() const { return cur_; }

 private:
  uint64_t start_, cur_, end_;
};

// Page tables after the switch: pages from the buddy.
class LiveTables final : public x64::TableMemory {
 public:
  Result<uint64_t> alloc_table() override {
    uint64_t pa = TRY(page_alloc(0));
    __builtin_memset(phys_to_virt(pa), 0, PAGE_SIZE);
    return pa;
  }
  uint64_t* table(uint64_t phys) override { return static_cast<uint64_t*>(phys_to_virt(phys)); }
};

LiveTables g_live_tables;

SpinLock g_page_lock;
BuddyAllocator g_buddy GUARDED_BY(g_page_lock);
// The buddy's frame array, set once by mm_init: read without the lock.
PageFrame* g_frames;
uint64_t g_frame_count;

// The heap's pages: buddy blocks seen through the direct map.
class KernelPages final : public PageSource {
 public:
  Result<uintptr_t> alloc_pages(unsigned order) override {
    uint64_t pa = TRY(page_alloc(order));
    return reinterpret_cast<uintptr_t>(phys_to_virt(pa));
  }
  void free_pages(uintptr_t addr, unsigned order) override { page_free(addr - DIRECT_MAP_BASE, order); }
  PageFrame* frames() override { return g_frames; }
  uint64_t frame_index(uintptr_t addr) override {
    if (addr < DIRECT_MAP_BASE || addr - DIRECT_MAP_BASE >= g_frame_count * PAGE_SIZE)
      return PFN_NONE;
    return (addr - DIRECT_MAP_BASE) / PAGE_SIZE;
  }
  uintptr_t frame_address(uint64_t index) override {
    return reinterpret_cast<uintptr_t>(phys_to_virt(index * PAGE_SIZE));
  }
};

KernelPages g_kernel_pages;
SpinLock g_heap_lock;
#ifdef CAPSULE_DEBUG_KERNEL
// Red zones, poison and a quarantine (docs/debug-kernel.md).
DebugHeap g_heap GUARDED_BY(g_heap_lock);
#else
Heap g_heap GUARDED_BY(g_heap_lock);
#endif

SpinLock g_map_lock;  // page-table edits after boot
uint64_t g_root;      // the kernel PML4 (physical)
uintptr_t g_mmio_next = MMIO_BASE;

MemoryMap g_ram;     // usable RAM as the firmware reported it
MemoryMap g_free;    // scratch during mm_init: RAM minus everything in use
MemoryMap g_low_free; // RAM below 1 MiB the buddy gets after boot (mm_release_low_memory)
uint64_t g_kernel_bytes;
uint64_t g_managed_bytes;  // handed to the buddy

// Below this the first MiB stays reserved for good: the real-mode IVT and
// BDA, the AP trampoline (0x8000, core/sched/smp.cc), and what BIOSes are
// known to scribble on (Linux keeps the first 64 KiB too).
constexpr uint64_t LOW_KEEP = 64 * 1024;

constexpr size_t MAX_GUARDS = 64;
std::atomic<uintptr_t> g_guards[MAX_GUARDS];
std::atomic<size_t> g_guard_count{0};

void must(Result<void> r, const char* what) {
  if (!r) panic("mm: {}: {}", what, error_name(r.error()));
}

void reserve(uint64_t start, uint64_t size, const char* what) {
  if (!size) return;
  log_debug("mm: reserve {:#x}-{:#x} {}", start, start + size, what);
  must(g_free.reserve(start, start + size), what);
}

size_t cstr_len(uint64_t pa) {
  const char* s = static_cast<const char*>(phys_to_virt(pa));
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

// Step 1: the memory map, and what the kernel must never hand out.
void read_memory_map(const HvmStartInfo* si) {
  if (si->version < 1 || !si->memmap_paddr || !si->memmap_entries)
    panic("mm: the boot loader passed no memory map (PVH start info version {})", si->version);
  if (si->memmap_paddr + si->memmap_entries * sizeof(HvmMemmapEntry) > GIB)
    panic("mm: memory map above 1 GiB, not reachable through the boot tables");
  auto* entries = static_cast<const HvmMemmapEntry*>(phys_to_virt(si->memmap_paddr));
  for (uint32_t i = 0; i < si->memmap_entries; ++i)
    log_debug("mm: firmware map {:#x}-{:#x} type {}", entries[i].addr, entries[i].addr + entries[i].size,
              entries[i].type);
  auto map = MemoryMap::from_firmware(entries, si->memmap_entries);
  if (!map) panic("mm: unusable memory map ({} entries): {}", si->memmap_entries, error_name(map.error()));
  g_ram = map.value();
  g_free = map.value();

  g_kernel_bytes = __kernel_end - __kernel_start;
  reserve(kphys(__kernel_start), g_kernel_bytes, "kernel image");
  reserve(virt_to_phys(si), sizeof(HvmStartInfo), "start info");
  if (si->cmdline_paddr) reserve(si->cmdline_paddr, cstr_len(si->cmdline_paddr) + 1, "command line");
  if (si->nr_modules && si->modlist_paddr) {
    reserve(si->modlist_paddr, si->nr_modules * sizeof(HvmModlistEntry), "module list");
    auto* mods = static_cast<const HvmModlistEntry*>(phys_to_virt(si->modlist_paddr));
    for (uint32_t i = 0; i < si->nr_modules; ++i) {
      reserve(mods[i].paddr, mods[i].size, "module");  // the initrd is module 0
      if (mods[i].cmdline_paddr)
        reserve(mods[i].cmdline_paddr, cstr_len(mods[i].cmdline_paddr) + 1, "module command line");
    }
  }
  // The first MiB: real-mode IVT, BDA, the AP trampoline, firmware tables
  // (an RSDP or ACPI tables a loader may have put in low RAM). Its RAM above
  // LOW_KEEP, less the carve-outs above, is remembered and given to the
  // buddy once ACPI has been read (mm_release_low_memory): up to 636 KiB,
  // a sixth of a 4 MiB VM.
  g_low_free = g_free;
  must(g_low_free.reserve(0, LOW_KEEP), "low memory");
  if (g_low_free.highest_end() > MIB) must(g_low_free.reserve(MIB, g_low_free.highest_end()), "low memory");
  reserve(0, MIB, "first MiB");
}

// What the direct map covers: RAM, ACPI tables/NVS (so ACPI code can read
// them with phys_to_virt) and the first MiB (RSDP search area). Everything
// else (device memory) goes through mmio_map, uncached.
MemoryMap direct_map_ranges(const HvmStartInfo* si) {
  MemoryMap m = g_ram;
  must(m.add(0, MIB), "direct map ranges");
  auto* entries = static_cast<const HvmMemmapEntry*>(phys_to_virt(si->memmap_paddr));
  for (uint32_t i = 0; i < si->memmap_entries; ++i) {
    const HvmMemmapEntry& e = entries[i];
    if ((e.type == E820_ACPI || e.type == E820_NVS) && e.size)
      must(m.add(page_down(e.addr), page_up(e.addr + e.size)), "direct map ranges");
  }
  // The modules (the initrd), wherever the loader put them: QEMU places the
  // initrd below the top of low RAM without asking the firmware, and
  // SeaBIOS may have grown its reserved area over that place (it does when
  // it brings up an NVMe controller), so the map can call it reserved.
  if (si->nr_modules && si->modlist_paddr) {
    auto* mods = static_cast<const HvmModlistEntry*>(phys_to_virt(si->modlist_paddr));
    for (uint32_t i = 0; i < si->nr_modules; ++i)
      if (mods[i].size) must(m.add(page_down(mods[i].paddr), page_up(mods[i].paddr + mods[i].size)), "direct map ranges");
  }
  return m;
}

// Step 2: the kernel's page tables.
void build_kernel_tables(EarlyTables& mem, const MemoryMap& direct) {
  g_root = mem.alloc_table().value_or(0);
  if (!g_root) panic("mm: no memory for the page tables");
  const PageSize largest = cpu_features().pdpe1gb ? PageSize::Size1G : PageSize::Size2M;
  for (const PhysRange& r : direct)
    must(x64::map_range(mem, g_root, DIRECT_MAP_BASE + r.start, r.start, r.size(),
                        x64::PTE_WRITE | x64::PTE_NX, largest),
         "direct map");

  // The image with 4 KiB pages, permissions per segment (kernel.ld): W^X.
  auto map_kernel = [&](const char* start, const char* end, uint64_t flags, const char* what) {
    auto s = reinterpret_cast<uintptr_t>(start), e = page_up(reinterpret_cast<uintptr_t>(end));
    must(x64::map_range(mem, g_root, s, s - KERNEL_VMA, e - s, flags, PageSize::Size4K), what);
  };
  map_kernel(__kernel_start, __rodata_start, 0, "kernel text");                         // RX
  map_kernel(__rodata_start, __rodata_end, x64::PTE_NX, "kernel rodata");               // R
  map_kernel(__data_start, boot_stack_guard, x64::PTE_WRITE | x64::PTE_NX, "kernel data");
  // boot_stack_guard: one page left unmapped, so a boot stack overflow faults.
  map_kernel(boot_stack_bottom, __kernel_end, x64::PTE_WRITE | x64::PTE_NX, "kernel bss");

  // Application address spaces copy the kernel's PML4 entries 256..511 when
  // they are created (docs/address-space.md), so no kernel-half PML4 entry
  // may appear later: give the MMIO window (the only region mapped after
  // boot) its PDPTs now.
  uint64_t* pml4 = mem.table(g_root);
  for (uintptr_t va = MMIO_BASE; va < MMIO_BASE + MMIO_WINDOW_SIZE; va += 1ull << 39) {
    uint64_t& e = pml4[(va >> 39) & 511];
    if (e & x64::PTE_PRESENT) continue;
    uint64_t t = mem.alloc_table().value_or(0);
    if (!t) panic("mm: no memory for the MMIO window's page tables");
    e = t | x64::PTE_PRESENT | x64::PTE_WRITE;
  }
}

// Upper bound on the early page-table pages, so the bump region is chosen
// once: PML4, per 512 GiB a PDPT, per GiB a PD (if no 1 GiB pages), at the
// ragged ends of each range one PD and one PT, and the kernel's own.
uint64_t early_table_budget(const MemoryMap& direct) {
  uint64_t highest = direct.highest_end();
  uint64_t pages = 1 + (highest >> 39) + 1;
  if (!cpu_features().pdpe1gb) pages += (highest >> 30) + 1;
  pages += direct.count() * 4;
  pages += 3 + (g_kernel_bytes >> 21) + 2;
  pages += MMIO_WINDOW_SIZE >> 39;  // the MMIO window's PDPTs
  return pages + 8;
}

}  // namespace

void mm_init(const HvmStartInfo* si) {
  read_memory_map(si);
  MemoryMap direct = direct_map_ranges(si);

  uint64_t budget = early_table_budget(direct) * PAGE_SIZE;
  auto bump = g_free.find_free(budget, MIB, GIB);
  if (!bump) panic("mm: no {} KiB below 1 GiB for the page tables", budget / 1024);
  EarlyTables early(*bump, *bump + budget);
  build_kernel_tables(early, direct);
  reserve(early.start(), early.used_end() - early.start(), "page tables");

  // Step 3: switch. NX and write protection are on since pvh_entry.S; make sure.
  if (!(x64::rdmsr(x64::MSR_EFER) & EFER_NXE)) x64::wrmsr(x64::MSR_EFER, x64::rdmsr(x64::MSR_EFER) | EFER_NXE);
  x64::write_cr0(x64::read_cr0() | CR0_WP);
  x64::write_cr3(g_root);

  // Step 4: page metadata, then the buddy.
  uint64_t frame_count = g_ram.highest_end() / PAGE_SIZE;
  uint64_t meta_bytes = page_up(frame_count * sizeof(PageFrame));
  auto meta = g_free.find_free(meta_bytes, MIB, ~uint64_t(0));
  if (!meta) panic("mm: no {} KiB for the page metadata", meta_bytes / 1024);
  reserve(*meta, meta_bytes, "page metadata");
  {
    SpinGuard guard(g_page_lock);
    g_buddy.init(static_cast<PageFrame*>(phys_to_virt(*meta)), frame_count);
    for (const PhysRange& r : g_free)
      must(g_buddy.add_range(r.start / PAGE_SIZE, r.end / PAGE_SIZE), "buddy add_range");
    g_managed_bytes = g_buddy.managed_pages() * PAGE_SIZE;
    g_frames = g_buddy.frames();
    g_frame_count = g_buddy.frame_count();
  }

  // Step 5.
  {
    SpinGuard guard(g_heap_lock);
#ifdef CAPSULE_DEBUG_KERNEL
    g_heap.init(&g_kernel_pages, kernel_debug_heap_config());
    // At the program's exit, every object still in the quarantine is
    // checked for writes after free.
    shutdown_register([](uint64_t) {
      SpinGuard guard(g_heap_lock);
      DebugHeapStats d = g_heap.debug_stats();
      g_heap.drain();
      kprint("debug_heap: {} freed objects checked at exit, none written after free\n", d.checked + d.quarantined);
    });
#else
    g_heap.init(&g_kernel_pages);
#endif
  }
  must(stack_guard_add(reinterpret_cast<uintptr_t>(boot_stack_guard)), "stack guard");
  mm::register_arch_hooks();

  log_info("mm: {} MiB RAM in {} ranges, highest {:#x}; {} MiB free; direct map with {} pages",
           g_ram.total_bytes() / MIB, g_ram.count(), g_ram.highest_end(), g_managed_bytes / MIB,
           cpu_features().pdpe1gb ? "1 GiB" : "2 MiB");
  log_debug("mm: page tables {} KiB at {:#x}, metadata {} KiB at {:#x}",
            (early.used_end() - early.start()) / 1024, early.start(), meta_bytes / 1024, *meta);
}

void mm_release_low_memory() {
  SpinGuard guard(g_page_lock);
  for (const PhysRange& r : g_low_free) {
    log_debug("mm: low memory {:#x}-{:#x} to the page allocator", r.start, r.end);
    must(g_buddy.add_range(r.start / PAGE_SIZE, r.end / PAGE_SIZE), "buddy add_range (low memory)");
  }
  g_low_free = MemoryMap();
  g_managed_bytes = g_buddy.managed_pages() * PAGE_SIZE;
}

Result<uint64_t> page_alloc(unsigned order) {
  SpinGuard guard(g_page_lock);
  uint64_t pfn = TRY(g_buddy.alloc(order));
  return pfn * PAGE_SIZE;
}

void page_free(uint64_t phys, unsigned order) {
  SpinGuard guard(g_page_lock);
  if (phys % PAGE_SIZE || !g_buddy.free(phys / PAGE_SIZE, order))
    panic("page_free: {:#x} (order {}) is not an allocated block (double free?)", phys, order);
}

void* kmalloc(size_t size) {
  SpinGuard guard(g_heap_lock);
  return g_heap.alloc(size);
}

void* kzalloc(size_t size) {
  SpinGuard guard(g_heap_lock);
  return g_heap.zalloc(size);
}

void kfree(void* p) {
  SpinGuard guard(g_heap_lock);
#ifdef CAPSULE_DEBUG_KERNEL
  g_heap.free(p);  // reports and panics itself
#else
  if (!g_heap.free(p)) panic("kfree: {:p} is not a live heap object (double free?)", p);
#endif
}

Result<volatile void*> mmio_map(uint64_t phys, size_t size) {
  if (!size || phys + size < phys) return Error::Invalid;
  uint64_t first = page_down(phys), end = page_up(phys + size);
  SpinGuard guard(g_map_lock);
  // Each mapping is followed by an unmapped page, so overruns fault.
  if (g_mmio_next + (end - first) + PAGE_SIZE > MMIO_BASE + MMIO_WINDOW_SIZE) return Error::NoMemory;
  uintptr_t va = g_mmio_next;
  LiveTables mem;
  for (uint64_t off = 0; off < end - first; off += PAGE_SIZE)
    TRY(x64::map_page(mem, g_root, va + off, first + off, PageSize::Size4K,
                      x64::PTE_WRITE | x64::PTE_PCD | x64::PTE_PWT | x64::PTE_NX));
  g_mmio_next = va + (end - first) + PAGE_SIZE;
  log_debug("mm: mmio {:#x}-{:#x} at {:#x}", first, end, va);
  return reinterpret_cast<volatile void*>(va + (phys - first));
}

MemoryStats memory_stats() {
  MemoryStats s{};
  s.total_bytes = g_ram.total_bytes();
  {
    SpinGuard guard(g_page_lock);
    s.free_bytes = g_buddy.free_pages() * PAGE_SIZE;
    s.peak_used_bytes = (g_buddy.managed_pages() - g_buddy.min_free_pages()) * PAGE_SIZE;
  }
  {
    SpinGuard guard(g_heap_lock);
    s.heap_bytes = g_heap.stats().pages * PAGE_SIZE;
  }
  s.kernel_bytes = g_kernel_bytes;
  s.reserved_bytes = s.total_bytes - g_managed_bytes - g_kernel_bytes;
  return s;
}

bool is_kstack_guard(uintptr_t va);  // core/mm/kstack.cc

bool is_stack_guard(uintptr_t va) {
  va = page_down(va);
  if (is_kstack_guard(va)) return true;
  size_t n = g_guard_count.load(std::memory_order_acquire);
  for (size_t i = 0; i < n && i < MAX_GUARDS; ++i)
    if (g_guards[i].load(std::memory_order_relaxed) == va) return true;
  return false;
}

Result<void> stack_guard_add(uintptr_t va) {
  if (va % PAGE_SIZE) return Error::Invalid;
  SpinGuard guard(g_map_lock);
  size_t n = g_guard_count.load(std::memory_order_relaxed);
  if (n == MAX_GUARDS) return Error::NoMemory;
  g_guards[n].store(va, std::memory_order_relaxed);
  g_guard_count.store(n + 1, std::memory_order_release);
  return {};
}

namespace mm {

uint64_t kernel_root() { return g_root; }

x64::TableMemory& live_tables() { return g_live_tables; }

Result<void> kernel_map_page(uintptr_t va, uint64_t pa, uint64_t flags) {
  SpinGuard guard(g_map_lock);
  LiveTables mem;
  return x64::map_page(mem, g_root, va, pa, PageSize::Size4K, flags);
}

PageFrame& frame_of(uint64_t phys) { return g_frames[phys / PAGE_SIZE]; }

x64::Translation kernel_translate(uintptr_t va) {
  LiveTables mem;
  return x64::translate(mem, g_root, va);
}

HeapStats kernel_heap_stats() {
  SpinGuard guard(g_heap_lock);
  return g_heap.stats();
}

void kernel_heap_trim() {
  SpinGuard guard(g_heap_lock);
  g_heap.trim();
}

}  // namespace mm
}  // namespace capsule
