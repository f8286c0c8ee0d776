// IPv6 input and output (net/inet/ip.h; RFC 8200, RFC 4291 2.5.3).
//
// ip6_input checks the header and walks the extension headers
// (net/inet/ipv6_header.cc), accepts packets for this host (its
// addresses, the all-nodes group and its solicited-node groups; no
// forwarding) and hands them to ICMPv6, UDP or TCP; fragments go to the
// reassembly (net/inet/reassembly6.cc). ip6_output routes, adds the
// header, fragments what is larger than the link's MTU and calls the
// interface's output6.
#include <atomic>
#include <new>

#include "arch/spinlock.h"
#include "core/time.h"
#include "net/byte_order.h"
#include "net/inet/ip.h"
#include "net/inet/reassembly6.h"

namespace capsule::net {
namespace {

Ip6Stats g_stats;
std::atomic<uint32_t> g_frag_id{0x6a09e667};
SpinLock g_reasm_lock;
Reassembly6* g_reasm GUARDED_BY(g_reasm_lock) = nullptr;

// RFC 8200 5: a packet larger than the link's MTU leaves in fragments of
// at most MTU - 48 bytes of data (a multiple of 8), each with a copy of
// the fixed header and a Fragment header; the receiver reassembles.
Result<void> send_fragments(Route6& r, PacketBuf pkt, Ipv6Header h) {
  const size_t per = ((r.nif->mtu() - IPV6_HEADER - IPV6_FRAG_HEADER) / 8) * 8;
  const size_t total = pkt.size();
  Ipv6Fragment f;
  f.next = h.next_header;
  f.id = g_frag_id.fetch_add(1, std::memory_order_relaxed);
  h.next_header = IP6_FRAGMENT;
  for (size_t off = 0; off < total; off += per) {
    const size_t n = total - off < per ? total - off : per;
    PacketBuf frag = TRY(PacketBuf::copy_of(pkt.data() + off, n));
    f.offset = uint16_t(off);
    f.more = off + n < total;
    uint8_t* fh = frag.push(IPV6_FRAG_HEADER);
    ipv6_fragment_build(fh, f);
    h.payload_len = uint16_t(IPV6_FRAG_HEADER + n);
    ipv6_build(frag.push(IPV6_HEADER), h);
    g_stats.frag_creates.fetch_add(1, std::memory_order_relaxed);
    TRY(r.nif->output6(static_cast<PacketBuf&&>(frag), r.next_hop));
  }
  return {};
}

// ff02::1:ffXX:XXXX, the solicited-node group of an address (RFC 4291 2.7.1).
bool solicited_node_of_ours(const IpAddr& dst) {
  static constexpr uint8_t PREFIX[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
  for (int i = 0; i < 13; ++i)
    if (dst.b[i] != PREFIX[i]) return false;
  Addr6 addrs[MAX_NETIFS * MAX_ADDR6];
  size_t n = netif_addrs6(addrs, MAX_NETIFS * MAX_ADDR6);
  if (n > MAX_NETIFS * MAX_ADDR6) n = MAX_NETIFS * MAX_ADDR6;
  for (size_t i = 0; i < n; ++i) {
    const IpAddr& a = addrs[i].addr;
    if (a.b[13] == dst.b[13] && a.b[14] == dst.b[14] && a.b[15] == dst.b[15]) return true;
  }
  return false;
}

bool accepted_dst(const IpAddr& dst) {
  if (dst.multicast6()) {
    // All nodes, interface- and link-local (ff01::1, ff02::1), and our
    // solicited-node groups.
    IpAddr all = IP6_ALL_NODES;
    all.b[1] = 0x01;
    return dst == IP6_ALL_NODES || dst == all || solicited_node_of_ours(dst);
  }
  return is_local_addr6(dst);
}

}  // namespace

Ip6Stats& ip6_stats() { return g_stats; }

Result<void> ip6_output(PacketBuf pkt, const IpAddr& src, const IpAddr& dst, uint8_t proto, uint8_t hops,
                        uint8_t tclass, uint32_t scope, bool unspecified) {
  g_stats.out_requests.fetch_add(1, std::memory_order_relaxed);
  auto rr = route6_lookup(dst, scope);
  if (!rr.ok()) {
    g_stats.out_no_routes.fetch_add(1, std::memory_order_relaxed);
    return rr.error();
  }
  Route6 r = rr.value();
  if (pkt.size() > 65535) return Error::MessageSize;
  Ipv6Header h;
  h.tclass = tclass;
  h.payload_len = uint16_t(pkt.size());
  h.next_header = proto;
  h.hop_limit = hops;
  h.src = src.any() && !unspecified ? r.src : src;
  h.dst = dst;
  if (pkt.gso_size()) {
    // TCP segmentation offload (TSO6): the device cuts it into segments
    // that fit the MTU; an interface that cannot (the route changed)
    // refuses it, and TCP sends the bytes again in MSS pieces.
    if (pkt.size() + IPV6_HEADER > r.nif->tso6_max()) return Error::MessageSize;
  } else if (pkt.size() + IPV6_HEADER > r.nif->mtu()) {
    return send_fragments(r, static_cast<PacketBuf&&>(pkt), h);
  }
  uint8_t* p = pkt.push(IPV6_HEADER);
  if (!p) return Error::NoBufs;
  ipv6_build(p, h);
  return r.nif->output6(static_cast<PacketBuf&&>(pkt), r.next_hop);
}

namespace {

// A fragment (RFC 8200 4.5): to the reassembly when its Fragment header
// follows the fixed header; the whole packet goes through ip6_input again.
void reassemble(Netif& nif, const Ipv6Header& h, PacketBuf pkt) {
  if (h.header_len != IPV6_HEADER || h.src.multicast6() || !accepted_dst(h.dst)) {
    g_stats.in_fragments_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  PacketBuf whole;
  Reassembly6::Result6 r;
  {
    SpinGuard g(g_reasm_lock);
    if (!g_reasm) g_reasm = new (std::nothrow) Reassembly6;
    if (!g_reasm) return;
    uint64_t before = g_reasm->dropped() + g_reasm->timed_out();
    r = g_reasm->add(h, pkt.data(), pkt.size(), uptime_ns(), whole);
    uint64_t after = g_reasm->dropped() + g_reasm->timed_out();
    if (after != before) g_stats.reasm_fails.fetch_add(after - before, std::memory_order_relaxed);
  }
  if (r != Reassembly6::Result6::Done) return;
  g_stats.reasm_oks.fetch_add(1, std::memory_order_relaxed);
  ip6_input(nif, static_cast<PacketBuf&&>(whole));
}

}  // namespace

void ip6_input(Netif& nif, PacketBuf pkt) {
  g_stats.in_receives.fetch_add(1, std::memory_order_relaxed);
  Ipv6Header h;
  Ipv6Drop d = ipv6_parse(pkt.data(), pkt.size(), h);
  if (d == Ipv6Drop::Fragment) return reassemble(nif, h, static_cast<PacketBuf&&>(pkt));
  if (d != Ipv6Drop::None) {
    g_stats.in_hdr_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // RFC 4291 2.5.3: ::1 never comes in from a link; a multicast source is
  // never valid (2.7); only this host's destinations are taken.
  const bool lo = nif.flags() & NetifFlags::LOOPBACK;
  if (h.src.multicast6() || (!lo && (h.src.loopback6() || h.dst.loopback6())) || !accepted_dst(h.dst)) {
    g_stats.in_addr_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pkt.trim(IPV6_HEADER + h.payload_len);  // link-layer padding
  pkt.pull(h.header_len);
  g_stats.in_delivers.fetch_add(1, std::memory_order_relaxed);
  IpMeta m{h.src, h.dst, nullptr, &h, h.header_len, nif.index()};
  switch (h.proto) {
    case IP6_ICMPV6: return icmp6_input(nif, h, static_cast<PacketBuf&&>(pkt));
    case IPPROTO_UDP_: return udp_input(nif, m, static_cast<PacketBuf&&>(pkt));
    case IPPROTO_TCP_: return tcp_input(nif, m, static_cast<PacketBuf&&>(pkt));
    default: {
      g_stats.in_unknown_protos.fetch_add(1, std::memory_order_relaxed);
      // RFC 8200 4: Parameter Problem code 1 pointing at the Next Header
      // field that named it (the fixed header's when there is no extension).
      if (h.header_len != IPV6_HEADER) return;
      uint8_t* orig = pkt.push(h.header_len);
      if (orig) icmp6_send_error(h, orig, pkt.size(), ICMP6_PARAM_PROBLEM, 1, 6, nif.index());
    }
  }
}

}  // namespace capsule::net
