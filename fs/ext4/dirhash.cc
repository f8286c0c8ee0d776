// Directory name hashes (fs/ext4/dirhash.h). Constants and rounds as the
// ext4 documentation's htree section and e2fsprogs' results define them;
// checked name by name against `debugfs dx_hash` in tests/unit.
#include "fs/ext4/dirhash.h"

namespace capsule::ext4 {
namespace {

inline uint32_t rol(uint32_t v, int s) { return (v << s) | (v >> (32 - s)); }

// A name's bytes as the hash sees them: sign-extended or not.
inline int32_t byte_at(const char* p, size_t i, bool unsig) {
  return unsig ? int32_t(uint8_t(p[i])) : int32_t(int8_t(p[i]));
}

// "Legacy": a running sum over the bytes, no seed.
uint32_t legacy(const char* name, size_t len, bool unsig) {
  uint32_t h0 = 0x12a3fe2d, h1 = 0x37abe8f9;
  for (size_t i = 0; i < len; ++i) {
    uint32_t h = h1 + (h0 ^ uint32_t(byte_at(name, i, unsig) * 7152373));
    if (h & 0x80000000u) h -= 0x7fffffff;
    h1 = h0;
    h0 = h;
  }
  return h0 << 1;
}

// Up to `words` 32-bit words from the next piece of the name: 4 bytes to
// a word, first byte highest, each word starting from a pad made of the
// remaining length; words past the name are the pad.
void pack(const char* p, size_t len, uint32_t* out, int words, bool unsig) {
  uint32_t pad = uint32_t(len) | (uint32_t(len) << 8);
  pad |= pad << 16;
  size_t take = len < size_t(words) * 4 ? len : size_t(words) * 4;
  uint32_t v = pad;
  int w = 0;
  for (size_t i = 0; i < take; ++i) {
    v = uint32_t(byte_at(p, i, unsig)) + (v << 8);
    if (i % 4 == 3) {
      out[w++] = v;
      v = pad;
    }
  }
  if (w < words) out[w++] = v;
  while (w < words) out[w++] = pad;
}

// MD4's three rounds cut to eight input words.
void half_md4(uint32_t buf[4], const uint32_t in[8]) {
  uint32_t a = buf[0], b = buf[1], c = buf[2], d = buf[3];
  auto f = [](uint32_t x, uint32_t y, uint32_t z) { return z ^ (x & (y ^ z)); };
  auto g = [](uint32_t x, uint32_t y, uint32_t z) { return (x & y) + ((x ^ y) & z); };
  auto h = [](uint32_t x, uint32_t y, uint32_t z) { return x ^ y ^ z; };
  constexpr uint32_t K2 = 013240474631u, K3 = 015666365641u;
  // Each step: a = rol(a + F(b, c, d) + word, shift), the four rotating.
  struct Step {
    uint8_t word, shift;
  };
  static constexpr Step r1[8] = {{0, 3}, {1, 7}, {2, 11}, {3, 19}, {4, 3}, {5, 7}, {6, 11}, {7, 19}};
  static constexpr Step r2[8] = {{1, 3}, {3, 5}, {5, 9}, {7, 13}, {0, 3}, {2, 5}, {4, 9}, {6, 13}};
  static constexpr Step r3[8] = {{3, 3}, {7, 9}, {2, 11}, {6, 15}, {1, 3}, {5, 9}, {0, 11}, {4, 15}};
  uint32_t* v[4] = {&a, &b, &c, &d};
  auto round = [&](const Step* steps, auto fn, uint32_t k) {
    for (int i = 0; i < 8; ++i) {
      // The targets rotate a, d, c, b: step i updates v[(4 - i) % 4].
      int t = (4 - i % 4) % 4;
      uint32_t& x = *v[t];
      uint32_t y = *v[(t + 1) % 4], z = *v[(t + 2) % 4], w = *v[(t + 3) % 4];
      x = rol(x + fn(y, z, w) + in[steps[i].word] + k, steps[i].shift);
    }
  };
  round(r1, f, 0);
  round(r2, g, K2);
  round(r3, h, K3);
  buf[0] += a;
  buf[1] += b;
  buf[2] += c;
  buf[3] += d;
}

// TEA, 16 rounds over the first two words of the state.
void tea(uint32_t buf[4], const uint32_t in[4]) {
  uint32_t sum = 0, b0 = buf[0], b1 = buf[1];
  for (int n = 0; n < 16; ++n) {
    sum += 0x9E3779B9u;
    b0 += ((b1 << 4) + in[0]) ^ (b1 + sum) ^ ((b1 >> 5) + in[1]);
    b1 += ((b0 << 4) + in[2]) ^ (b0 + sum) ^ ((b0 >> 5) + in[3]);
  }
  buf[0] += b0;
  buf[1] += b1;
}

}  // namespace

uint32_t dx_hash(DxHash version, const uint32_t seed[4], const char* name, size_t len) {
  uint32_t buf[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  if (seed[0] | seed[1] | seed[2] | seed[3])
    for (int i = 0; i < 4; ++i) buf[i] = seed[i];
  uint32_t hash;
  switch (version) {
    case DxHash::HalfMd4:
    case DxHash::HalfMd4Unsigned: {
      bool unsig = version == DxHash::HalfMd4Unsigned;
      uint32_t in[8];
      for (size_t off = 0; off < len; off += 32) {
        pack(name + off, len - off, in, 8, unsig);
        half_md4(buf, in);
      }
      hash = buf[1];
      break;
    }
    case DxHash::Tea:
    case DxHash::TeaUnsigned: {
      bool unsig = version == DxHash::TeaUnsigned;
      uint32_t in[4];
      for (size_t off = 0; off < len; off += 16) {
        pack(name + off, len - off, in, 4, unsig);
        tea(buf, in);
      }
      hash = buf[0];
      break;
    }
    case DxHash::LegacyUnsigned: hash = legacy(name, len, true); break;
    default: hash = legacy(name, len, false); break;
  }
  hash &= ~1u;
  if (hash == 0xFFFFFFFEu) hash = 0xFFFFFFFCu;
  return hash;
}

}  // namespace capsule::ext4
