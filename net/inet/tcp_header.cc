// TCP header parsing and building (net/inet/tcp_header.h).
#include "net/inet/tcp_header.h"

#include "net/byte_order.h"

namespace capsule::net {

namespace {
constexpr uint8_t OPT_END = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WSCALE = 3, OPT_SACK_OK = 4, OPT_SACK = 5, OPT_TS = 8;
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
  s.sack_ok = false;
  s.has_ts = false;
  s.tsval = s.tsecr = 0;
  s.nsack = 0;
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
    if (kind == OPT_SACK_OK && olen == 2) s.sack_ok = true;
    if (kind == OPT_TS && olen == 10) {
      s.has_ts = true;
      s.tsval = load32(p + i + 2);
      s.tsecr = load32(p + i + 6);
    }
    if (kind == OPT_SACK && olen >= 10 && (olen - 2) % 8 == 0) {
      // RFC 2018 3: 1 to 4 blocks of left and right edges.
      for (size_t b = 0; b < size_t(olen - 2) / 8 && s.nsack < TcpSegment::MAX_SACK; ++b) {
        s.sack[s.nsack][0] = load32(p + i + 2 + 8 * b);
        s.sack[s.nsack][1] = load32(p + i + 6 + 8 * b);
        ++s.nsack;
      }
    }
    i += olen;
  }
  s.data = p + doff;
  s.len = len - doff;
  return true;
}

size_t tcp_build(uint8_t* p, const TcpSegment& s, uint16_t mss, int wscale) {
  TcpOptions o;
  o.mss = mss;
  o.wscale = wscale;
  return tcp_build(p, s, o);
}

size_t tcp_build(uint8_t* p, const TcpSegment& s, const TcpOptions& o) {
  size_t n = TCP_MIN_HEADER;
  if (o.mss) {
    p[n] = OPT_MSS, p[n + 1] = 4;
    store16(p + n + 2, o.mss);
    n += 4;
  }
  // SACK-permitted shares the timestamps' padding when both go (12 bytes).
  if (o.ts) {
    if (o.sack_ok) p[n] = OPT_SACK_OK, p[n + 1] = 2;
    else p[n] = OPT_NOP, p[n + 1] = OPT_NOP;
    p[n + 2] = OPT_TS, p[n + 3] = 10;
    store32(p + n + 4, o.tsval);
    store32(p + n + 8, o.tsecr);
    n += 12;
  } else if (o.sack_ok) {
    p[n] = OPT_NOP, p[n + 1] = OPT_NOP, p[n + 2] = OPT_SACK_OK, p[n + 3] = 2;
    n += 4;
  }
  if (o.wscale >= 0) {
    p[n] = OPT_NOP, p[n + 1] = OPT_WSCALE, p[n + 2] = 3, p[n + 3] = uint8_t(o.wscale);
    n += 4;
  }
  if (o.nsack) {
    size_t room = (60 - n - 4) / 8;
    size_t k = o.nsack < room ? o.nsack : room;
    if (k) {
      p[n] = OPT_NOP, p[n + 1] = OPT_NOP, p[n + 2] = OPT_SACK, p[n + 3] = uint8_t(2 + 8 * k);
      for (size_t b = 0; b < k; ++b) {
        store32(p + n + 4 + 8 * b, o.sack[b][0]);
        store32(p + n + 8 + 8 * b, o.sack[b][1]);
      }
      n += 4 + 8 * k;
    }
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
