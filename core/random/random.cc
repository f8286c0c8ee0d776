#include "core/random.h"

#include "arch/x64/cpu/x64.h"
#include "arch/cpu.h"
#include "arch/spinlock.h"
#include "lib/thread_annotations.h"

namespace capsule {
namespace {

SpinLock g_lock;
uint32_t g_key[8] GUARDED_BY(g_lock);
uint64_t g_counter GUARDED_BY(g_lock);
bool g_seeded GUARDED_BY(g_lock);

inline uint32_t rotl(uint32_t v, int c) { return (v << c) | (v >> (32 - c)); }

// RFC 8439 2.1: the quarter round.
inline void qr(uint32_t* s, int a, int b, int c, int d) {
  s[a] += s[b]; s[d] ^= s[a]; s[d] = rotl(s[d], 16);
  s[c] += s[d]; s[b] ^= s[c]; s[b] = rotl(s[b], 12);
  s[a] += s[b]; s[d] ^= s[a]; s[d] = rotl(s[d], 8);
  s[c] += s[d]; s[b] ^= s[c]; s[b] = rotl(s[b], 7);
}

// RFC 8439 2.3: one 64-byte block for (key, counter, nonce 0).
void chacha_block(const uint32_t key[8], uint64_t counter, uint32_t out[16]) {
  uint32_t s[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574,
                    key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
                    uint32_t(counter), uint32_t(counter >> 32), 0, 0};
  uint32_t w[16];
  for (int i = 0; i < 16; ++i) w[i] = s[i];
  for (int i = 0; i < 10; ++i) {
    qr(w, 0, 4, 8, 12); qr(w, 1, 5, 9, 13); qr(w, 2, 6, 10, 14); qr(w, 3, 7, 11, 15);
    qr(w, 0, 5, 10, 15); qr(w, 1, 6, 11, 12); qr(w, 2, 7, 8, 13); qr(w, 3, 4, 9, 14);
  }
  for (int i = 0; i < 16; ++i) out[i] = w[i] + s[i];
}

bool hw_random(uint64_t& v) {
  unsigned char ok = 0;
  if (cpu_features().rdseed) {
    for (int i = 0; i < 10 && !ok; ++i) asm volatile("rdseed %0; setc %1" : "=r"(v), "=qm"(ok));
  }
  if (!ok && cpu_features().rdrand) {
    for (int i = 0; i < 10 && !ok; ++i) asm volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
  }
  return ok;
}

void seed_locked() REQUIRES(g_lock) {
  g_lock.assert_held();
  for (int i = 0; i < 8; i += 2) {
    uint64_t v = 0;
    if (!hw_random(v)) v = x64::rdtsc() * 0x9e3779b97f4a7c15ull ^ (uint64_t(i) << 56);
    g_key[i] ^= uint32_t(v);
    g_key[i + 1] ^= uint32_t(v >> 32);
  }
  g_seeded = true;
}

}  // namespace

void random_bytes(void* out, size_t n) {
  auto* p = static_cast<uint8_t*>(out);
  SpinGuard g(g_lock);
  if (!g_seeded) seed_locked();
  uint32_t block[16];
  // First block re-keys the generator; the following ones are output.
  chacha_block(g_key, g_counter++, block);
  uint32_t key[8];
  for (int i = 0; i < 8; ++i) key[i] = g_key[i];
  for (int i = 0; i < 8; ++i) g_key[i] = block[i];
  while (n) {
    chacha_block(key, g_counter++, block);
    size_t k = n < 64 ? n : 64;
    __builtin_memcpy(p, block, k);
    p += k;
    n -= k;
  }
  for (auto& w : block) w = 0;
  for (auto& w : key) w = 0;
}

uint64_t x64_hwcap() { return x64::cpuid(1).edx; }

}  // namespace capsule
