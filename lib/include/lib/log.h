#pragma once
// Kernel log: levelled, timestamped lines on the console.
//   log_info("mm: {} MiB free", n);   ->  "[    0.001234] mm: 118 MiB free"
// Lines below the current level are dropped before formatting. The default
// level is Warn (quiet boots are fast boots); --verbose sets Debug.
#include "lib/format.h"

namespace capsule {

enum class LogLevel : int { Debug = 0, Info = 1, Warn = 2, Error = 3, None = 4 };

// Where the log goes: the kernel's console, which core registers first
// thing at boot (debug_init, core/debug/log.cc). Until then nothing is
// printed. lib keeps the level; the output formats and writes.
struct LogOutput {
  // One timestamped line at `level` (already past the level check).
  void (*line)(LogLevel level, StringView fmt, const FormatArg* args, size_t n);
  // kprint: the text as it is.
  void (*print)(StringView fmt, const FormatArg* args, size_t n);
};
void log_set_output(const LogOutput* out);

void log_set_level(LogLevel level);
LogLevel log_level();
void log_vwrite(LogLevel level, StringView fmt, const FormatArg* args, size_t n);

template <typename... Args>
void log(LogLevel level, StringView fmt, const Args&... args) {
  if (level < log_level()) return;
  if constexpr (sizeof...(Args) == 0) {
    log_vwrite(level, fmt, nullptr, 0);
  } else {
    const FormatArg list[] = {detail::make_arg(args)...};
    log_vwrite(level, fmt, list, sizeof...(Args));
  }
}

template <typename... A> void log_debug(StringView f, const A&... a) { log(LogLevel::Debug, f, a...); }
template <typename... A> void log_info(StringView f, const A&... a) { log(LogLevel::Info, f, a...); }
template <typename... A> void log_warn(StringView f, const A&... a) { log(LogLevel::Warn, f, a...); }
template <typename... A> void log_error(StringView f, const A&... a) { log(LogLevel::Error, f, a...); }

// Unconditional console output without a timestamp (banners, bootchart,
// test results that the host parses).
void kprint_v(StringView fmt, const FormatArg* args, size_t n);
template <typename... Args>
void kprint(StringView fmt, const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    kprint_v(fmt, nullptr, 0);
  } else {
    const FormatArg list[] = {detail::make_arg(args)...};
    kprint_v(fmt, list, sizeof...(Args));
  }
}

}  // namespace capsule
