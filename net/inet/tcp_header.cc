// TCP header parsing and building (net/inet/tcp_header.h).
#include "net/inet/tcp_header.h"

#include "net/byte_order.h"

namespace capsule::net {

namespace {
constexpr uint8_t OPT_END = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WSCALE = 3;
}

bool tcp_parse(const uint8_t* p, size_t len, TcpSegment& s) {
  if (len < TCP_MIN_HEADER) return false;
  size_t doff = size_t(p[12] >> 4) * 4;
  if (doff < TCP_MIN_HEADER || doff > len) return false;
  s.sport = load16(p);
  s.dport = load16(p + 2);
  s.seq = load32(p + 4);
  s.ack = load32(p + 8);
  s.flags = p[13] & 0x3f;
  s.window = load16(p + 14);
  s.header_len = doff;
  s.mss = 0;
  s.has_wscale = false;
  s.wscale = 0;
  // Options (RFC 793 3.1: kind, length, data; END and NOP are one byte).
  for (size_t i = TCP_MIN_HEADER; i < doff;) {
    uint8_t kind = p[i];
    if (kind == OPT_END) break;
    if (kind == OPT_NOP) {
      ++i;
      continue;
    }
    if (i + 1 >= doff) return false;
    uint8_t olen = p[i + 1];
    if (olen < 2 || i + olen > doff) return false;
    if (kind == OPT_MSS && olen == 4) s.mss = load16(p + i + 2);
    if (kind == OPT_WSCALE && olen == 3) {
      s.has_wscale = true;
      // RFC 7323 2.3: a shift above 14 is used as 14.
      s.wscale = p[i + 2] > 14 ? 14 : p[i + 2];
    }
    i += olen;
  }
  s.data = p + doff;
  s.len = len - doff;
  return true;
}

size_t tcp_build(uint8_t* p, const TcpSegment& s, uint16_t mss, int wscale) {
  size_t n = TCP_MIN_HEADER;
  if (mss) {
    p[n] = OPT_MSS, p[n + 1] = 4;
    store16(p + n + 2, mss);
    n += 4;
  }
  if (wscale >= 0) {
    p[n] = OPT_NOP, p[n + 1] = OPT_WSCALE, p[n + 2] = 3, p[n + 3] = uint8_t(wscale);
    n += 4;
  }
  store16(p, s.sport);
  store16(p + 2, s.dport);
  store32(p + 4, s.seq);
  store32(p + 8, s.ack);
  p[12] = uint8_t((n / 4) << 4);
  p[13] = s.flags;
  store16(p + 14, s.window);
  store16(p + 16, 0);
  store16(p + 18, 0);
  return n;
}

}  // namespace capsule::net
