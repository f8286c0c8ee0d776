// In-kernel tests of the memory services (--test=mm, docs/memory.md).
#include "arch/x64/cpu/x64.h"
#include "arch/boot.h"
#include "lib/ktest.h"
#include "core/mm.h"
#include "core/mm/heap.h"
#include "core/mm/mm_internal.h"

namespace capsule {
namespace {

constexpr uint64_t GIB4 = 4ull << 30;

uint64_t free_pages() { return memory_stats().free_bytes / PAGE_SIZE; }

// A data object and an executable-looking buffer for the W^X checks.
int g_data_word = 42;
alignas(16) unsigned char g_code_in_data[16] = {0xc3};  // `ret`, in .data
const char g_rodata_text[] = "capsule rodata";

void* link_next(void* obj) { return *static_cast<void**>(obj); }

}  // namespace

KTEST(mm_buddy) {
  // The heap's cached slabs (and the debug kernel's quarantine) first: the
  // kmalloc below may otherwise get pages back from them.
  mm::kernel_heap_trim();
  const uint64_t free0 = free_pages();
  // Order-n blocks are aligned to their size and come back whole.
  for (unsigned o = 0; o <= 10; ++o) {
    auto p = page_alloc(o);
    KEXPECT(p.ok());
    if (!p) continue;
    KEXPECT((*p & ((PAGE_SIZE << o) - 1)) == 0);
    KEXPECT(free_pages() == free0 - (1u << o));
    page_free(*p, o);
  }
  KEXPECT(free_pages() == free0);
  KEXPECT(page_alloc(11).error() == Error::Invalid);

  // Exhaust, chaining the pages through their first word (which also shows
  // that every page is writable through the direct map, above 4 GiB too).
  uint64_t head = 0, count = 0, above_4g = 0;
  for (;;) {
    auto p = page_alloc(0);
    if (!p) {
      KEXPECT(p.error() == Error::NoMemory);
      break;
    }
    *static_cast<uint64_t*>(phys_to_virt(*p)) = head;
    head = *p;
    ++count;
    if (*p >= GIB4) ++above_4g;
  }
  KEXPECT(count == free0);
  KEXPECT(free_pages() == 0);
  KEXPECT(kmalloc(3 * PAGE_SIZE) == nullptr);
  while (head) {
    uint64_t next = *static_cast<uint64_t*>(phys_to_virt(head));
    page_free(head, 0);
    head = next;
  }
  KEXPECT(free_pages() == free0);
  // Everything coalesced again: the largest block is there.
  auto big = page_alloc(10);
  KEXPECT(big.ok());
  if (big) page_free(*big, 10);
  kprint("mm.buddy: {} pages ({} MiB) allocated and freed, {} above 4 GiB\n", count,
         count * PAGE_SIZE >> 20, above_4g);
}

KTEST(mm_heap) {
  mm::kernel_heap_trim();
  const mm::HeapStats h0 = mm::kernel_heap_stats();
  const uint64_t free0 = free_pages();
  static constexpr size_t SIZES[] = {1,   7,    16,   17,   48,   64,   100,   128,   200,   256,
                                     500, 1000, 1536, 2000, 2048, 2049, 5000, 12288, 100000, 1 << 20};
  constexpr size_t PER_SIZE = 16;
  static unsigned char* objs[sizeof(SIZES) / sizeof(SIZES[0])][PER_SIZE];
  size_t n = 0;
  for (size_t s = 0; s < sizeof(SIZES) / sizeof(SIZES[0]); ++s) {
    for (size_t i = 0; i < PER_SIZE; ++i) {
      auto* p = static_cast<unsigned char*>(kmalloc(SIZES[s]));
      objs[s][i] = p;
      KEXPECT(p != nullptr);
      if (!p) continue;
      KEXPECT(reinterpret_cast<uintptr_t>(p) % 16 == 0);
      __builtin_memset(p, int(s * PER_SIZE + i), SIZES[s]);
      ++n;
    }
  }
  KEXPECT(mm::kernel_heap_stats().objects_in_use == h0.objects_in_use + n);
  for (size_t s = 0; s < sizeof(SIZES) / sizeof(SIZES[0]); ++s) {
    for (size_t i = 0; i < PER_SIZE; ++i) {
      unsigned char* p = objs[s][i];
      if (!p) continue;
      bool intact = true;
      for (size_t j = 0; j < SIZES[s]; ++j) intact &= p[j] == static_cast<unsigned char>(s * PER_SIZE + i);
      KEXPECT(intact);
      kfree(p);
    }
  }
  auto* z = static_cast<unsigned char*>(kzalloc(3000));
  KEXPECT(z != nullptr);
  if (z) {
    bool zero = true;
    for (int i = 0; i < 3000; ++i) zero &= z[i] == 0;
    KEXPECT(zero);
    kfree(z);
  }
  kfree(nullptr);
  mm::kernel_heap_trim();
  const mm::HeapStats h1 = mm::kernel_heap_stats();
  KEXPECT(h1.objects_in_use == h0.objects_in_use);
  KEXPECT(h1.bytes_in_use == h0.bytes_in_use);
  KEXPECT(h1.pages == h0.pages);
  KEXPECT(free_pages() == free0);
}

KTEST(mm_oom) {
  mm::kernel_heap_trim();
  const uint64_t free0 = free_pages();
  KEXPECT(kmalloc(size_t(1) << 40) == nullptr);
  KEXPECT(kmalloc(~size_t(0)) == nullptr);
  KEXPECT(kmalloc((4u << 20) + 1) == nullptr);  // beyond the largest block
  KEXPECT(kzalloc(~size_t(0) - 8) == nullptr);

  // Exhaust everything, big pieces first so that this is quick, down to the
  // smallest class; chain the objects through their first word.
  static constexpr size_t SIZES[] = {4u << 20, 64u << 10, 4096, 2048, 256, 16};
  void* head = nullptr;
  uint64_t count = 0;
  auto exhaust = [&](size_t size) {
    while (void* p = kmalloc(size)) {
      *static_cast<void**>(p) = head;
      head = p;
      ++count;
    }
  };
  for (size_t size : SIZES) exhaust(size);
  // Then every small class, largest first: a class whose slab boot left
  // partly used (the VFS, the fd table) still has room after the 16-byte one.
  for (size_t i = mm::HEAP_CLASS_COUNT; i-- > 0;) exhaust(mm::HEAP_CLASS_SIZES[i]);
  KEXPECT(count > 0);
  KEXPECT(free_pages() == 0);
  KEXPECT(kmalloc(16) == nullptr);
  KEXPECT(kzalloc(100) == nullptr);
  KEXPECT(page_alloc(0).error() == Error::NoMemory);

  // Recover: everything freed is usable again, by any size.
  while (head) {
    void* next = link_next(head);
    kfree(head);
    head = next;
  }
#ifdef CAPSULE_DEBUG_KERNEL
  // The debug heap's header and red zone need room in the 4 MiB block.
  void* big = kmalloc((4u << 20) - 4096);
#else
  void* big = kmalloc(4u << 20);
#endif
  KEXPECT(big != nullptr);
  kfree(big);
  void* small = kmalloc(40);
  KEXPECT(small != nullptr);
  kfree(small);
  mm::kernel_heap_trim();
  KEXPECT(free_pages() == free0);
  kprint("mm.oom: {} objects until exhaustion, all memory back\n", count);
}

KTEST(mm_wx) {
  KEXPECT(x64::read_cr3() == mm::kernel_root());
  KEXPECT(x64::read_cr0() & (1u << 16));                       // CR0.WP
  KEXPECT(x64::rdmsr(x64::MSR_EFER) & (1u << 11));             // EFER.NXE

  auto text = mm::kernel_translate(reinterpret_cast<uintptr_t>(&mm_init));
  KEXPECT(text.present && !text.writable && text.executable);
  KEXPECT(text.size == x64::PageSize::Size4K);
  auto ro = mm::kernel_translate(reinterpret_cast<uintptr_t>(g_rodata_text));
  KEXPECT(ro.present && !ro.writable && !ro.executable);
  auto ktests = mm::kernel_translate(reinterpret_cast<uintptr_t>(__rodata_end) - 1);
  KEXPECT(ktests.present && !ktests.writable && !ktests.executable);
  auto data = mm::kernel_translate(reinterpret_cast<uintptr_t>(&g_data_word));
  KEXPECT(data.present && data.writable && !data.executable);
  auto code_in_data = mm::kernel_translate(reinterpret_cast<uintptr_t>(g_code_in_data));
  KEXPECT(code_in_data.present && !code_in_data.executable);
  auto stack = mm::kernel_translate(reinterpret_cast<uintptr_t>(boot_stack_top) - 8);
  KEXPECT(stack.present && stack.writable && !stack.executable);

  // W^X over the whole image, page by page.
  unsigned bad = 0;
  for (auto va = reinterpret_cast<uintptr_t>(__kernel_start); va < reinterpret_cast<uintptr_t>(__kernel_end);
       va += PAGE_SIZE) {
    auto t = mm::kernel_translate(va);
    if (t.present && t.writable && t.executable) ++bad;
  }
  KEXPECT(bad == 0);

  auto guard = reinterpret_cast<uintptr_t>(boot_stack_guard);
  KEXPECT(!mm::kernel_translate(guard).present);
  KEXPECT(is_stack_guard(guard + 123));
  KEXPECT(!is_stack_guard(reinterpret_cast<uintptr_t>(boot_stack_bottom)));

  // The lower half is empty: null pointers and user addresses fault.
  KEXPECT(!mm::kernel_translate(0).present);
  KEXPECT(!mm::kernel_translate(0x400000).present);
  auto* pml4 = static_cast<const uint64_t*>(phys_to_virt(mm::kernel_root()));
  unsigned lower = 0;
  for (int i = 0; i < 256; ++i) lower += pml4[i] != 0;
  KEXPECT(lower == 0);

  // The direct map covers RAM, read/write, never executable.
  auto dm = mm::kernel_translate(reinterpret_cast<uintptr_t>(phys_to_virt(0x100000)));
  KEXPECT(dm.present && dm.writable && !dm.executable && dm.phys == 0x100000);
  const uint64_t total = memory_stats().total_bytes;
  KEXPECT(total > 0);
}

KTEST(mm_mmio) {
  KEXPECT(mmio_map(0x1000, 0).error() == Error::Invalid);
  // The local APIC's version register (Intel SDM 11.4.8): uncached, and a
  // real device answers through the mapping.
  auto r = mmio_map(0xfee00030, 4);
  KEXPECT(r.ok());
  if (!r) return;
  auto va = reinterpret_cast<uintptr_t>(*r);
  KEXPECT(va >= MMIO_BASE && va < KERNEL_VMA);
  KEXPECT((va & 0xfff) == 0x030);
  auto t = mm::kernel_translate(va);
  KEXPECT(t.present && t.uncached && t.writable && !t.executable && t.phys == 0xfee00030);
  KEXPECT(t.size == x64::PageSize::Size4K);
  uint32_t version = *static_cast<volatile uint32_t*>(*r);
  KEXPECT((version & 0xff) != 0);
  // A range over a page boundary maps both pages, and an unmapped page
  // follows every mapping.
  auto two = mmio_map(0xfea00ff0, 0x20);
  KEXPECT(two.ok());
  if (two) {
    auto base = reinterpret_cast<uintptr_t>(*two) & ~uintptr_t(0xfff);
    KEXPECT(base > va);
    KEXPECT(mm::kernel_translate(base).present && mm::kernel_translate(base + 0x1000).present);
    KEXPECT(!mm::kernel_translate(base + 0x2000).present);
    KEXPECT(mm::kernel_translate(base + 0x1000).phys == 0xfea01000);
  }
  kprint("mm.mmio: lapic version {:#x} through {:#x}\n", version, va);
}

// Deliberate crashes (--test=fault.write_text): with the traps branch's
// exception handlers they end in a page-fault panic.
KTEST_FAULT(fault_write_text) {
  auto* p = reinterpret_cast<volatile unsigned char*>(&mm_init);
  kprint("fault.write_text: writing to {:p} (text)\n", reinterpret_cast<const void*>(&mm_init));
  *p = 0xcc;
  kprint("fault.write_text: the write did not fault\n");
}

KTEST_FAULT(fault_exec_data) {
  kprint("fault.exec_data: calling {:p} (data)\n", static_cast<const void*>(g_code_in_data));
  reinterpret_cast<void (*)()>(static_cast<void*>(g_code_in_data))();
  kprint("fault.exec_data: the call did not fault\n");
}

}  // namespace capsule
