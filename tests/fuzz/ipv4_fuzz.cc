// libFuzzer target: IPv4 input (net/inet/ipv4_header.cc, reassembly.cc),
// the way ip_input uses them. The input is a sequence of datagrams (each a
// 16-bit length and the bytes) and clock steps; each is parsed, and
// fragments go to one Reassembly. An accepted header must describe bytes
// inside the datagram; a reassembled datagram must parse as a whole,
// unfragmented datagram of the length it says, within 65535 bytes; the
// reassembly's memory stays within its bounds and is freed at the end
// (LeakSanitizer). A datagram of version 6 goes the way ip6_input takes
// it instead (net/inet/ipv6_header.cc): an accepted header's upper layer
// lies inside the payload it says, past the extension headers; an ICMPv6
// error's quoted packet and UDP over IPv6 are read as icmp6_input and
// udp_input read them, every ICMP/ICMPv6 message offered to ping and raw
// sockets as icmp_sockets_input does (icmp_match.h: each kind takes only
// what it may), Neighbor Discovery's messages as nd_input does
// (an accepted one steps one neighbor's reachability machine, one address's
// duplicate address detection and its lifetimes, nd_state.cc, whose
// invariants hold at every step), and fragments go to one Reassembly6
// (bounded; freed at the end).
#include <cstdlib>

#include "net/byte_order.h"
#include "net/inet/ipv4_header.h"
#include "net/inet/ipv6_header.h"
#include "net/inet/icmp_match.h"
#include "net/inet/nd_message.h"
#include "net/inet/nd_state.h"
#include "net/inet/reassembly.h"
#include "net/inet/reassembly6.h"
#include "net/inet/udp_header.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace capsule {
void* kmalloc(size_t size) { return std::malloc(size); }
void kfree(void* p) { std::free(p); }
}  // namespace capsule

using namespace capsule;
using namespace capsule::net;

namespace {

// What nd_input keeps across messages: one neighbor, one address in DAD,
// one SLAAC address's lifetimes.
struct NdFuzzState {
  NudEntry nud;
  DadEntry dad;
  Lifetime life;
};

void check_nud(const NudEntry& e, uint64_t now, const NdTimes& t) {
  FUZZ_CHECK(e.probes <= (e.state == Nud::Incomplete ? t.max_multicast : t.max_unicast) || e.deadline == 0);
  if (e.state == Nud::Reachable) FUZZ_CHECK(e.deadline > 0 && e.deadline <= now + t.reachable_ns);
  if (e.state == Nud::Stale) FUZZ_CHECK(e.deadline == 0);
}

void fuzz_nd_state(const NdMessage& m, NdFuzzState& st, uint64_t now) {
  const NdTimes t;
  NudStep s;
  switch (m.type) {
    case ND_NEIGHBOR_ADVERT:
      s = nud_advert(st.nud, m.has_tlla ? m.tlla : nullptr, m.solicited, m.override_, now, t);
      FUZZ_CHECK(!s.flush || st.nud.state != Nud::Incomplete);
      dad_conflict(st.dad);
      break;
    case ND_NEIGHBOR_SOLICIT:
    case ND_ROUTER_SOLICIT:
      if (m.has_slla) FUZZ_CHECK(nud_lladdr(st.nud, m.slla).usable && st.nud.state != Nud::Incomplete);
      break;
    case ND_ROUTER_ADVERT:
      for (int i = 0; i < m.nprefixes; ++i) {
        const uint64_t before = st.life.valid;
        lifetime_update(st.life, now, m.prefixes[i].valid, m.prefixes[i].preferred);
        FUZZ_CHECK(st.life.preferred <= st.life.valid);
        // RFC 4862 5.5.3 e: an RA never ends an address sooner than two
        // hours from now unless it was ending sooner anyway.
        const uint64_t floor = now + 7200ull * 1'000'000'000ull;
        FUZZ_CHECK(st.life.valid >= (before < floor ? before : floor));
      }
      break;
    default: break;
  }
  (void)dad_step(st.dad, now, 1, t.retrans_ns);
  s = nud_timer(st.nud, now, t);
  if (s.give_up) st.nud = NudEntry{};
  s = nud_output(st.nud, now, t);
  FUZZ_CHECK(s.usable == (st.nud.state != Nud::Incomplete));
  check_nud(st.nud, now, t);
}

// An ICMP message as icmp_sockets_input offers it to the sockets: each
// kind of socket takes only what it may (net/inet/icmp_match.h).
void fuzz_icmp_takers(bool v6, const uint8_t* msg, size_t len, const IpAddr& dst) {
  IcmpTaker ping, raw, blocked, bound_elsewhere;
  ping.v6 = raw.v6 = blocked.v6 = bound_elsewhere.v6 = v6;
  ping.ident = 0x1234;
  raw.raw = blocked.raw = bound_elsewhere.raw = true;
  for (uint32_t& w : blocked.filter) w = ~0u;
  bound_elsewhere.bound = v6 ? IP6_LOOPBACK : IpAddr::mapped(0x7f000001);
  if (bound_elsewhere.bound == dst) bound_elsewhere.bound.b[15] ^= 2;
  if (icmp_takes(ping, v6, msg, len, dst))
    FUZZ_CHECK(len >= 8 && msg[0] == (v6 ? 129 : 0) && msg[4] == 0x12 && msg[5] == 0x34);
  FUZZ_CHECK(icmp_takes(raw, v6, msg, len, dst) == (len >= 4));
  FUZZ_CHECK(icmp_takes(blocked, v6, msg, len, dst) == (len >= 4 && !v6 && msg[0] >= 32));
  FUZZ_CHECK(!icmp_takes(bound_elsewhere, v6, msg, len, dst));
  IcmpTaker other = raw;
  other.v6 = !v6;
  FUZZ_CHECK(!icmp_takes(other, v6, msg, len, dst));
}

void fuzz_ipv6(const uint8_t* d, size_t n, Reassembly6& reasm, uint64_t now, NdFuzzState& nds) {
  Ipv6Header h;
  Ipv6Drop drop = ipv6_parse(d, n, h);
  FUZZ_SAY("ipv6: %zu bytes, drop %d\n", n, int(drop));
  if (drop == Ipv6Drop::Fragment && h.header_len == IPV6_HEADER) {
    // As ip6_input: to the reassembly; a whole packet is a packet of its
    // own length with no Fragment header first.
    PacketBuf whole;
    size_t before = reasm.in_progress();
    Reassembly6::Result6 r = reasm.add(h, d, n, now, whole);
    FUZZ_CHECK(reasm.in_progress() <= Reassembly6::MAX_PACKETS && reasm.in_progress() <= before + 1);
    FUZZ_SAY("ipv6: reassembly %d\n", int(r));
    if (r == Reassembly6::Result6::Done) {
      FUZZ_CHECK(whole.size() >= IPV6_HEADER && load16(whole.data() + 4) == whole.size() - IPV6_HEADER);
      Ipv6Header w;
      (void)ipv6_parse(whole.data(), whole.size(), w);
    }
    return;
  }
  if (drop != Ipv6Drop::None) return;
  const size_t end = IPV6_HEADER + h.payload_len;
  FUZZ_CHECK(end <= n && h.header_len >= IPV6_HEADER && h.header_len <= end);
  FUZZ_CHECK(!h.src.is_v4() && !h.dst.is_v4());
  FUZZ_CHECK(h.proto != IP6_HOPOPTS && h.proto != IP6_DSTOPTS && h.proto != IP6_ROUTING && h.proto != IP6_FRAGMENT &&
             h.proto != IP6_NONE);
  const uint8_t* l4 = d + h.header_len;
  const size_t l4len = end - h.header_len;
  if (h.proto == IPPROTO_UDP_) {
    UdpHeader u;
    if (udp_parse(l4, l4len, h.src, h.dst, u) == UdpDrop::None) {
      FUZZ_CHECK(u.data == l4 + UDP_HEADER && u.len + UDP_HEADER <= l4len && load16(l4 + 6) != 0);
    }
  }
  if (h.proto == IP6_ICMPV6) fuzz_icmp_takers(true, l4, l4len, h.dst);
  // Neighbor Discovery (133-137) as nd_input reads it: what it accepts
  // stays within its bounds.
  if (h.proto == IP6_ICMPV6 && l4len >= 1 && l4[0] >= 133 && l4[0] <= 137) {
    NdMessage m;
    NdDrop nd = nd_parse(l4, l4len, h.hop_limit, h.src, h.dst, m);
    FUZZ_SAY("ipv6: nd type %u drop %d\n", l4[0], int(nd));
    if (nd == NdDrop::None) {
      FUZZ_CHECK(h.hop_limit == 255 && m.type == l4[0]);
      FUZZ_CHECK(m.nprefixes <= NdMessage::MAX_PREFIXES && m.ndns <= NdMessage::MAX_DNS);
      FUZZ_CHECK(!m.target.multicast6());
      for (int i = 0; i < m.nprefixes; ++i) FUZZ_CHECK(m.prefixes[i].len <= 128);
      fuzz_nd_state(m, nds, now);
    }
  }
  // An ICMPv6 error (types 1-4) quotes a packet after its 8-byte header.
  if (h.proto == IP6_ICMPV6 && l4len >= 8 && l4[0] >= 1 && l4[0] <= 4) {
    Ipv6Header q;
    if (ipv6_parse_quoted(l4 + 8, l4len - 8, q)) {
      FUZZ_CHECK(q.header_len >= IPV6_HEADER && q.header_len + 8 <= l4len - 8);
      volatile uint8_t x = l4[8 + q.header_len] ^ l4[8 + q.header_len + 7];  // the transport's 8 bytes
      (void)x;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in{data, size};
  auto* reasm = new Reassembly;
  Reassembly6* reasm6 = nullptr;
  NdFuzzState nd;
  uint64_t now = 0;
  for (int op; (op = in.byte()) >= 0;) {
    if (op == 0xff) {  // the clock moves
      int k = in.byte();
      if (k < 0) break;
      now += uint64_t(k) * 500'000'000ull;  // up to about 2 minutes
      continue;
    }
    const uint8_t* p;
    size_t n;
    if (!in.record(&p, &n)) break;
    // An exact-size copy: ASan catches a read past the datagram.
    uint8_t* d = static_cast<uint8_t*>(std::malloc(n ? n : 1));
    __builtin_memcpy(d, p, n);
    if (n && (d[0] >> 4) == 6) {
      if (!reasm6) reasm6 = new Reassembly6;
      fuzz_ipv6(d, n, *reasm6, now, nd);
      std::free(d);
      continue;
    }
    Ipv4Header h;
    Ipv4Drop drop = ipv4_parse(d, n, h);
    FUZZ_SAY("ipv4: %zu bytes, drop %d, fragment %d\n", n, int(drop), drop == Ipv4Drop::None && h.fragment());
    if (drop == Ipv4Drop::None) {
      FUZZ_CHECK(h.header_len >= IPV4_MIN_HEADER && h.header_len <= h.total_len && h.total_len <= n);
      FUZZ_CHECK(h.frag_offset % 8 == 0 && size_t(h.frag_offset) + h.total_len - h.header_len <= 65535);
      if (h.protocol == IPPROTO_ICMP_ && !h.fragment())
        fuzz_icmp_takers(false, d + h.header_len, h.total_len - h.header_len, IpAddr::mapped(h.dst.v));
      // An ICMP error's quoted datagram, read as icmp_input reads it.
      if (h.protocol == IPPROTO_ICMP_ && !h.fragment() && h.total_len - h.header_len >= 8) {
        Ipv4Header q;
        const uint8_t* orig = d + h.header_len + 8;
        size_t olen = h.total_len - h.header_len - 8;
        if (ipv4_parse_quoted(orig, olen, q)) {
          FUZZ_CHECK(q.header_len >= IPV4_MIN_HEADER && q.header_len + 8 <= olen);
          volatile uint8_t l4 = orig[q.header_len] ^ orig[q.header_len + 7];  // the transport's 8 bytes
          (void)l4;
        }
      }
      if (h.fragment()) {
        PacketBuf whole;
        size_t before = reasm->in_progress();
        bool done = reasm->add(h, d + h.header_len, h.total_len - h.header_len, now, whole);
        FUZZ_CHECK(reasm->in_progress() <= Reassembly::MAX_DATAGRAMS);
        FUZZ_CHECK(reasm->in_progress() <= before + 1);
        FUZZ_SAY("ipv4: reassembly %s\n", done ? "done" : "waiting");
        if (done) {
          Ipv4Header w;
          FUZZ_CHECK(ipv4_parse(whole.data(), whole.size(), w) == Ipv4Drop::None);
          FUZZ_CHECK(!w.fragment() && w.total_len == whole.size() && w.header_len == IPV4_MIN_HEADER);
          FUZZ_CHECK(w.src == h.src && w.dst == h.dst && w.id == h.id && w.protocol == h.protocol);
        }
      }
    }
    std::free(d);
  }
  delete reasm;
  delete reasm6;
  return 0;
}
