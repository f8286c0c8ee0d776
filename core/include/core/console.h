#pragma once
// The kernel console: where log lines and panics go. Output drivers (the
// 16550 UART) register themselves; writes go to every registered output.
// The program's stdio is not here: it goes through the tty to
// virtio-console ports (docs/console.md), and the log stays on the serial
// port.
#include <cstddef>

namespace capsule {

struct ConsoleOutput {
  void (*write)(const char* s, size_t n);
  ConsoleOutput* next = nullptr;
};

// Makes lib's log, kprint and panic print through this console and power
// off the VM (they print nothing before): first thing in kernel_main.
void debug_init();

void console_register(ConsoleOutput* out);
void console_write(const char* s, size_t n);

}  // namespace capsule
