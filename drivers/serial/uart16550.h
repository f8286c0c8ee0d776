#pragma once
namespace capsule {
// Programs COM1 and registers it as a console output.
void uart16550_init();
}
