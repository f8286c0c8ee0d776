// libFuzzer target: the TCP header and options parser (net/inet/
// tcp_header.cc). Any segment must parse with the header and its data
// inside the bytes given, or be refused; options a sender cannot mean
// (lengths past the header) are refused, a window scale is at most 14.
// What tcp_build writes from the parsed fields (with and without
// SACK-permitted, timestamps and SACK blocks) must parse back the same.
#include <cstdlib>

#include "net/inet/tcp_header.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65535) return -1;
  uint8_t* d = static_cast<uint8_t*>(std::malloc(size ? size : 1));
  __builtin_memcpy(d, data, size);
  TcpSegment s;
  bool ok = tcp_parse(d, size, s);
  FUZZ_SAY("tcp: %s, mss %u wscale %d/%u, %zu data\n", ok ? "ok" : "refused", s.mss, s.has_wscale, s.wscale, s.len);
  if (ok) {
    FUZZ_CHECK(s.header_len >= TCP_MIN_HEADER && s.header_len <= size && s.header_len % 4 == 0);
    FUZZ_CHECK(s.data == d + s.header_len && s.len == size - s.header_len);
    FUZZ_CHECK(s.wscale <= 14 && (s.has_wscale || s.wscale == 0));
    FUZZ_CHECK((s.flags & ~0x3f) == 0);
    FUZZ_CHECK(s.seq_len() >= s.len);
    uint8_t out[TCP_MAX_BUILT_HEADER];
    size_t n = tcp_build(out, s, s.mss, s.has_wscale ? s.wscale : -1);
    FUZZ_CHECK(n <= sizeof out && n % 4 == 0);
    TcpSegment b;
    FUZZ_CHECK(tcp_parse(out, n, b));
    FUZZ_CHECK(b.sport == s.sport && b.dport == s.dport && b.seq == s.seq && b.ack == s.ack);
    FUZZ_CHECK(b.flags == s.flags && b.window == s.window && b.mss == s.mss);
    FUZZ_CHECK(b.has_wscale == s.has_wscale && b.wscale == s.wscale && b.len == 0);
    // Every option it speaks (SACK-permitted, timestamps, SACK blocks, as
    // many as fit next to the timestamps).
    TcpOptions o;
    o.mss = s.mss;
    o.wscale = s.has_wscale ? s.wscale : -1;
    o.sack_ok = s.sack_ok;
    o.ts = s.has_ts;
    o.tsval = s.tsval;
    o.tsecr = s.tsecr;
    o.nsack = s.nsack;
    FUZZ_CHECK(s.nsack <= TcpSegment::MAX_SACK);
    __builtin_memcpy(o.sack, s.sack, sizeof o.sack);
    n = tcp_build(out, s, o);
    FUZZ_CHECK(n >= TCP_MIN_HEADER && n <= sizeof out && n % 4 == 0);
    TcpSegment c;
    FUZZ_CHECK(tcp_parse(out, n, c));
    FUZZ_CHECK(c.mss == s.mss && c.has_wscale == s.has_wscale && c.wscale == s.wscale && c.sack_ok == s.sack_ok);
    FUZZ_CHECK(c.has_ts == s.has_ts && c.tsval == s.tsval && c.tsecr == s.tsecr && c.len == 0);
    FUZZ_CHECK(c.nsack <= s.nsack);
    for (int k = 0; k < c.nsack; ++k) FUZZ_CHECK(c.sack[k][0] == s.sack[k][0] && c.sack[k][1] == s.sack[k][1]);
  }
  std::free(d);
  return 0;
}
