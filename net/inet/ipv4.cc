// IPv4 input and output (net/inet/ip.h, RFC 791, RFC 1122 3.2.1).
//
// ip_input checks the header (net/inet/ipv4_header.cc), accepts datagrams
// for this host (no forwarding: a unikernel is a host, RFC 1122), hands
// fragments to the reassembly and the rest to the protocol. ip_output
// routes, fragments to the interface's MTU and calls the interface.
#include <atomic>
#include <new>

#include "arch/spinlock.h"
#include "core/time.h"
#include "net/byte_order.h"
#include "net/inet/ip.h"
#include "net/inet/reassembly.h"

namespace capsule::net {
namespace {

IpStats g_stats;
std::atomic<uint16_t> g_ip_id{1};
SpinLock g_reasm_lock;
Reassembly* g_reasm GUARDED_BY(g_reasm_lock) = nullptr;

bool accepted_dst(Netif& nif, Ipv4 dst) {
  if (dst.broadcast() || is_local_addr(dst)) return true;
  // The directed broadcast of the interface's subnet.
  Ipv4 a = nif.addr();
  uint32_t m = prefix_mask(nif.prefix());
  return !a.any() && nif.prefix() < 31 && dst.v == ((a.v & m) | ~m);
}

Result<void> send_fragments(Route& r, PacketBuf pkt, Ipv4Header& h) {
  // RFC 791 3.2: every fragment but the last carries a multiple of 8
  // bytes; each copies the header.
  const size_t mtu = r.nif->mtu();
  const size_t per = ((mtu - IPV4_MIN_HEADER) / 8) * 8;
  const size_t total = pkt.size();
  for (size_t off = 0; off < total; off += per) {
    size_t n = total - off < per ? total - off : per;
    PacketBuf f = TRY(PacketBuf::copy_of(pkt.data() + off, n));
    Ipv4Header fh = h;
    fh.frag_offset = uint16_t(off);
    fh.more_fragments = off + n < total;
    fh.total_len = uint16_t(IPV4_MIN_HEADER + n);
    uint8_t* p = f.push(IPV4_MIN_HEADER);
    ipv4_build(p, fh);
    g_stats.frag_creates.fetch_add(1, std::memory_order_relaxed);
    TRY(r.nif->output(static_cast<PacketBuf&&>(f), r.next_hop));
  }
  return {};
}

}  // namespace

IpStats& ip_stats() { return g_stats; }

Result<void> ip_output(PacketBuf pkt, Ipv4 src, Ipv4 dst, uint8_t proto, uint8_t ttl, uint8_t tos, bool df) {
  g_stats.out_requests.fetch_add(1, std::memory_order_relaxed);
  auto rr = route_lookup(dst);
  if (!rr.ok()) {
    g_stats.out_no_routes.fetch_add(1, std::memory_order_relaxed);
    return rr.error();
  }
  Route r = rr.value();
  Ipv4Header h;
  h.tos = tos;
  h.ttl = ttl;
  h.protocol = proto;
  h.src = src.any() ? r.src : src;
  h.dst = dst;
  h.dont_fragment = df;
  h.id = g_ip_id.fetch_add(1, std::memory_order_relaxed);
  if (pkt.size() + IPV4_MIN_HEADER > 65535) return Error::MessageSize;
  if (pkt.gso_size()) {
    // TCP segmentation offload: the device cuts it into segments that fit
    // the MTU; an interface that cannot (the route changed) refuses it,
    // and TCP sends the bytes again in MSS pieces.
    if (pkt.size() + IPV4_MIN_HEADER > r.nif->tso_max()) return Error::MessageSize;
    h.dont_fragment = true;
  } else if (pkt.size() + IPV4_MIN_HEADER > r.nif->mtu()) {
    if (df) return Error::MessageSize;
    return send_fragments(r, static_cast<PacketBuf&&>(pkt), h);
  }
  h.total_len = uint16_t(pkt.size() + IPV4_MIN_HEADER);
  uint8_t* p = pkt.push(IPV4_MIN_HEADER);
  if (!p) return Error::NoBufs;
  ipv4_build(p, h);
  return r.nif->output(static_cast<PacketBuf&&>(pkt), r.next_hop);
}

void ip_input(Netif& nif, PacketBuf pkt) {
  if (pkt.size() && (pkt.data()[0] >> 4) == 6) return ip6_input(nif, static_cast<PacketBuf&&>(pkt));
  g_stats.in_receives.fetch_add(1, std::memory_order_relaxed);
  Ipv4Header h;
  if (ipv4_parse(pkt.data(), pkt.size(), h) != Ipv4Drop::None) {
    g_stats.in_hdr_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // RFC 1122 3.2.1.3: a source that is a broadcast or multicast address
  // is dropped; only this host's destinations are accepted (no forwarding).
  if (h.src.broadcast() || h.src.multicast() || !accepted_dst(nif, h.dst)) {
    g_stats.in_addr_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pkt.trim(h.total_len);  // link-layer padding
  if (h.fragment()) {
    PacketBuf whole;
    bool done;
    {
      SpinGuard g(g_reasm_lock);
      if (!g_reasm) g_reasm = new (std::nothrow) Reassembly;
      if (!g_reasm) return;
      uint64_t before = g_reasm->dropped() + g_reasm->timed_out();
      done = g_reasm->add(h, pkt.data() + h.header_len, h.total_len - h.header_len, uptime_ns(), whole);
      uint64_t after = g_reasm->dropped() + g_reasm->timed_out();
      if (after != before) g_stats.reasm_fails.fetch_add(after - before, std::memory_order_relaxed);
    }
    if (!done) return;
    g_stats.reasm_oks.fetch_add(1, std::memory_order_relaxed);
    pkt = static_cast<PacketBuf&&>(whole);
    (void)ipv4_parse(pkt.data(), pkt.size(), h);
  }
  pkt.pull(h.header_len);
  g_stats.in_delivers.fetch_add(1, std::memory_order_relaxed);
  IpMeta m{IpAddr::mapped(h.src.v), IpAddr::mapped(h.dst.v), &h, nullptr, h.header_len, nif.index()};
  switch (h.protocol) {
    case IPPROTO_ICMP_: return icmp_input(nif, h, static_cast<PacketBuf&&>(pkt));
    case IPPROTO_UDP_: return udp_input(nif, m, static_cast<PacketBuf&&>(pkt));
    case IPPROTO_TCP_: return tcp_input(nif, m, static_cast<PacketBuf&&>(pkt));
    default: {
      g_stats.in_unknown_protos.fetch_add(1, std::memory_order_relaxed);
      // The original datagram: push the header back to quote it.
      uint8_t* orig = pkt.push(h.header_len);
      if (orig) icmp_send_unreachable(h, orig, pkt.size(), ICMP_PROTO_UNREACH);
    }
  }
}

}  // namespace capsule::net
