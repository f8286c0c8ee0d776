#include "capsule/arch.h"
#include "capsule/mm.h"
namespace capsule {
}
