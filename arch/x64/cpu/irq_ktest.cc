// In-kernel tests of the vector allocator and IRQ dispatch. The vectors are
// raised with INT n, which takes the same stub and IST path as a device
// interrupt.
#include "arch/irq.h"
#include "lib/ktest.h"

namespace capsule {
namespace {

constexpr uint8_t TEST_VECTOR = 0xf0;  // raised with "int $0xf0" below

uint8_t g_eoi_vector;
unsigned g_eoi_calls;
void record_eoi(uint8_t v) {
  g_eoi_vector = v;
  ++g_eoi_calls;
}

void count_calls(void* ctx) { ++*static_cast<unsigned*>(ctx); }

}  // namespace

KTEST(irq_vector_alloc_free) {
  auto a = irq_vector_alloc();
  KEXPECT(a.ok());
  uint8_t v = a.value_or(0);
  KEXPECT(v >= IRQ_VECTOR_FIRST && v < IRQ_VECTOR_SPURIOUS);
  KEXPECT(irq_vector_allocated(v));
  KEXPECT(irq_vector_reserve(v).error() == Error::Busy);
  irq_vector_free(v);
  KEXPECT(!irq_vector_allocated(v));
  KEXPECT(irq_vector_reserve(v).ok());
  irq_vector_free(v);
  KEXPECT(irq_vector_reserve(14).error() == Error::Invalid);
  KEXPECT(irq_vector_reserve(IRQ_VECTOR_SPURIOUS).error() == Error::Invalid);
  KEXPECT(irq_register(v, count_calls, nullptr).error() == Error::Invalid);  // freed
}

KTEST(irq_vector_exhaustion) {
  uint8_t got[256];
  unsigned n = 0;
  for (;;) {
    auto r = irq_vector_alloc();
    if (!r.ok()) {
      KEXPECT(r.error() == Error::Busy);
      break;
    }
    got[n++] = r.value_or(0);
    if (n == 256) break;
  }
  // 32..254 at most; some may already belong to drivers.
  KEXPECT(n > 0 && n <= IRQ_VECTOR_SPURIOUS - IRQ_VECTOR_FIRST);
  for (unsigned i = 0; i < n; ++i) irq_vector_free(got[i]);
  auto again = irq_vector_alloc();
  KEXPECT(again.ok());
  if (again.ok()) irq_vector_free(again.value_or(0));
}

KTEST(irq_dispatch_calls_handler_and_eoi) {
  KEXPECT(irq_vector_reserve(TEST_VECTOR).ok());
  unsigned calls = 0;
  KEXPECT(irq_register(TEST_VECTOR, count_calls, &calls).ok());
  KEXPECT(irq_register(TEST_VECTOR, count_calls, &calls).error() == Error::Exists);
  IrqEoiHook previous = irq_set_eoi_hook(record_eoi);
  g_eoi_calls = 0;
  asm volatile("int $0xf0" ::: "memory");
  KEXPECT(calls == 1);
  KEXPECT(g_eoi_calls == 1 && g_eoi_vector == TEST_VECTOR);

  // Without a handler: counted, logged once, ignored, still acknowledged.
  irq_unregister(TEST_VECTOR);
  uint64_t unexpected = irq_unexpected_count();
  asm volatile("int $0xf0" ::: "memory");
  asm volatile("int $0xf0" ::: "memory");
  KEXPECT(calls == 1);
  KEXPECT(irq_unexpected_count() == unexpected + 2);
  KEXPECT(g_eoi_calls == 3);
  irq_set_eoi_hook(previous);
  irq_vector_free(TEST_VECTOR);
}

// The stub must give back every general register as it found it.
KTEST(irq_stub_preserves_registers) {
  KEXPECT(irq_vector_reserve(TEST_VECTOR).ok());
  unsigned calls = 0;
  KEXPECT(irq_register(TEST_VECTOR, count_calls, &calls).ok());
  uint64_t a = 0xa1, b = 0xb2, c = 0xc3, d = 0xd4, si = 0x5e, di = 0xd1;
  register uint64_t r8 asm("r8") = 0x808;
  register uint64_t r9 asm("r9") = 0x909;
  register uint64_t r10 asm("r10") = 0x1010;
  register uint64_t r11 asm("r11") = 0x1111;
  register uint64_t r12 asm("r12") = 0x1212;
  register uint64_t r13 asm("r13") = 0x1313;
  register uint64_t r14 asm("r14") = 0x1414;
  register uint64_t r15 asm("r15") = 0x1515;
  uint64_t flags_before, flags_after;
  asm volatile(
      "pushfq; popq %[fb]\n\t"
      "int $0xf0\n\t"
      "pushfq; popq %[fa]"
      : [fb] "=&m"(flags_before), [fa] "=m"(flags_after), "+a"(a), "+b"(b), "+c"(c), "+d"(d),
        "+S"(si), "+D"(di), "+r"(r8), "+r"(r9), "+r"(r10), "+r"(r11), "+r"(r12), "+r"(r13),
        "+r"(r14), "+r"(r15)
      :
      : "memory");
  KEXPECT(calls == 1);
  KEXPECT(a == 0xa1 && b == 0xb2 && c == 0xc3 && d == 0xd4 && si == 0x5e && di == 0xd1);
  KEXPECT(r8 == 0x808 && r9 == 0x909 && r10 == 0x1010 && r11 == 0x1111);
  KEXPECT(r12 == 0x1212 && r13 == 0x1313 && r14 == 0x1414 && r15 == 0x1515);
  KEXPECT(flags_before == flags_after);
  irq_unregister(TEST_VECTOR);
  irq_vector_free(TEST_VECTOR);
}

}  // namespace capsule
