#pragma once
// What core/ needs from the architecture layer (arch/x64).
#include <cstdint>

namespace capsule {

// GDT, TSS with IST stacks, IDT with every exception and IRQ vector.
void arch_init_boot_cpu();

}  // namespace capsule
