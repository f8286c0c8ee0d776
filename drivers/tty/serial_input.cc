// Serial console input (drivers/tty/serial_input.h). The UART's "received
// data available" interrupt [16550D datasheet: IER bit 0] only wakes the
// thread; the thread drains the receive FIFO (LSR bit 0) and feeds the
// tty in thread context, where the line discipline may sleep and signal.
#include "drivers/tty/serial_input.h"

#include "arch/x64/cpu/x64.h"
#include "arch/apic.h"
#include "arch/irq.h"
#include "lib/log.h"
#include "core/thread.h"
#include "drivers/tty.h"
#include "core/sync/wait_queue.h"

namespace capsule::tty {
namespace {

constexpr uint16_t COM1 = 0x3f8;
constexpr uint8_t COM1_IRQ = 4;

// Counts interrupts not yet looked at: a wake-up between the thread's last
// look at the UART and its sleep is not lost.
Semaphore g_irqs;

void on_irq(void*) {
  (void)x64::inb(COM1 + 2);  // IIR: acknowledges the interrupt identification
  g_irqs.up();
}

void serial_thread(void*) {
  uint8_t buf[64];
  for (;;) {
    size_t n = 0;
    while (n < sizeof(buf) && (x64::inb(COM1 + 5) & 1)) buf[n++] = x64::inb(COM1);
    size_t done = 0;
    while (done < n) {
      done += input(buf + done, n - done);
      if (done < n) thread_sleep_ns(1000000);  // the reader is behind: wait for room
    }
    if (n) continue;
    g_irqs.down();
  }
}

}  // namespace

void serial_input_start() {
  auto v = irq_vector_alloc();
  if (!v.ok()) return;
  if (!irq_register(v.value(), on_irq, nullptr).ok()) return;
  bool level = false, low = false;
  uint32_t gsi = isa_irq_to_gsi(COM1_IRQ, &level, &low);
  if (!ioapic_route(gsi, v.value(), lapic_id(), level, low).ok()) {
    log_warn("tty: cannot route the UART's interrupt (GSI {}): no serial input", gsi);
    return;
  }
  auto t = thread_create("serial-in", serial_thread, nullptr, ThreadOptions{.detached = true});
  if (!t.ok()) return;
  x64::outb(COM1 + 4, 0x0b);  // MCR: DTR, RTS, OUT2 (gates the IRQ line on PC UARTs)
  x64::outb(COM1 + 1, 0x01);  // IER: received data available
}

}  // namespace capsule::tty
