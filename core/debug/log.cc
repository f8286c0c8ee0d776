// Kernel log. Each line is formatted into a stack buffer first and written
// with one console call under a lock, so lines from different CPUs never
// interleave. During a panic the lock is skipped: the fault being reported
// may have been taken while this CPU held it.
#include "core/console.h"
#include "core/debug/debug.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "core/time.h"
#include "arch/spinlock.h"

namespace capsule {
namespace {

SpinLock g_console_lock;

class LineSink final : public Sink {
 public:
  void put(char c) override {
    if (len_ == sizeof(buf_)) flush();
    buf_[len_++] = c;
  }
  void flush() {
    console_write(buf_, len_);
    len_ = 0;
  }

 private:
  char buf_[256];
  size_t len_ = 0;
};

const char* level_tag(LogLevel l) {
  switch (l) {
    case LogLevel::Debug: return "debug: ";
    case LogLevel::Warn: return "warning: ";
    case LogLevel::Error: return "error: ";
    default: return "";
  }
}

// The console lock, unless a panic is in progress.
class ConsoleGuard {
 public:
  ConsoleGuard() : locked_(!panic_in_progress()) {
    if (locked_) g_console_lock.lock();
  }
  ~ConsoleGuard() {
    if (locked_) g_console_lock.unlock();
  }
  ConsoleGuard(const ConsoleGuard&) = delete;
  ConsoleGuard& operator=(const ConsoleGuard&) = delete;

 private:
  IrqGuard irq_;
  bool locked_;
};

void log_line(LogLevel level, StringView fmt, const FormatArg* args, size_t n) {
  ConsoleGuard guard;
  LineSink sink;
  uint64_t ns = uptime_ns();
  format(sink, "[{:>5}.{:06}] {}", ns / 1000000000, (ns / 1000) % 1000000, level_tag(level));
  vformat(sink, fmt, args, n);
  sink.put('\n');
  sink.flush();
}

void print(StringView fmt, const FormatArg* args, size_t n) {
  ConsoleGuard guard;
  LineSink sink;
  vformat(sink, fmt, args, n);
  sink.flush();
}

const LogOutput g_log_output = {log_line, print};

}  // namespace

void debug::register_log_output() { log_set_output(&g_log_output); }

void debug_init() {
  debug::register_log_output();
  debug::register_panic_hooks();
}

}  // namespace capsule
