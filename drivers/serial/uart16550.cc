// 16550 UART on COM1 (0x3f8), polled output. Present on both microvm and
// q35. 115200 8N1; under QEMU the divisor is irrelevant but real UARTs and
// Firecracker's emulation want it programmed.
#include "arch/x64/cpu/x64.h"
#include "core/console.h"
#include "drivers/serial/uart16550.h"

namespace capsule {
namespace {

constexpr uint16_t COM1 = 0x3f8;
enum : uint16_t { THR = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5 };
constexpr uint8_t LSR_THR_EMPTY = 1 << 5;

void uart_write(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    while (!(x64::inb(COM1 + LSR) & LSR_THR_EMPTY)) x64::pause();
    x64::outb(COM1 + THR, uint8_t(s[i]));
  }
}

ConsoleOutput g_uart_output{uart_write};

}  // namespace

void uart16550_init() {
  x64::outb(COM1 + IER, 0x00);   // no interrupts (polled)
  x64::outb(COM1 + LCR, 0x80);   // DLAB on
  x64::outb(COM1 + THR, 0x01);   // divisor 1 = 115200
  x64::outb(COM1 + IER, 0x00);
  x64::outb(COM1 + LCR, 0x03);   // 8N1
  x64::outb(COM1 + FCR, 0xc7);   // FIFO on, cleared
  x64::outb(COM1 + MCR, 0x03);   // DTR, RTS
  console_register(&g_uart_output);
}

}  // namespace capsule
