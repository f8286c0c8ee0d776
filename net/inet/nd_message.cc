// Neighbor Discovery messages (net/inet/nd_message.h, RFC 4861).
#include "net/inet/nd_message.h"

#include "net/byte_order.h"

namespace capsule::net {
namespace {

constexpr uint8_t OPT_SLLA = 1, OPT_TLLA = 2, OPT_PREFIX = 3, OPT_MTU = 5, OPT_RDNSS = 25;

// RFC 4861 4.6: type, length in units of 8 bytes (0 is invalid), data.
bool parse_options(const uint8_t* p, size_t n, NdMessage& m) {
  size_t i = 0;
  while (i < n) {
    if (i + 2 > n) return false;
    const size_t olen = size_t(p[i + 1]) * 8;
    if (olen == 0 || i + olen > n) return false;
    const uint8_t* o = p + i;
    switch (o[0]) {
      case OPT_SLLA:
      case OPT_TLLA:
        if (olen != 8) return false;  // Ethernet: 6 bytes in one unit
        if (o[0] == OPT_SLLA) m.has_slla = true, __builtin_memcpy(m.slla, o + 2, 6);
        else m.has_tlla = true, __builtin_memcpy(m.tlla, o + 2, 6);
        break;
      case OPT_PREFIX:  // 4.6.2: 32 bytes
        if (olen != 32) return false;
        if (m.nprefixes < NdMessage::MAX_PREFIXES) {
          NdPrefix& x = m.prefixes[m.nprefixes++];
          x.len = o[2];
          x.on_link = o[3] & 0x80;
          x.autonomous = o[3] & 0x40;
          x.valid = load32(o + 4);
          x.preferred = load32(o + 8);
          __builtin_memcpy(x.prefix.b, o + 16, 16);
          if (x.len > 128) return false;
        }
        break;
      case OPT_MTU:
        if (olen != 8) return false;
        m.mtu = load32(o + 4);
        break;
      case OPT_RDNSS:  // RFC 8106 5.1: 8 + 16 per address
        if (olen < 24 || (olen - 8) % 16) return false;
        for (size_t k = 8; k < olen && m.ndns < NdMessage::MAX_DNS; k += 16) {
          m.dns_lifetime[m.ndns] = load32(o + 4);
          __builtin_memcpy(m.dns[m.ndns++].b, o + k, 16);
        }
        break;
      default: break;  // unknown: skipped
    }
    i += olen;
  }
  return true;
}

size_t put_lla(uint8_t* p, uint8_t type, const uint8_t mac[6]) {
  p[0] = type;
  p[1] = 1;
  __builtin_memcpy(p + 2, mac, 6);
  return 8;
}

}  // namespace

NdDrop nd_parse(const uint8_t* p, size_t len, uint8_t hop_limit, const IpAddr& src, const IpAddr& dst, NdMessage& m) {
  if (len < 8) return NdDrop::TooShort;
  const uint8_t type = p[0];
  if (type < ND_ROUTER_SOLICIT || type > ND_REDIRECT) return NdDrop::NotNd;
  if (hop_limit != 255) return NdDrop::HopLimit;
  if (p[1] != 0) return NdDrop::Code;
  static constexpr size_t MIN[] = {8, 16, 24, 24, 40};  // RS, RA, NS, NA, Redirect
  const size_t fixed = MIN[type - ND_ROUTER_SOLICIT];
  if (len < fixed) return NdDrop::TooShort;
  NdMessage t;
  t.type = type;
  switch (type) {
    case ND_ROUTER_ADVERT:
      if (!src.link_local6()) return NdDrop::BadSource;  // 6.1.2
      t.cur_hop_limit = p[4];
      t.router_lifetime = load16(p + 6);
      t.reachable_ms = load32(p + 8);
      t.retrans_ms = load32(p + 12);
      break;
    case ND_NEIGHBOR_SOLICIT:
    case ND_NEIGHBOR_ADVERT:
      __builtin_memcpy(t.target.b, p + 8, 16);
      if (t.target.multicast6()) return NdDrop::BadTarget;  // 7.1.1, 7.1.2
      if (type == ND_NEIGHBOR_ADVERT) {
        t.router = p[4] & 0x80;
        t.solicited = p[4] & 0x40;
        t.override_ = p[4] & 0x20;
        if (t.solicited && dst.multicast6()) return NdDrop::BadTarget;
      }
      break;
    default: break;
  }
  if (!parse_options(p + fixed, len - fixed, t)) return NdDrop::BadOption;
  // 7.1.1: DAD's NS (from ::) carries no source link-layer address.
  if (type == ND_NEIGHBOR_SOLICIT && src.any() && t.has_slla) return NdDrop::BadOption;
  m = t;
  return NdDrop::None;
}

size_t nd_build_ns(uint8_t* p, const IpAddr& target, const uint8_t* mac) {
  __builtin_memset(p, 0, 24);
  p[0] = ND_NEIGHBOR_SOLICIT;
  __builtin_memcpy(p + 8, target.b, 16);
  return mac ? 24 + put_lla(p + 24, OPT_SLLA, mac) : 24;
}

size_t nd_build_na(uint8_t* p, const IpAddr& target, const uint8_t mac[6], bool solicited, bool override_) {
  __builtin_memset(p, 0, 24);
  p[0] = ND_NEIGHBOR_ADVERT;
  p[4] = uint8_t((solicited ? 0x40 : 0) | (override_ ? 0x20 : 0));  // S, O (7.2.4)
  __builtin_memcpy(p + 8, target.b, 16);
  return 24 + put_lla(p + 24, OPT_TLLA, mac);
}

size_t nd_build_rs(uint8_t* p, const uint8_t mac[6]) {
  __builtin_memset(p, 0, 8);
  p[0] = ND_ROUTER_SOLICIT;
  return 8 + put_lla(p + 8, OPT_SLLA, mac);
}

IpAddr solicited_node(const IpAddr& a) {
  IpAddr s{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0}};
  s.b[13] = a.b[13], s.b[14] = a.b[14], s.b[15] = a.b[15];
  return s;
}

IpAddr eui64_address(const IpAddr& prefix, const uint8_t mac[6]) {
  // RFC 4291 2.5.1 / appendix A: the MAC split by ff:fe, the
  // universal/local bit inverted.
  IpAddr a = prefix;
  a.b[8] = uint8_t(mac[0] ^ 0x02), a.b[9] = mac[1], a.b[10] = mac[2], a.b[11] = 0xff;
  a.b[12] = 0xfe, a.b[13] = mac[3], a.b[14] = mac[4], a.b[15] = mac[5];
  return a;
}

void multicast_mac(const IpAddr& group, uint8_t mac[6]) {
  mac[0] = mac[1] = 0x33;
  mac[2] = group.b[12], mac[3] = group.b[13], mac[4] = group.b[14], mac[5] = group.b[15];
}

}  // namespace capsule::net
