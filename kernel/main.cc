// kernel_main: the C++ side of boot, called from arch/x64/boot/pvh_entry.S on
// the boot stack, in the higher half, interrupts off.
#include "arch/x64/cpu/x64.h"
#include "arch/acpi.h"
#include "arch/apic.h"
#include "arch/arch.h"
#include "arch/percpu.h"
#include "linux/process.h"
#include "core/mm/vma.h"
#include "core/console.h"
#include "core/lock_check.h"
#include "core/smp.h"
#include "arch/boot.h"
#include "kernel/bootchart.h"
#include "kernel/cmdline.h"
#include "kernel/disks.h"
#include "kernel/network.h"
#include "kernel/shares.h"
#include "arch/cpu.h"
#include "lib/ktest.h"
#include "lib/log.h"
#include "core/mm.h"
#include "lib/panic.h"
#include "arch/power.h"
#include "core/time.h"
#include "core/sched/thread.h"
#include "core/time/calendar.h"
#include "drivers/clock/cmos_rtc.h"
#include "drivers/clock/kvmclock.h"
#include "drivers/clock/pit.h"
#include "drivers/nvme.h"
#include "drivers/tty.h"
#include "drivers/serial/uart16550.h"
#include "drivers/virtio/transport.h"
#include "fs/overlay.h"
#include "fs/ramfs/ramfs.h"
#include "linux/exec_state.h"
#include "linux/fd_table.h"
#include "linux/notice.h"
#include "linux/file_common.h"
#include "linux/strace.h"
#include "linux/stats.h"
#include "linux/trace_dump.h"
#include "core/trace.h"
#include "linux/syscall.h"

extern "C" void (*__init_array_start[])();
extern "C" void (*__init_array_end[])();
extern "C" uintptr_t __stack_chk_guard;

namespace capsule {
namespace {

constexpr const char* VERSION = "0.1";
char g_cmdline_text[4096];
char g_cmdline_words[4096];
CmdlineResult g_cmdline;

void run_constructors() {
  for (auto* f = __init_array_start; f < __init_array_end; ++f) (*f)();
}

// Where the TSC rate came from, logged once the log is set up.
enum class TscSource { CommandLine, Kvmclock, Cpuid, Pit, Guess };
TscSource g_tsc_source;
PitCalibration g_pit;

// In order: the command line (--tsc-khz, which the CLI passes under TCG;
// --tsc-khz=0 means "not given"), kvmclock under KVM, CPUID 0x15/0x16/
// 0x40000010, the PIT, and a guess. docs/time.md.
uint64_t choose_tsc_khz(const BootSettings& s) {
  if (s.tsc_khz) {
    g_tsc_source = TscSource::CommandLine;
    return s.tsc_khz;
  }
  if (kvmclock_init_cpu(0)) {
    if (uint64_t khz = kvmclock_tsc_khz()) {
      g_tsc_source = TscSource::Kvmclock;
      return khz;
    }
  }
  if (cpu_features().tsc_khz_cpuid) {
    g_tsc_source = TscSource::Cpuid;
    return cpu_features().tsc_khz_cpuid;
  }
  g_pit = pit_calibrate_tsc();
  if (g_pit.tsc_khz) {
    g_tsc_source = TscSource::Pit;
    return g_pit.tsc_khz;
  }
  // No source: a guess keeps the log readable; docs/time.md explains.
  g_tsc_source = TscSource::Guess;
  return 2000000;
}

void log_tsc_source() {
  uint64_t khz = tsc_khz();
  switch (g_tsc_source) {
    case TscSource::CommandLine: log_debug("tsc: {} kHz from the command line", khz); break;
    case TscSource::Kvmclock: log_info("tsc: {} kHz from kvmclock (pvclock)", khz); break;
    case TscSource::Cpuid: log_info("tsc: {} kHz from CPUID", khz); break;
    case TscSource::Pit:
      log_info("tsc: calibrated against the PIT: {} kHz ({} of {} measurements accepted)", khz,
               g_pit.accepted, g_pit.attempts);
      break;
    case TscSource::Guess:
      log_warn("tsc: rate unknown ({}); guessing {} kHz: timers will be off (pass --tsc-khz)",
               g_pit.why, khz);
      break;
  }
}

uint64_t random_seed() {
  uint64_t v = x64::rdtsc() * 0x9e3779b97f4a7c15ull;
  if (cpu_features().rdrand) {
    uint64_t r;
    unsigned char ok;
    asm volatile("rdrand %0; setc %1" : "=r"(r), "=qm"(ok));
    if (ok) v ^= r;
  }
  return v;
}

void print_memory_summary() {
  MemoryStats m = memory_stats();
  kprint("memory: {} KiB total, {} KiB free, kernel {} KiB, heap {} KiB, reserved {} KiB\n",
         m.total_bytes / 1024, m.free_bytes / 1024, m.kernel_bytes / 1024, m.heap_bytes / 1024,
         m.reserved_bytes / 1024);
}

}  // namespace

extern "C" [[noreturn, gnu::no_stack_protector]] void kernel_main(uint32_t start_info_phys) {
  __stack_chk_guard = 0;  // set properly below, once CPUID is known
  debug_init();            // lib's log and panic print through core's console
  percpu_early_boot();     // before the first lock (SpinLock notes its CPU)
  run_constructors();
  uart16550_init();
  cpu_detect_features();
  __stack_chk_guard = random_seed();

  auto* si = static_cast<const HvmStartInfo*>(phys_to_virt(start_info_phys));
  if (si->magic != HVM_START_MAGIC) {
    kprint("capsule: not booted through PVH (start info magic {:#x})\n", si->magic);
    power_off(2);
  }
  if (si->cmdline_paddr) {
    const char* src = static_cast<const char*>(phys_to_virt(si->cmdline_paddr));
    size_t n = 0;
    while (src[n] && n + 1 < sizeof(g_cmdline_text)) {
      g_cmdline_text[n] = src[n];
      ++n;
    }
  }
  parse_cmdline(g_cmdline_text, g_cmdline_words, sizeof(g_cmdline_words), g_cmdline);
  const BootSettings& settings = g_cmdline.settings;
  panic_hold_for_debugger(settings.gdb);
  time_early_init(boot_tsc_early, choose_tsc_khz(settings));
  if (!g_cmdline.ok) {
    kprint("capsule: bad kernel command line: {}\n", g_cmdline.error);
    power_off(2);
  }
  log_set_level(settings.log_level);
  bootchart_mark("firmware-to-main");
  log_info("capsule {}: command line \"{}\"", VERSION, g_cmdline_text);
  if (settings.verbose) cpu_report_features();
  log_tsc_source();

  arch_init_boot_cpu();
  bootchart_mark("cpu-tables");
  mm_init(si);
  // The shared page of zeros (holes and untouched pages map it) is taken
  // now, not by the first address space: it is part of the kernel's own
  // memory, outside any later free-page accounting.
  (void)mm::zero_page_phys();
  bootchart_mark("memory");
  if (auto r = acpi_init(si->rsdp_paddr); !r.ok())
    log_warn("acpi: not available ({}): power-off falls back to isa-debug-exit", error_name(r.error()));
  power_init();
  mm_release_low_memory();  // ACPI's tables are read: low RAM can go to the allocator
  bootchart_mark("acpi");
  if (auto rtc = cmos_rtc_read_unix(); rtc.ok()) {
    time_set_realtime(rtc.value() * 1000000000);
    CivilTime t = unix_to_civil(rtc.value());
    log_info("rtc: {}-{:02}-{:02} {:02}:{:02}:{:02} UTC", t.year, t.month, t.day, t.hour, t.minute, t.second);
  } else {
    log_warn("rtc: no wall clock ({}); realtime starts at the epoch", error_name(rtc.error()));
  }
  bootchart_mark("rtc");
  const uint8_t* initrd_bytes = nullptr;
  size_t initrd_size = 0;
  if (si->nr_modules && si->modlist_paddr) {
    auto* mod = static_cast<const HvmModlistEntry*>(phys_to_virt(si->modlist_paddr));
    initrd_bytes = static_cast<const uint8_t*>(phys_to_virt(mod->paddr));
    initrd_size = mod->size;
  }
  linux_abi::syscalls_init();
  if (settings.syscall_probe) x64::syscall_probe_enable();  // before the APs start: all CPUs
  const char* strace_why = nullptr;
  if (!linux_abi::strace::configure(settings.strace, settings.strace_filter, settings.strace_summary, &strace_why)
           .ok()) {
    kprint("capsule: --strace-filter={}: {}\n", settings.strace_filter, strace_why);
    power_off(2);
  }
  linux_abi::strace_enable(linux_abi::strace::active());
  linux_abi::stats::configure(settings.stats);
  if (settings.trace) {
    const StringView g = settings.trace_groups.empty() ? StringView("all") : settings.trace_groups;
    const uint32_t groups = trace::parse_groups(g.data(), g.size());
    if (!groups) {
      kprint("capsule: --trace={}: unknown event group (sched, fault, syscall, block, net, proc, all)\n", g);
      power_off(2);
    }
    linux_abi::trace_dump::configure(groups, settings.trace_buffer_kib * 1024);
  }
  linux_abi::log_missing_enable(settings.log_missing);

  percpu_init_boot();
  cpu_init_features();
  const AcpiInfo& acpi = acpi_info();
  if (auto r = lapic_init(acpi.lapic_address ? acpi.lapic_address : 0xfee00000); !r.ok())
    panic("lapic: cannot map the local APIC: {}", error_name(r.error()));
  if (auto r = ioapic_init(); !r.ok()) log_warn("ioapic: none ({})", error_name(r.error()));
  hung_task_configure(settings.hung_task_s, settings.cpu_stall_s, settings.hung_task_panic);
  sched_init_boot();
#ifdef CAPSULE_DEBUG_KERNEL
  lock_check_start(settings.irq_off_max_ms * 1000);  // docs/debug-kernel.md
#endif
  bootchart_mark("scheduler");
  // Devices: a virtio-console takes the program's stdio (docs/console.md).
  virtio::virtio_init();
  nvme::nvme_init();  // NVMe disks on q35 (docs/block.md)
  network_start(settings);  // DHCP runs meanwhile (docs/net_device.md)
  tty::init(settings.tty, settings.tty_rows, settings.tty_cols, settings.tty_one_output);
  bootchart_mark("devices");
  // The root file system: a ramfs filled from the initrd (zero-copy; the
  // archive's one parse), and the process's descriptors over it. A bad
  // archive has printed why.
  // With --root-disk the root is a union: the initrd's ramfs written over
  // the disk's ext4, which disks_mount adds once requests can sleep
  // (docs/overlay.md "A disk root").
  ramfs::RootWrap wrap = nullptr;
  if (!settings.root_disk.empty())
    wrap = [](RefPtr<ramfs::Ramfs> fs) { return overlay::create(fs->root(), vfs::VnodeRef()); };
  if (auto r = ramfs::mount_boot_root(initrd_bytes, initrd_size, wrap); !r.ok()) {
    if (r.error() == Error::BadFormat)
      kprint("capsule: the initrd is unusable; stopping\n");
    else
      kprint("capsule: cannot mount the root file system ({}); stopping\n", error_name(r.error()));
    power_off(2);
  }
  // pid 1: the process the program runs in (linux/process_table.cc).
  auto init_r = process_create();
  if (!init_r.ok()) {
    kprint("capsule: cannot create the first process ({}); stopping\n", error_name(init_r.error()));
    power_off(2);
  }
  Process& init = *init_r.value();
  if (auto r = linux_abi::files_init(init); !r.ok()) {
    kprint("capsule: cannot set up the file descriptors ({}); stopping\n", error_name(r.error()));
    power_off(2);
  }
  mount_shares(settings);  // --share: host directories over 9P, after /proc's table starts
  x64::sti();
  bootchart_mark("root-fs");
  disks_mount(settings);  // --disk: needs interrupts (requests sleep until the device answers)
  smp_set_cpu_clock_init([](unsigned cpu) { (void)kvmclock_init_cpu(cpu); });  // under KVM
  smp_boot_aps();
  bootchart_mark("smp");

  // With a program to run, the console is the program's: the banner only
  // with --verbose.
  if (!settings.argc || settings.verbose) {
    kprint("Capsule {} (x86-64) on {} {}, {} kHz TSC\n", VERSION, cpu_features().vendor,
           cpu_features().hypervisor[0] ? cpu_features().hypervisor : "bare metal", tsc_khz());
    print_memory_summary();
  }

  if (settings.test_count) {
    int failed = 0;
    for (size_t i = 0; i < settings.test_count; ++i) {
      int r = ktest_run(settings.tests[i]);
      failed += r < 0 ? 1 : r;
    }
    power_off(failed ? 1 : 0);
  }

  network_ready();
  bootchart_mark("ready");
  if (settings.argc) {
    if (settings.bootchart) bootchart_print();
    if (!settings.cwd.empty()) {
      // --cwd=DIR: the working directory the program starts in, as a shell's
      // `cd DIR && exec PROGRAM` would leave it (a relative PROGRAM is found
      // from there too).
      linux_abi::Ctx ctx = linux_abi::process_ctx(init);
      auto dir = vfs::kernel_vfs()->resolve(ctx.pc(), settings.cwd, vfs::WALK_FOLLOW | vfs::WALK_DIRECTORY);
      if (!dir.ok() || !dir.value()->is_dir()) {
        kprint("capsule: --cwd={}: {}\n", settings.cwd,
               dir.ok() ? "not a directory" : error_name(dir.error()));
        power_off(2);
      }
      linux_abi::set_cwd(init, static_cast<vfs::VnodeRef&&>(dir.value()));
    }
    // `-- a ; b ; c`: a runs now; b replaces it when it exits with 0, and
    // so on (linux/sys_exec.cc). The program is found from the working
    // directory, as execve would.
    linux_abi::exec_set_sequence(init, settings.argv, settings.command_argc, settings.command_count,
                                 settings.env, settings.env_count);
    linux_abi::Ctx ctx = linux_abi::process_ctx(init);
    ExecArgs ea{settings.argv[0], settings.argv, settings.command_argc[0], settings.env, settings.env_count};
    ea.root = ctx.root.get();
    ea.cwd = ctx.cwd.get();
    linux_abi::stats::program_starting();  // --stats: the wall clock and the time accounting
    linux_abi::trace_dump::program_starting();  // --trace: the rings, recording from here
    auto r = process_exec(init, ea);
    ctx = linux_abi::Ctx();
    if (!r.ok()) linux_abi::start_failed(settings.argv[0], r.error());
    thread_exit();  // the boot thread's work is done; the application runs
  }
  if (settings.bootchart) {
    bootchart_print();
  } else {
    uint64_t us = boot_elapsed_ns() / 1000;
    kprint("booted in {}.{:03} ms\n", us / 1000, us % 1000);
  }
  power_off(0);
}

}  // namespace capsule
