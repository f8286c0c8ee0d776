#include "core/console.h"

namespace capsule {
namespace {
ConsoleOutput* g_outputs = nullptr;
}

void console_register(ConsoleOutput* out) {
  out->next = g_outputs;
  g_outputs = out;
}

void console_write(const char* s, size_t n) {
  for (ConsoleOutput* o = g_outputs; o; o = o->next) o->write(s, n);
}

}  // namespace capsule
