#include "kernel/bootchart.h"
#include "lib/log.h"
#include "core/time.h"

namespace capsule {
namespace {
struct Mark {
  const char* phase;
  uint64_t ns;
};
Mark g_marks[32];
unsigned g_count;
}  // namespace

void bootchart_mark(const char* phase) {
  if (g_count < 32) g_marks[g_count++] = {phase, uptime_ns()};
}

uint64_t boot_elapsed_ns() { return g_count ? g_marks[g_count - 1].ns : 0; }

void bootchart_print() {
  uint64_t prev = 0;
  kprint("bootchart: {:<24} {:>10} {:>10}\n", "phase", "took(us)", "at(us)");
  for (unsigned i = 0; i < g_count; ++i) {
    kprint("bootchart: {:<24} {:>10} {:>10}\n", g_marks[i].phase, (g_marks[i].ns - prev) / 1000,
           g_marks[i].ns / 1000);
    prev = g_marks[i].ns;
  }
  uint64_t us = boot_elapsed_ns() / 1000;
  kprint("booted in {}.{:03} ms\n", us / 1000, us % 1000);
}

}  // namespace capsule
