// Global /proc files (linux/procfs.h): cpuinfo from CPUID, meminfo from the
// page allocator, stat, uptime, loadavg, filesystems, version, and the
// sysctls with state (hostname, random/boot_id and uuid, overcommit).
#include "arch/cpu.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "linux/process.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/random.h"
#include "arch/spinlock.h"
#include "lib/log.h"
#include "linux/identity.h"
#include "linux/linux_errno.h"
#include "linux/procfs.h"
#include "linux/signal.h"

namespace capsule::linux_abi::proc {
namespace {

constexpr uint64_t TICK_NS = 10'000'000;  // USER_HZ = 100

// cpuinfo's flags: Linux's names for the features Capsule detects.
void cpu_flags(Text& out) {
  const CpuFeatures& f = cpu_features();
  struct Flag {
    bool on;
    const char* name;
  };
  const Flag flags[] = {
      {f.fpu, "fpu"},         {true, "vme"},           {true, "de"},          {true, "pse"},
      {f.tsc, "tsc"},         {true, "msr"},           {true, "pae"},         {true, "mce"},
      {true, "cx8"},          {f.apic, "apic"},        {true, "sep"},         {true, "mtrr"},
      {true, "pge"},          {true, "mca"},           {true, "cmov"},        {true, "pat"},
      {true, "pse36"},        {true, "clflush"},       {true, "mmx"},         {true, "fxsr"},
      {true, "sse"},          {f.sse2, "sse2"},        {f.syscall, "syscall"}, {f.nx, "nx"},
      {f.pdpe1gb, "pdpe1gb"}, {f.rdtscp, "rdtscp"},    {true, "lm"},          {true, "constant_tsc"},
      {true, "nopl"},         {true, "cpuid"},         {f.sse3, "pni"},       {true, "cx16"},
      {f.ssse3, "ssse3"},     {f.sse41, "sse4_1"},     {f.sse42, "sse4_2"},   {f.x2apic, "x2apic"},
      {true, "popcnt"},       {f.tsc_deadline, "tsc_deadline_timer"},         {f.xsave, "xsave"},
      {f.avx, "avx"},         {f.rdrand, "rdrand"},    {f.hypervisor_bit, "hypervisor"},
      {f.fsgsbase, "fsgsbase"}, {f.avx2, "avx2"},      {f.smep, "smep"},      {f.erms, "erms"},
      {f.invpcid, "invpcid"}, {f.avx512f, "avx512f"},  {f.rdseed, "rdseed"},  {f.smap, "smap"},
      {f.xsaveopt, "xsaveopt"}, {f.xsavec, "xsavec"},  {f.xsaves, "xsaves"},  {f.arat, "arat"},
      {f.pcid, "pcid"},       {f.rdpid, "rdpid"},
  };
  bool first = true;
  for (const Flag& fl : flags) {
    if (!fl.on) continue;
    if (!first) out.put(' ');
    out.str(fl.name);
    first = false;
  }
}

SpinLock g_lock;
char g_boot_id[37];  // made once, on first read
int g_overcommit;

void make_uuid(char* out) {
  uint8_t b[16];
  random_bytes(b, sizeof(b));
  b[6] = uint8_t((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = uint8_t((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static const char hex[] = "0123456789abcdef";
  size_t k = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[k++] = '-';
    out[k++] = hex[b[i] >> 4];
    out[k++] = hex[b[i] & 15];
  }
  out[k] = 0;
}

// Seconds with two decimals, as uptime and loadavg print them.
void centi(Text& out, uint64_t ns) { out.f("{}.{:02}", ns / 1'000'000'000, (ns / 10'000'000) % 100); }

}  // namespace

Result<void> show_cpuinfo(uint64_t, Text& out) {
  const CpuFeatures& f = cpu_features();
  uint32_t n = cpu_count();
  uint64_t khz = tsc_khz();
  for (uint32_t i = 0; i < n; ++i) {
    PerCpu* c = cpu_by_index(i);
    uint32_t apic = c ? c->apic_id : i;
    out.f("processor\t: {}\nvendor_id\t: {}\ncpu family\t: {}\nmodel\t\t: {}\nmodel name\t: {}\nstepping\t: {}\n", i,
          f.vendor, f.family, f.model, f.brand[0] ? f.brand : "QEMU Virtual CPU", f.stepping);
    out.f("cpu MHz\t\t: {}.{:03}\ncache size\t: 512 KB\nphysical id\t: 0\nsiblings\t: {}\ncore id\t\t: {}\n", khz / 1000,
          khz % 1000, n, i);
    out.f("cpu cores\t: {}\napicid\t\t: {}\ninitial apicid\t: {}\nfpu\t\t: yes\nfpu_exception\t: yes\n", n, apic, apic);
    out.f("cpuid level\t: {}\nwp\t\t: yes\nflags\t\t: ", f.max_leaf);
    cpu_flags(out);
    uint64_t bogo = khz * 2;  // kHz * 2 / 1000 = BogoMIPS with two decimals
    out.f("\nbugs\t\t:\nbogomips\t: {}.{:02}\nTLB size\t: 1024 4K pages\nclflush size\t: 64\n", bogo / 1000,
          (bogo % 1000) / 10);
    out.str("cache_alignment\t: 64\naddress sizes\t: 48 bits physical, 48 bits virtual\npower management:\n\n");
  }
  return {};
}

Result<void> show_meminfo(uint64_t, Text& out) {
  MemoryStats m = memory_stats();
  uint64_t total = m.total_bytes / 1024, free = m.free_bytes / 1024;
  auto row = [&](const char* name, uint64_t kb) { out.f("{:<16}{:>8} kB\n", name, kb); };
  row("MemTotal:", total);
  row("MemFree:", free);
  row("MemAvailable:", free);
  row("Buffers:", 0);
  row("Cached:", 0);
  row("SwapCached:", 0);
  row("Active:", total - free);
  row("Inactive:", 0);
  row("Active(anon):", total - free);
  row("Inactive(anon):", 0);
  row("Active(file):", 0);
  row("Inactive(file):", 0);
  row("Unevictable:", 0);
  row("Mlocked:", 0);
  row("SwapTotal:", 0);
  row("SwapFree:", 0);
  row("Dirty:", 0);
  row("Writeback:", 0);
  row("AnonPages:", total - free);
  row("Mapped:", 0);
  row("Shmem:", 0);
  row("KReclaimable:", 0);
  row("Slab:", m.heap_bytes / 1024);
  row("SReclaimable:", 0);
  row("SUnreclaim:", m.heap_bytes / 1024);
  row("KernelStack:", 0);
  row("PageTables:", 0);
  row("NFS_Unstable:", 0);
  row("Bounce:", 0);
  row("WritebackTmp:", 0);
  row("CommitLimit:", total);
  row("Committed_AS:", total - free);
  row("VmallocTotal:", 34359738367);
  row("VmallocUsed:", 0);
  row("VmallocChunk:", 0);
  row("HardwareCorrupted:", 0);
  row("AnonHugePages:", 0);
  row("ShmemHugePages:", 0);
  row("ShmemPmdMapped:", 0);
  out.f("HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\nHugePages_Surp:        0\n");
  row("Hugepagesize:", 2048);
  row("Hugetlb:", 0);
  row("DirectMap4k:", 0);
  row("DirectMap2M:", total);
  return {};
}

namespace {
// The CPU time of every process's threads.
uint64_t busy_ns() {
  uint64_t sum = 0;
  process_for_each([](Process& p, void* ctx) { *static_cast<uint64_t*>(ctx) += signal_process_cpu_ns(p); }, &sum);
  return sum;
}
}  // namespace

// The processes' CPU time is all "user"; the rest of each CPU's time since
// boot is idle.
Result<void> show_sys_stat(uint64_t, Text& out) {
  uint32_t n = cpu_count();
  uint64_t up = uptime_ns() / TICK_NS;
  uint64_t busy = busy_ns() / TICK_NS;
  uint64_t idle_all = up * n > busy ? up * n - busy : 0;
  out.f("cpu  {} 0 0 {} 0 0 0 0 0 0\n", busy, idle_all);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t b = busy / n + (i < busy % n ? 1 : 0);
    out.f("cpu{} {} 0 0 {} 0 0 0 0 0 0\n", i, b, up > b ? up - b : 0);
  }
  Process* p = current_process();
  uint64_t btime = uint64_t(realtime_offset_ns() / 1'000'000'000);
  out.f("intr 0\nctxt 0\nbtime {}\nprocesses 1\nprocs_running {}\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
        btime, p ? p->thread_count.load() : 1);
  return {};
}

Result<void> show_uptime(uint64_t, Text& out) {
  uint64_t up = uptime_ns();
  uint64_t busy = busy_ns();
  uint64_t all = up * cpu_count();
  centi(out, up);
  out.put(' ');
  centi(out, all > busy ? all - busy : 0);
  out.put('\n');
  return {};
}

Result<void> show_loadavg(uint64_t, Text& out) {
  Process* p = current_process();
  uint32_t threads = p ? p->thread_count.load() : 1;
  out.f("0.00 0.00 0.00 1/{} {}\n", threads, p ? p->pid : 1);
  return {};
}

Result<void> show_filesystems(uint64_t, Text& out) {
  out.str("nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tramfs\nnodev\trootfs\n");
  return {};
}

Result<void> show_version(uint64_t, Text& out) {
  out.str("Linux version 6.1.0-capsule (capsule@capsule) (g++) #1 SMP Capsule 0.1\n");
  return {};
}

Result<void> show_hostname(uint64_t, Text& out) {
  char h[65];
  hostname(h);
  out.f("{}\n", h);
  return {};
}

// As sethostname(2) (a write of "name\n" sets "name"), but a longer name
// is cut to 64 bytes (Linux's proc_dostring), not refused.
Result<void> store_hostname(uint64_t, StringView data) {
  size_t n = data.size();
  if (n && data[n - 1] == '\n') --n;
  return set_hostname(data.data(), n > 64 ? 64 : n);
}

Result<void> show_domainname(uint64_t, Text& out) {
  char d[65];
  domainname(d);
  out.f("{}\n", d);
  return {};
}

// As store_hostname.
Result<void> store_domainname(uint64_t, StringView data) {
  size_t n = data.size();
  if (n && data[n - 1] == '\n') --n;
  return set_domainname(data.data(), n > 64 ? 64 : n);
}

Result<void> show_boot_id(uint64_t, Text& out) {
  char id[37];
  {
    SpinGuard g(g_lock);
    if (!g_boot_id[0]) make_uuid(g_boot_id);
    __builtin_memcpy(id, g_boot_id, sizeof(id));
  }
  out.f("{}\n", id);
  return {};
}

Result<void> show_uuid(uint64_t, Text& out) {
  char id[37];
  make_uuid(id);
  out.f("{}\n", id);
  return {};
}

Result<void> show_overcommit(uint64_t, Text& out) {
  out.f("{}\n", __atomic_load_n(&g_overcommit, __ATOMIC_RELAXED));
  return {};
}

// 0, 1 or 2, as vm.overcommit_memory takes (EINVAL otherwise). Kept and
// shown back; Capsule does not account commitments.
Result<void> store_overcommit(uint64_t, StringView data) {
  const uint32_t v = TRY(procfs::parse_write_sysctl_uint(data, 2));
  __atomic_store_n(&g_overcommit, int(v), __ATOMIC_RELAXED);
  return {};
}

// Linux takes the first character, or each one after a leading '_'. Only
// the keys that report are honoured: a program asking to crash ('c') or
// reboot ('b') the VM is told no in the log, as an unknown key is.
Result<void> store_sysrq_trigger(uint64_t, StringView data) {
  size_t i = 0, end = data.size() ? 1 : 0;
  if (data.size() && data[0] == '_') i = 1, end = data.size();
  for (; i < end; ++i) {
    const char k = data[i];
    if (k == 't' || k == 'w')
      thread_dump("requested by the program (/proc/sysrq-trigger)");
    else if (k != '\n')
      log_warn("sysrq: key '{}' is not supported (t or w: thread dump)", k);
  }
  return {};
}

}  // namespace capsule::linux_abi::proc
