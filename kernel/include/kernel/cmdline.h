#pragma once
// The kernel command line, parsed into typed settings (docs/cmdline.md).
//
//   [KERNEL OPTIONS] [-- PROGRAM [ARGS...] [; PROGRAM [ARGS...]]...]
//
// After "--", a lone ";" word separates commands that run one after the
// other in the same VM (docs/cmdline.md); "\\;" is a literal ";" argument
// (one backslash is removed from a word made of backslashes and a ";").
// Kernel options start with "--". Double quotes group words ("a b" is one
// word, \" and \\ escape). Tokens QEMU appends on its own
// (virtio_mmio.device=...) are recognized anywhere and kept apart.
// An unknown option, or a bad value, is an error with a message naming it.
#include <cstddef>
#include <cstdint>

#include "lib/log.h"
#include "lib/string_view.h"

namespace capsule {

// --disk=ID[:/MOUNTPOINT][:ro]: a block device (named by the identity the
// host gave it: QEMU's serial=, or its kernel name "vda") and where its file
// system goes (docs/block.md).
struct DiskSetting {
  StringView id;
  StringView mount;  // empty: attached, not mounted
  bool read_only = false;
};

struct BootSettings {
  static constexpr size_t MAX_WORDS = 256;
  static constexpr size_t MAX_DISKS = 16;
  static constexpr size_t MAX_COMMANDS = 32;
  static constexpr size_t MAX_TESTS = 16;

  bool verbose = false;
  bool bootchart = false;
  bool strace = false;              // print every system call (docs/strace.md)
  StringView strace_filter;         // --strace-filter=SET: the calls traced (empty: all)
  bool strace_summary = false;      // --strace-summary: a table of calls, errors, time at exit
  bool stats = false;               // --stats: counters and times at exit (docs/stats.md)
  bool trace = false;               // --trace[=GROUPS]: kernel tracepoints (docs/trace.md)
  StringView trace_groups;          // the groups (empty: all)
  uint64_t trace_buffer_kib = 1024; // --trace-buffer=KIB: each CPU's ring
  bool syscall_probe = false;       // --syscall-probe: syscall 1023 returns at once (bench/syscall)
  bool log_missing = false;         // print each call that fails with ENOENT, whole paths
  bool gdb = false;                 // --gdb: a panic halts for the debugger instead of powering off
  uint64_t hung_task_s = 120;       // --hung-task=S: report threads asleep without a timeout > S s (0: off)
  uint64_t cpu_stall_s = 20;        // --cpu-stall=S: report CPUs without ticks or switches > S s (0: off)
  // --irq-off-max-ms=MS: the debug kernel reports interrupts off longer
  // than this (docs/debug-kernel.md; 0: off). Generous for TCG, where a
  // vCPU can lose the host CPU for a while. The normal kernel ignores it.
  uint64_t irq_off_max_ms = 250;
  bool hung_task_panic = false;     // --hung-task-panic: panic at the first report
  LogLevel log_level = LogLevel::Warn;
  uint64_t tsc_khz = 0;             // 0: not given
  bool tty = false;                 // --tty[=ROWSxCOLS]: the host's stdin is a terminal
  uint16_t tty_rows = 0, tty_cols = 0;
  bool tty_one_output = false;      // --tty-one-output: stdout and stderr are one terminal on the host
  size_t test_count = 0;
  StringView tests[MAX_TESTS];      // --test=NAME (repeatable; "all", "list")
  size_t argc = 0;                  // the words after "--" without the ";" separators:
  StringView argv[MAX_WORDS];       // the commands' argvs one after the other
  size_t command_count = 0;         // commands (";"-separated); 1 for a plain program
  size_t command_argc[MAX_COMMANDS];  // argc of each command, in order
  size_t env_count = 0;             // --env=K=V
  StringView env[MAX_WORDS];
  StringView cwd;                   // --cwd=DIR: the program's working directory (empty: /)
  // --share=TAG:/DIR[:ro] (repeatable): a 9P device mounted on DIR (docs/9p.md);
  // --virtiofs=TAG:/DIR[:ro]: a virtio-fs device (docs/virtiofs.md).
  struct Share {
    StringView tag, dir;
    bool read_only = false;
    bool virtiofs = false;
  };
  static constexpr size_t MAX_SHARES = 16;
  size_t share_count = 0;
  Share shares[MAX_SHARES];
  // Static IPv4 set-up instead of DHCP (docs/net_device.md), host order.
  uint32_t net_ip = 0;              // --ip=A.B.C.D/PREFIX (0: DHCP)
  uint8_t net_prefix = 0;
  uint32_t net_gw = 0;              // --gw=A.B.C.D
  uint32_t net_dns = 0;             // --dns=A.B.C.D
  // Static IPv6 instead of SLAAC's address (docs/net_device.md), network order.
  uint8_t net_ip6[16] = {};         // --ip6=ADDR/PREFIX (prefix 0: SLAAC)
  uint8_t net_prefix6 = 0;
  uint8_t net_gw6[16] = {};         // --gw6=ADDR (zero: the RA's router)
  uint8_t net_dns6[16] = {};        // --dns=IPV6ADDR (zero: the RA's RDNSS)
  // --net-drop=PERCENT[,SEED[,rx|tx]]: a test option that drops IPv4
  // frames of the first NIC pseudo-randomly (docs/net_device.md "Loss").
  uint32_t net_drop_bp = 0;         // basis points, 0..10000 (0: none)
  uint64_t net_drop_seed = 1;
  bool net_drop_rx = true, net_drop_tx = true;
  // --root-disk=ID: the disk whose ext4 file system is the root's lower,
  // read-only layer, under a writable RAM layer (the initrd's ramfs):
  // docs/overlay.md "A disk root".
  StringView root_disk;
  size_t disk_count = 0;            // --disk=ID[:/MOUNTPOINT][:ro]
  DiskSetting disks[MAX_DISKS];
  size_t virtio_mmio_count = 0;     // virtio_mmio.device=SIZE@ADDR:IRQ
  StringView virtio_mmio[16];
};

struct CmdlineResult {
  bool ok = false;
  BootSettings settings;
  char error[160] = {};
};

// Parses `text` in place-free fashion: words are copied into `storage`
// (at least text.size() bytes), the settings point into it.
void parse_cmdline(StringView text, char* storage, size_t storage_size, CmdlineResult& out);

}  // namespace capsule
