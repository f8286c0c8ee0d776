// The vDSO's kernel side (core/include/core/vdso.h, docs/vdso.md): the vvar
// page and the mapping of the embedded image (core/vdso/vdso_image.S).
//
// Both are mapped as one shared, file-like VMA whose backing hands out the
// kernel's own pages (vvar first, then the image), so no page is copied per
// process; the image part is then made executable.
#include "core/vdso.h"

#include "core/address_space.h"
#include "arch/cpu.h"
#include "core/mm.h"
#include "core/time.h"
#include "core/mm/vma.h"
#include "arch/spinlock.h"
#include "core/vdso/vvar.h"

extern "C" const uint8_t vdso_image_start[];
extern "C" const uint8_t vdso_image_end[];

namespace capsule {
namespace {

// Page aligned and a whole page, so the application sees nothing else of
// the kernel's data through it.
union alignas(PAGE_SIZE) VvarPage {
  capsule_vvar v;
  uint8_t bytes[PAGE_SIZE];
};
static_assert(sizeof(VvarPage) == PAGE_SIZE);
VvarPage g_vvar;
SpinLock g_vvar_lock;  // one writer at a time
bool g_ready GUARDED_BY(g_vvar_lock);

size_t image_pages() {
  return (size_t(vdso_image_end - vdso_image_start) + PAGE_SIZE - 1) / PAGE_SIZE;
}

// The seqlock writer: seq odd while the fields change. x86 keeps stores in
// order [SDM Vol. 3A 9.2.2]; the fences stop the compiler reordering them.
template <typename F>
void vvar_write(F&& f) {
  volatile capsule_vvar& v = g_vvar.v;
  v.seq = v.seq + 1;
  __atomic_thread_fence(__ATOMIC_RELEASE);
  f(v);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  v.seq = v.seq + 1;
}

void init_locked() REQUIRES(g_vvar_lock) {
  g_vvar_lock.assert_held();
  if (g_ready) return;
  TscClock c = time_tsc_clock();
  const CpuFeatures& cpu = cpu_features();
  vvar_write([&](volatile capsule_vvar& v) {
    v.version = CAPSULE_VVAR_VERSION;
    v.boot_tsc = c.boot_tsc;
    v.mult = c.mult;
    v.realtime_offset_ns = realtime_offset_ns();
    uint32_t flags = 0;
    if (c.mult) flags |= CAPSULE_VVAR_TSC_OK;
    if (cpu.rdtscp) flags |= CAPSULE_VVAR_RDTSCP;  // IA32_TSC_AUX: arch/x64/cpu/cpu_init.cc
    if (cpu.rdpid) flags |= CAPSULE_VVAR_RDPID;
    v.flags = flags;
  });
  g_ready = true;
  time_set_realtime_observer(vdso_update_realtime);
}

// vvar at offset 0, the image's pages after it. Static: nothing to count.
class VdsoBacking final : public mm::VmBacking {
 public:
  Result<uint64_t> page(uint64_t offset) override {
    uint64_t i = offset / PAGE_SIZE;
    if (i == 0) return virt_to_phys(&g_vvar);
    if (i - 1 < image_pages()) return virt_to_phys(vdso_image_start + (i - 1) * PAGE_SIZE);
    return Error::Range;
  }
  void retain() override {}
  void release() override {}
};
VdsoBacking g_backing;

}  // namespace

const uint8_t* vdso_image() { return vdso_image_start; }
size_t vdso_image_size() { return size_t(vdso_image_end - vdso_image_start); }
size_t vdso_pages() { return 1 + image_pages(); }

void vdso_update_realtime() {
  SpinGuard g(g_vvar_lock);
  if (!g_ready) return;  // init reads it
  int64_t off = realtime_offset_ns();
  vvar_write([&](volatile capsule_vvar& v) { v.realtime_offset_ns = off; });
}

Result<uintptr_t> vdso_map(AddressSpace& as) {
  {
    SpinGuard g(g_vvar_lock);
    init_locked();
  }
  mm::MapRequest r;
  r.len = vdso_pages() * PAGE_SIZE;
  r.prot = mm::VM_READ;
  r.flags = mm::VM_SHARED;
  r.backing = &g_backing;
  r.placement = mm::Placement::Hint;  // top-down below the mmap base
  uintptr_t vvar = TRY(as.mmap(r, /*populate=*/true));
  uintptr_t base = vvar + PAGE_SIZE;
  if (auto p = as.mprotect(base, image_pages() * PAGE_SIZE, mm::VM_READ | mm::VM_EXEC); !p.ok()) {
    (void)as.munmap(vvar, r.len);
    return p.error();
  }
  return base;
}

}  // namespace capsule
