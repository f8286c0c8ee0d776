#pragma once
// Console input from the 16550 UART (COM1) when no virtio-console device
// carries stdin: the receive interrupt wakes a thread that hands the bytes
// to the tty (drivers/tty/serial_input.cc).
namespace capsule::tty {
void serial_input_start();
}
