#pragma once
// The kernel command line, parsed into typed settings (docs/cmdline.md).
//
//   [KERNEL OPTIONS] [-- PROGRAM [ARGS...]]
//
// Kernel options start with "--". Double quotes group words ("a b" is one
// word, \" and \\ escape). Tokens QEMU appends on its own
// (virtio_mmio.device=...) are recognized anywhere and kept apart.
// An unknown option, or a bad value, is an error with a message naming it.
#include <cstddef>
#include <cstdint>

#include "capsule/log.h"
#include "lib/string_view.h"

namespace capsule {

struct BootSettings {
  static constexpr size_t MAX_WORDS = 64;
  static constexpr size_t MAX_TESTS = 16;

  bool verbose = false;
  bool bootchart = false;
  bool strace = false;              // print every system call
  LogLevel log_level = LogLevel::Warn;
  uint64_t tsc_khz = 0;             // 0: not given
  bool tty = false;                 // --tty[=ROWSxCOLS]: the host's stdin is a terminal
  uint16_t tty_rows = 0, tty_cols = 0;
  size_t test_count = 0;
  StringView tests[MAX_TESTS];      // --test=NAME (repeatable; "all", "list")
  size_t argc = 0;                  // the program's argv (after "--")
  StringView argv[MAX_WORDS];
  size_t env_count = 0;             // --env=K=V
  StringView env[MAX_WORDS];
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
