// Capsule's lines on the program's standard error (linux/notice.h).
#include "linux/notice.h"

#include "arch/power.h"
#include "core/io_buffer.h"
#include "core/mm.h"
#include "drivers/tty.h"
#include "lib/log.h"

namespace capsule::linux_abi {

namespace {

constexpr uint64_t MIB = 1 << 20;

// The guest's memory as --mem spelled it: the firmware's usable RAM is a
// little less (the BIOS area, ACPI tables: under 1 MiB), so round up.
uint64_t guest_mib() { return (memory_stats().total_bytes + MIB - 1) / MIB; }

}  // namespace

void notice_v(StringView fmt, const FormatArg* args, size_t n) {
  char line[256];
  BufferSink sink(line, sizeof(line) - 1);
  format_string(sink, FormatSpec{}, "capsule: ");
  vformat(sink, fmt, args, n);
  size_t len = sink.length() < sizeof(line) - 1 ? sink.length() : sizeof(line) - 2;
  line[len++] = '\n';
  kprint("{}", StringView(line, len));
  KernelBuffer buf(line, len);
  (void)tty::write(tty::Stream::Err, buf);  // a closed stderr loses only the line
}

void notice_out_of_memory(StringView what, StringView outcome) {
  uint64_t mib = guest_mib();
  uint64_t more = (2 * mib + 15) / 16 * 16;
  notice("out of memory {} (guest memory {} MiB, {} KiB free): {}; run with more memory, e.g. --mem {}M", what,
         mib, memory_stats().free_bytes / 1024, outcome, more);
}

void start_failed(StringView program, Error e) {
  if (e == Error::NoMemory) {
    char what[160];
    size_t n = format_to(what, sizeof(what), "starting {}", program);
    notice_out_of_memory(StringView(what, n < sizeof(what) ? n : sizeof(what) - 1), "it cannot run");
  } else {
    notice("{}: {}", program, error_name(e));
  }
  // Shell conventions: 127 not found, 126 found but cannot run.
  power_off(e == Error::NotFound ? 127 : 126);
}

}  // namespace capsule::linux_abi
