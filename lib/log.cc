// The log's level and its front door; the output (formatting a timestamped
// line and writing it to the console under the console lock) is core's,
// registered at boot through log_set_output (core/debug/log.cc).
#include "lib/log.h"

namespace capsule {
namespace {

LogLevel g_level = LogLevel::Warn;
const LogOutput* g_output = nullptr;

}  // namespace

void log_set_output(const LogOutput* out) { g_output = out; }

void log_set_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log_vwrite(LogLevel level, StringView fmt, const FormatArg* args, size_t n) {
  if (level < g_level || !g_output) return;
  g_output->line(level, fmt, args, n);
}

void kprint_v(StringView fmt, const FormatArg* args, size_t n) {
  if (g_output) g_output->print(fmt, args, n);
}

}  // namespace capsule
