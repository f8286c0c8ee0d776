#include "capsule/arch.h"
#include "capsule/mm.h"
namespace capsule {
void arch_init_boot_cpu() {}
}
