// The four memory primitives the compiler may call on its own. Copies use
// `rep movsb`/`rep stosb`: fast on every CPU with ERMSB and short under TCG.
#include <cstddef>
#include <cstdint>

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
  void* ret = dst;
  asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
  return ret;
}

void* memset(void* dst, int c, size_t n) {
  void* ret = dst;
  // Large fills go 8 bytes a step: as fast as `rep stosb` on ERMSB hardware,
  // and far fewer iterations under TCG, which emulates string instructions
  // an element at a time (zeroing the page metadata of a 3 GiB guest: 14 ms
  // with stosb, 3.4 ms with stosq).
  if (n >= 256) {
    uint64_t pattern = uint64_t(uint8_t(c)) * 0x0101010101010101ull;
    size_t words = n / 8;
    asm volatile("rep stosq" : "+D"(dst), "+c"(words) : "a"(pattern) : "memory");
    n %= 8;
  }
  asm volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
  return ret;
}

void* memmove(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  // Overlapping with dst above src: copy backwards.
  d += n - 1;
  s += n - 1;
  asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  auto* x = static_cast<const unsigned char*>(a);
  auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; ++i)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

}  // extern "C"
