#pragma once
// The kernel console: where log lines and panics go. Output drivers (the
// 16550 UART today, virtio-console later) register themselves; writes go to
// every registered output.
#include <cstddef>

namespace capsule {

struct ConsoleOutput {
  void (*write)(const char* s, size_t n);
  ConsoleOutput* next = nullptr;
};

void console_register(ConsoleOutput* out);
void console_write(const char* s, size_t n);

}  // namespace capsule
