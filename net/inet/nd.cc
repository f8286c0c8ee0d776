// Neighbor Discovery and address autoconfiguration (RFC 4861, RFC 4862;
// docs/net.md "IPv6 on a link").
//
// The neighbor cache maps an IPv6 next hop on a link to its Ethernet
// address, as ARP does for IPv4: a link's output6 asks nd_resolve, which
// holds the packet and multicasts a Neighbor Solicitation when the
// address is unknown; the Advertisement that answers fills the entry and
// sends what was held. Solicitations for our addresses are answered.
// nd_link_up gives a link its link-local address (EUI-64) and sends a
// Router Solicitation; a Router Advertisement gives the default router
// and, for each autonomous /64 prefix, a SLAAC address. No packet is sent
// with the cache's lock held: output6 comes back here for unicast.
#include <atomic>

#include "arch/spinlock.h"
#include "core/time.h"
#include "net/byte_order.h"
#include "net/inet/ip.h"
#include "net/inet/nd_message.h"

namespace capsule::net {
namespace {

constexpr size_t MAX_NEIGHBORS = 32;
constexpr uint64_t RETRANS_NS = 1'000'000'000;  // RFC 4861 10 RETRANS_TIMER
constexpr uint8_t ND_HOPS = 255;                 // every ND message (RFC 4861 6.1, 7.1)

struct Neighbor {
  bool used = false, resolved = false;
  uint32_t nif = 0;
  IpAddr addr;
  uint8_t mac[6] = {};
  uint64_t used_at = 0, asked_at = 0;
  PacketBuf held;  // the newest packet waiting for the address (older ones dropped)
};

SpinLock g_lock;
// What Router Advertisements may configure (nd_link_up's options).
std::atomic<bool> g_slaac{true}, g_ra_router{true};
Neighbor g_cache[MAX_NEIGHBORS] GUARDED_BY(g_lock);

Neighbor* find_locked(uint32_t nif, const IpAddr& a) REQUIRES(g_lock) {
  for (Neighbor& n : g_cache)
    if (n.used && n.nif == nif && n.addr == a) return &n;
  return nullptr;
}

// A new entry; the least recently used one goes when the cache is full
// (its held packet with it: `drop` takes it out of the lock).
Neighbor* add_locked(uint32_t nif, const IpAddr& a, PacketBuf& drop) REQUIRES(g_lock) {
  Neighbor* victim = &g_cache[0];
  for (Neighbor& n : g_cache) {
    if (!n.used) {
      victim = &n;
      break;
    }
    if (n.used_at < victim->used_at) victim = &n;
  }
  drop = static_cast<PacketBuf&&>(victim->held);
  *victim = Neighbor{};
  victim->used = true;
  victim->nif = nif;
  victim->addr = a;
  return victim;
}

// Learns a's link-layer address (creating the entry only if `create`);
// sends what waited for it.
void learn(Netif& nif, const IpAddr& a, const uint8_t mac[6], bool create) {
  if (a.any() || a.multicast6()) return;
  PacketBuf send, drop;
  {
    SpinGuard g(g_lock);
    Neighbor* n = find_locked(nif.index(), a);
    if (!n && !create) return;
    if (!n) n = add_locked(nif.index(), a, drop);
    __builtin_memcpy(n->mac, mac, 6);
    n->resolved = true;
    n->used_at = uptime_ns();
    send = static_cast<PacketBuf&&>(n->held);
  }
  if (!send.empty()) (void)nif.output6(static_cast<PacketBuf&&>(send), a);
}

// An ND message from `src` (:: lets the route pick) to `dst` on nif.
void send_nd(Netif& nif, const IpAddr& src, const IpAddr& dst, const uint8_t* body, size_t n) {
  auto r = PacketBuf::alloc(n);
  if (!r.ok()) return;
  PacketBuf pkt = static_cast<PacketBuf&&>(r.value());
  __builtin_memcpy(pkt.data(), body, n);
  IpAddr s = src;
  if (s.any()) {
    auto rt = route6_lookup(dst, nif.index());
    if (!rt.ok()) return;
    s = rt.value().src;
  }
  store16(pkt.data() + 2, csum_fold(csum_add(csum_pseudo6(s.b, dst.b, IP6_ICMPV6, uint32_t(n)), pkt.data(), n)));
  ip6_stats().nd_out.fetch_add(1, std::memory_order_relaxed);
  (void)ip6_output(static_cast<PacketBuf&&>(pkt), s, dst, IP6_ICMPV6, ND_HOPS, 0, nif.index());
}

void router_advert(Netif& nif, const IpAddr& src, const NdMessage& m) {
  if (m.has_slla) learn(nif, src, m.slla, true);
  uint8_t mac[6];
  if (nif.hw_addr(mac) != 6) return;
  // RFC 4862 5.5.3: an autonomous prefix of 64 bits (the interface
  // identifier's length on Ethernet) with a valid lifetime gives an address.
  for (int i = 0; i < m.nprefixes && g_slaac.load(std::memory_order_relaxed); ++i) {
    const NdPrefix& p = m.prefixes[i];
    if (!p.autonomous || p.len != 64 || p.valid == 0 || p.preferred > p.valid || p.prefix.link_local6()) continue;
    (void)netif_add_addr6(nif, eui64_address(p.prefix, mac), 64);
  }
  // RFC 4861 6.3.4: a router lifetime above 0 makes it a default router.
  if (m.router_lifetime && g_ra_router.load(std::memory_order_relaxed)) route6_set_gateway(src, &nif);
}

}  // namespace

bool nd_resolve(Netif& nif, const IpAddr& next_hop, uint8_t mac[6], PacketBuf& pkt) {
  PacketBuf evicted, drop;  // freed after the lock
  bool ask;
  {
    SpinGuard g(g_lock);
    const uint64_t now = uptime_ns();
    Neighbor* n = find_locked(nif.index(), next_hop);
    if (n && n->resolved) {
      __builtin_memcpy(mac, n->mac, 6);
      n->used_at = now;
      return true;
    }
    if (!n) n = add_locked(nif.index(), next_hop, evicted);
    drop = static_cast<PacketBuf&&>(n->held);  // one packet waits, the newest (Linux keeps a few)
    n->held = static_cast<PacketBuf&&>(pkt);
    n->used_at = now;
    ask = !n->asked_at || now - n->asked_at >= RETRANS_NS;
    if (ask) n->asked_at = now;
  }
  if (ask) {
    uint8_t self[6], body[32];
    if (nif.hw_addr(self) == 6) send_nd(nif, IP6_ANY, solicited_node(next_hop), body, nd_build_ns(body, next_hop, self));
  }
  return false;
}

void nd_link_up(Netif& nif, NdOptions opts) {
  g_slaac.store(opts.slaac, std::memory_order_relaxed);
  g_ra_router.store(opts.router, std::memory_order_relaxed);
  uint8_t mac[6];
  if (nif.hw_addr(mac) != 6) return;
  const IpAddr ll = eui64_address(IpAddr{{0xfe, 0x80}}, mac);
  if (!netif_add_addr6(nif, ll, 64).ok()) return;
  // RFC 4861 6.3.7: ask the routers to advertise now.
  uint8_t body[16];
  send_nd(nif, ll, IP6_ALL_ROUTERS, body, nd_build_rs(body, mac));
}

void nd_input(Netif& nif, const Ipv6Header& h, PacketBuf pkt) {
  Ip6Stats& st = ip6_stats();
  st.nd_in.fetch_add(1, std::memory_order_relaxed);
  NdMessage m;
  if (nd_parse(pkt.data(), pkt.size(), h.hop_limit, h.src, h.dst, m) != NdDrop::None) {
    st.icmp_in_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  switch (m.type) {
    case ND_NEIGHBOR_SOLICIT: {
      // RFC 4861 7.2.3: for one of our addresses; learn the asker, answer it.
      if (!is_local_addr6(m.target)) return;
      if (!h.src.any() && m.has_slla) learn(nif, h.src, m.slla, true);
      uint8_t mac[6], body[32];
      if (nif.hw_addr(mac) != 6) return;
      const bool dad = h.src.any();
      send_nd(nif, m.target, dad ? IP6_ALL_NODES : h.src, body, nd_build_na(body, m.target, mac, !dad));
      return;
    }
    case ND_NEIGHBOR_ADVERT:
      // RFC 4861 7.2.5: an entry we asked for (or have) is filled.
      if (m.has_tlla) learn(nif, m.target, m.tlla, false);
      return;
    case ND_ROUTER_ADVERT: router_advert(nif, h.src, m); return;
    default: return;  // RS (we are no router), Redirect (not followed)
  }
}

}  // namespace capsule::net
