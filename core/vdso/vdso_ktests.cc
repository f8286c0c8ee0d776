// In-kernel tests of the vDSO (--test=vdso, docs/vdso.md): map it into an
// address space, find its symbols the way the libcs do (dynamic symbol
// table + versions), and call them — everything runs at CPL0, so kernel
// code can call the application's vDSO directly. The vDSO is built with
// -mgeneral-regs-only, so no vector state is touched.
#include "arch/x64/cpu/x64.h"
#include "core/address_space.h"
#include "arch/cpu.h"
#include "lib/ktest.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/vdso.h"
#include "core/mm/address_space.h"
#include "core/mm/mm_internal.h"
#include "core/vdso/vdso_elf.h"

namespace capsule {
namespace {

struct Timespec { int64_t sec, nsec; };
struct Timeval { int64_t sec, usec; };
struct Timezone { int minuteswest, dsttime; };
using ClockGettime = int (*)(long, Timespec*);
using ClockGetres = int (*)(long, Timespec*);
using Gettimeofday = int (*)(Timeval*, Timezone*);
using TimeFn = long (*)(long*);
using Getcpu = int (*)(unsigned*, unsigned*, void*);

constexpr long CLK_REALTIME = 0, CLK_MONOTONIC = 1, CLK_MONOTONIC_RAW = 4, CLK_REALTIME_COARSE = 5,
               CLK_MONOTONIC_COARSE = 6, CLK_BOOTTIME = 7;

int64_t ns_of(const Timespec& t) { return t.sec * 1000000000 + t.nsec; }

// An address space with the vDSO mapped, loaded on this CPU (and on every
// CPU with `everywhere`, for tests that move between CPUs).
class VdsoSpace {
 public:
  explicit VdsoSpace(bool everywhere = false) : everywhere_(everywhere) {
    as_ = AddressSpace::create().value_or(nullptr);
    KEXPECT(as_ != nullptr);
    if (!as_) return;
    as_->set_mmap_base(0x7ff000000000);
    auto b = vdso_map(*as_);
    KEXPECT(b.ok());
    base_ = b.value_or(0);
    each_cpu([this] { as_->activate(); });
  }
  ~VdsoSpace() {
    if (!as_) return;
    each_cpu([] { AddressSpace::activate_kernel(); });
    AddressSpace::destroy(as_);
  }
  uintptr_t base() const { return base_; }
  AddressSpace* as() const { return as_; }
  template <typename T>
  T sym(const char* name) {
    auto off = vdso::find_symbol(reinterpret_cast<const uint8_t*>(base_), vdso_image_size(), name, "LINUX_2.6");
    KEXPECT(off.ok());
    return off.ok() ? reinterpret_cast<T>(base_ + *off) : nullptr;
  }

 private:
  template <typename F>
  void each_cpu(F&& f) {
    if (!everywhere_) {
      f();
      return;
    }
    Thread* self = thread_current();
    for (uint32_t i = 0; i < cpu_count(); ++i)
      if (thread_pin(self, int(i)).ok()) f();
    (void)thread_pin(self, -1);
  }
  bool everywhere_;
  AddressSpace* as_ = nullptr;
  uintptr_t base_ = 0;
};

}  // namespace

KTEST(vdso_mapping_and_symbols) {
  VdsoSpace s;
  if (!s.base()) return;
  const uintptr_t base = s.base();
  KEXPECT(base % PAGE_SIZE == 0);
  KEXPECT(base < 0x7ff000000000 && base > 0x7fe000000000);  // top-down below the mmap base
  // vvar just below: read-only, not executable; text: read + execute.
  uint64_t root = s.as()->root();
  x64::Translation vv = mm::translate_in(root, base - PAGE_SIZE);
  x64::Translation tx = mm::translate_in(root, base);
  KEXPECT(vv.present && !vv.writable && !vv.executable);
  KEXPECT(tx.present && !tx.writable && tx.executable);
  KEXPECT(!(tx.entry & mm::PTE_SW_ANON));  // the kernel's page, not a copy
  KEXPECT(tx.phys == virt_to_phys(vdso_image()));
  KEXPECT(__builtin_memcmp(reinterpret_cast<const void*>(base), vdso_image(), vdso_image_size()) == 0);
  // Every symbol the libcs ask for, with version LINUX_2.6 (what glibc's
  // dl_vdso_vsym and musl's __vdsosym look up), plus the plain aliases.
  const auto* img = reinterpret_cast<const uint8_t*>(base);
  const size_t n = vdso_image_size();
  const char* names[] = {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu",
                         "__vdso_clock_getres", "clock_gettime", "gettimeofday", "time", "getcpu",
                         "clock_getres"};
  for (const char* name : names) KEXPECT(vdso::find_symbol(img, n, name, "LINUX_2.6").ok());
  KEXPECT(vdso::defines_version(img, n, "LINUX_2.6"));
  KEXPECT(vdso::find_symbol(img, n, "__vdso_clock_gettime", "LINUX_2.5").error() == Error::NotFound);
  KEXPECT(vdso::find_symbol(img, n, "__vdso_nothing", nullptr).error() == Error::NotFound);
  KEXPECT(vdso::find_symbol(img, n, "capsule_vvar", nullptr).error() == Error::NotFound);  // not exported
  KEXPECT(*vdso::find_symbol(img, n, "clock_gettime", nullptr) ==
          *vdso::find_symbol(img, n, "__vdso_clock_gettime", nullptr));
  kprint("vdso.mapping_and_symbols: vvar at {:#x}, vDSO at {:#x} ({} bytes, {} pages)\n", base - PAGE_SIZE,
         base, n, vdso_pages() - 1);
}

KTEST(vdso_clock_gettime) {
  VdsoSpace s;
  if (!s.base()) return;
  auto cg = s.sym<ClockGettime>("__vdso_clock_gettime");
  auto gr = s.sym<ClockGetres>("__vdso_clock_getres");
  if (!cg || !gr) return;
  // Monotonic: between two kernel readings (1 us slack: the kernel's rdtsc
  // is not fenced, the vDSO's is).
  constexpr int64_t SLACK = 1000;
  for (long clk : {CLK_MONOTONIC, CLK_MONOTONIC_RAW, CLK_MONOTONIC_COARSE, CLK_BOOTTIME}) {
    Timespec ts{};
    int64_t a = int64_t(uptime_ns());
    KEXPECT(cg(clk, &ts) == 0);
    int64_t b = int64_t(uptime_ns());
    KEXPECT(ts.nsec >= 0 && ts.nsec < 1000000000);
    KEXPECT(ns_of(ts) >= a - SLACK && ns_of(ts) <= b + SLACK);
  }
  for (long clk : {CLK_REALTIME, CLK_REALTIME_COARSE}) {
    Timespec ts{};
    int64_t a = realtime_ns();
    KEXPECT(cg(clk, &ts) == 0);
    int64_t b = realtime_ns();
    KEXPECT(ns_of(ts) >= a - SLACK && ns_of(ts) <= b + SLACK);
  }
  // Never backwards over many reads.
  int64_t prev = 0;
  unsigned backwards = 0;
  constexpr unsigned N = 20000;
  uint64_t t0 = uptime_ns();
  for (unsigned i = 0; i < N; ++i) {
    Timespec ts;
    cg(CLK_MONOTONIC, &ts);
    if (ns_of(ts) < prev) ++backwards;
    prev = ns_of(ts);
  }
  uint64_t per_call = (uptime_ns() - t0) / N;
  KEXPECT(backwards == 0);
  // Resolution: 1 ns for every served clock.
  Timespec res{5, 5};
  KEXPECT(gr(CLK_MONOTONIC, &res) == 0 && res.sec == 0 && res.nsec == 1);
  KEXPECT(gr(CLK_REALTIME, nullptr) == 0);
  // A wall-clock change reaches the vDSO (time_set_realtime's observer).
  int64_t saved = realtime_ns();
  constexpr int64_t Y2K = 946684800ll * 1000000000;
  time_set_realtime(Y2K);
  Timespec ts{};
  KEXPECT(cg(CLK_REALTIME, &ts) == 0);
  KEXPECT(ts.sec == 946684800 || ts.sec == 946684801);
  time_set_realtime(saved + 1000);  // about what it would read now
  KEXPECT(cg(CLK_REALTIME, &ts) == 0);
  KEXPECT(ns_of(ts) >= saved && ns_of(ts) - realtime_ns() < 1000000);
  kprint("vdso.clock_gettime: {} monotonic reads, 0 backwards, {} ns per call\n", N, per_call);
}

KTEST(vdso_gettimeofday_and_time) {
  VdsoSpace s;
  if (!s.base()) return;
  auto cg = s.sym<ClockGettime>("__vdso_clock_gettime");
  auto gtod = s.sym<Gettimeofday>("__vdso_gettimeofday");
  auto tm = s.sym<TimeFn>("__vdso_time");
  if (!cg || !gtod || !tm) return;
  for (int i = 0; i < 100; ++i) {
    Timespec a;
    Timeval tv{};
    Timezone tz{7, 7};
    KEXPECT(cg(CLK_REALTIME, &a) == 0);
    KEXPECT(gtod(&tv, &tz) == 0);
    long t_ret = -1, t_out = -1;
    t_ret = tm(&t_out);
    Timespec b;
    KEXPECT(cg(CLK_REALTIME, &b) == 0);
    int64_t tv_ns = tv.sec * 1000000000 + tv.usec * 1000;
    KEXPECT(tv.usec >= 0 && tv.usec < 1000000);
    KEXPECT(tv_ns >= ns_of(a) - 1000 && tv_ns <= ns_of(b));
    KEXPECT(tz.minuteswest == 0 && tz.dsttime == 0);
    KEXPECT(t_ret == t_out && t_ret >= a.sec && t_ret <= b.sec);
  }
  KEXPECT(gtod(nullptr, nullptr) == 0);
  KEXPECT(tm(nullptr) > 946684800);  // after 2000 (the RTC's date)
}

KTEST(vdso_getcpu_on_every_cpu) {
  VdsoSpace s(/*everywhere=*/true);
  if (!s.base()) return;
  auto gc = s.sym<Getcpu>("__vdso_getcpu");
  if (!gc) return;
  const CpuFeatures& f = cpu_features();
  Thread* self = thread_current();
  unsigned checked = 0;
  for (uint32_t i = 0; i < cpu_count(); ++i) {
    if (!thread_pin(self, int(i)).ok()) continue;
    unsigned cpu = 999, node = 999;
    KEXPECT(gc(&cpu, &node, nullptr) == 0);
    KEXPECT(cpu == current_cpu());
    KEXPECT(node == 0);
    unsigned only_cpu = 999;
    KEXPECT(gc(&only_cpu, nullptr, nullptr) == 0 && only_cpu == i);
    ++checked;
  }
  (void)thread_pin(self, -1);
  KEXPECT(checked == cpu_count());
  KEXPECT(f.rdtscp || f.rdpid);  // QEMU's -cpu max and host CPUs have both
  kprint("vdso.getcpu: right on {} of {} CPUs via {}\n", checked, cpu_count(),
         f.rdpid ? "rdpid" : (f.rdtscp ? "rdtscp" : "the system call"));
}

}  // namespace capsule
