#pragma once
// IpAddr: an address of either IP family in IPv6's 16 bytes (RFC 4291 2.5),
// network byte order. An IPv4 address is held as the IPv4-mapped
// ::ffff:a.b.c.d (RFC 4291 2.5.5.2), the form an AF_INET6 socket sees for
// an IPv4 peer, so the transports keep one kind of address and the one
// code path serves both families (docs/net.md "IPv6").
#include <cstddef>
#include <cstdint>

namespace capsule::net {

struct IpAddr {
  uint8_t b[16] = {};

  constexpr bool operator==(const IpAddr&) const = default;
  // ::ffff:a.b.c.d
  constexpr bool is_v4() const {
    for (int i = 0; i < 10; ++i)
      if (b[i]) return false;
    return b[10] == 0xff && b[11] == 0xff;
  }
  constexpr uint32_t v4() const { return uint32_t(b[12]) << 24 | uint32_t(b[13]) << 16 | uint32_t(b[14]) << 8 | b[15]; }
  static constexpr IpAddr mapped(uint32_t v4) {
    IpAddr a;
    a.b[10] = a.b[11] = 0xff;
    a.b[12] = uint8_t(v4 >> 24), a.b[13] = uint8_t(v4 >> 16), a.b[14] = uint8_t(v4 >> 8), a.b[15] = uint8_t(v4);
    return a;
  }
  // :: (in6addr_any)
  constexpr bool any() const {
    for (uint8_t x : b)
      if (x) return false;
    return true;
  }
  // The wildcard of either family: :: or ::ffff:0.0.0.0.
  constexpr bool wildcard() const { return any() || (is_v4() && v4() == 0); }
  // ::1
  constexpr bool loopback6() const {
    for (int i = 0; i < 15; ++i)
      if (b[i]) return false;
    return b[15] == 1;
  }
  constexpr bool multicast6() const { return b[0] == 0xff; }       // ff00::/8
  constexpr bool link_local6() const { return b[0] == 0xfe && (b[1] & 0xc0) == 0x80; }  // fe80::/10
  // An IPv4 broadcast or multicast, or an IPv6 multicast: no TCP, no
  // ICMP errors.
  constexpr bool multi_or_broadcast() const {
    if (is_v4()) return v4() == 0xffffffffu || (v4() >> 28) == 0xe;
    return multicast6();
  }
  // The first `prefix` bits are equal.
  constexpr bool same_prefix(const IpAddr& o, unsigned prefix) const {
    for (unsigned i = 0; i < 16 && prefix; ++i) {
      unsigned n = prefix >= 8 ? 8 : prefix;
      uint8_t m = uint8_t(0xff00 >> n);
      if ((b[i] & m) != (o.b[i] & m)) return false;
      prefix -= n;
    }
    return true;
  }
};

// RFC 5952's text of an IPv6 address into out (at least IP6_TEXT bytes,
// NUL-terminated): lower-case hex groups without leading zeros, the
// longest run of two or more zero groups (the first of equals) as "::".
// Returns the length.
inline constexpr size_t IP6_TEXT = 40;
inline size_t ip6_text(const IpAddr& a, char* out) {
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = uint16_t(a.b[2 * i] << 8 | a.b[2 * i + 1]);
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && !g[j]) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j == i ? i + 1 : j;
  }
  size_t n = 0;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out[n++] = ':', out[n++] = ':';
      i += best_len - 1;
      continue;
    }
    if (i && i != best + best_len) out[n++] = ':';
    bool lead = true;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned d = (g[i] >> shift) & 0xf;
      if (lead && !d && shift) continue;
      lead = false;
      out[n++] = "0123456789abcdef"[d];
    }
  }
  out[n] = 0;
  return n;
}

inline constexpr IpAddr IP6_ANY{};
inline constexpr IpAddr IP6_LOOPBACK{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
// ff02::1, all nodes on the link (RFC 4291 2.7.1).
inline constexpr IpAddr IP6_ALL_NODES{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
// ff02::2, all routers on the link.
inline constexpr IpAddr IP6_ALL_ROUTERS{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

}  // namespace capsule::net
