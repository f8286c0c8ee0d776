#pragma once
// Interrupt vectors 32..255: allocation and handlers (arch/x64/cpu/irq.cc).
//
//   uint8_t v = TRY(irq_vector_alloc());      // e.g. for an MSI-X entry
//   TRY(irq_register(v, on_rx, queue));       // before unmasking the source
//   ... program the device / IOAPIC / MSI with v ...
//   irq_unregister(v); irq_vector_free(v);    // after masking it
//
// Handlers run on the IST stack with interrupts off; they must be short and
// must not sleep or fault. A vector with no handler is logged once and
// otherwise ignored. After the handler, the EOI hook (installed by the LAPIC
// driver) acknowledges the interrupt.
#include <cstdint>

#include "lib/result.h"

namespace capsule {

constexpr unsigned IRQ_VECTOR_FIRST = 32;    // 0..31 are CPU exceptions
constexpr unsigned IRQ_VECTOR_LAST = 255;
constexpr uint8_t IRQ_VECTOR_SPURIOUS = 0xff;  // reserved for the LAPIC's spurious vector

using IrqHandler = void (*)(void* context);
using IrqEoiHook = void (*)(uint8_t vector);

// Any free vector (Error::Busy when none is left), or a chosen one
// (Error::Busy if taken, Error::Invalid outside 32..254).
Result<uint8_t> irq_vector_alloc();
Result<void> irq_vector_reserve(uint8_t vector);
void irq_vector_free(uint8_t vector);
bool irq_vector_allocated(uint8_t vector);

// Error::Invalid for a vector not allocated, Error::Exists if it already has
// a handler.
Result<void> irq_register(uint8_t vector, IrqHandler handler, void* context);
void irq_unregister(uint8_t vector);

// The LAPIC driver installs its EOI write here; nullptr means none (no
// interrupt controller yet). Returns the previous hook.
IrqEoiHook irq_set_eoi_hook(IrqEoiHook hook);

// Count of interrupts that arrived on a vector without a handler.
uint64_t irq_unexpected_count();

// Called by the trap dispatcher for vectors 32..255.
void irq_dispatch(uint8_t vector);

}  // namespace capsule
