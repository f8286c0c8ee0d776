// Neighbor Discovery and address autoconfiguration (RFC 4861, RFC 4862;
// docs/net.md "IPv6 on a link").
//
// The neighbor cache maps an IPv6 next hop on a link to its Ethernet
// address, as ARP does for IPv4, and follows each neighbor's reachability
// (NUD, RFC 4861 7.3: nd_state.cc's machine): a link's output6 asks
// nd_resolve, which holds the packet and multicasts a Neighbor
// Solicitation when the address is unknown; the Advertisement that
// answers fills the entry and sends what was held. Solicitations for our
// addresses are answered. nd_link_up gives a link its link-local address
// (EUI-64) and sends Router Solicitations; a Router Advertisement gives
// the default router (for its lifetime), a SLAAC address per autonomous
// /64 prefix (with its lifetimes) and DNS servers (RDNSS). Every address
// goes through duplicate address detection. One kernel timer runs the
// cache's, DAD's and the solicitations' timers and ends lifetimes. No
// packet is sent with the cache's lock held: output6 comes back here.
#include <atomic>

#include "arch/spinlock.h"
#include "core/sync/wait_queue.h"
#include "core/time.h"
#include "core/time/kernel_timer.h"
#include "lib/log.h"
#include "lib/result.h"
#include "net/byte_order.h"
#include "net/inet/ip.h"
#include "net/inet/nd_message.h"
#include "net/inet/nd_state.h"

namespace capsule::net {
namespace {

constexpr size_t MAX_NEIGHBORS = 32;
constexpr size_t MAX_DAD = 8;                    // addresses in detection at once
constexpr uint8_t DAD_TRANSMITS = 1;             // RFC 4862 5.1 DupAddrDetectTransmits
constexpr uint8_t MAX_RTR_SOLICITATIONS = 3;     // RFC 4861 10
constexpr uint64_t RTR_SOLICITATION_INTERVAL_NS = 4'000'000'000;
constexpr uint8_t ND_HOPS = 255;                 // every ND message (RFC 4861 6.1, 7.1)
constexpr size_t MAX_DNS = 3;                    // resolv.conf's MAXNS

struct Neighbor {
  bool used = false;
  uint32_t nif = 0;
  IpAddr addr;
  NudEntry nud;
  uint64_t used_at = 0;
  PacketBuf held;  // the newest packet waiting for the address (older ones dropped)
};

struct DadAddr {
  bool used = false;
  uint32_t nif = 0;
  IpAddr addr;
  DadEntry dad;
};

struct DnsServer {
  IpAddr addr;
  uint64_t until = 0;  // 0: unused
};

SpinLock g_lock;
Neighbor g_cache[MAX_NEIGHBORS] GUARDED_BY(g_lock);
DadAddr g_dad[MAX_DAD] GUARDED_BY(g_lock);
DnsServer g_dns[MAX_DNS] GUARDED_BY(g_lock);
NdTimes g_times GUARDED_BY(g_lock);
// Router Solicitations (RFC 4861 6.3.7): the link, how many went, the next.
uint32_t g_rs_nif GUARDED_BY(g_lock) = 0;
uint8_t g_rs_sent GUARDED_BY(g_lock) = 0;
uint64_t g_rs_next GUARDED_BY(g_lock) = 0;
// What Router Advertisements may configure (nd_link_up's options).
std::atomic<bool> g_slaac{true}, g_ra_router{true};
// The first RA applied: the boot's wait (nd_wait_router) ends.
std::atomic<bool> g_ra_seen{false};
Semaphore g_ra_sem;

// One timer for all of the above, at the earliest deadline. g_timer_at
// (0: not armed) is read without the mutex first: most packets find the
// timer already set early enough.
Mutex g_timer_mu;
KernelTimer g_timer GUARDED_BY(g_timer_mu);
std::atomic<uint64_t> g_timer_at{0};

void tick(KernelTimer&);

void schedule(uint64_t at) {
  if (!at || at == ND_NEVER) return;
  uint64_t cur = g_timer_at.load(std::memory_order_acquire);
  if (cur && cur <= at) return;
  MutexGuard g(g_timer_mu);
  cur = g_timer_at.load(std::memory_order_relaxed);
  if (cur && cur <= at) return;
  g_timer_at.store(at, std::memory_order_release);
  g_timer.callback = tick;
  kernel_timer_arm(g_timer, at);
}

Neighbor* find_locked(uint32_t nif, const IpAddr& a) REQUIRES(g_lock) {
  for (Neighbor& n : g_cache)
    if (n.used && n.nif == nif && n.addr == a) return &n;
  return nullptr;
}

// A new INCOMPLETE entry; the least recently used one goes when the
// cache is full (its held packet with it: `drop` takes it out of the lock).
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

// An ND message from `src` (:: lets the route pick; DAD sends from ::
// itself when `unspecified`) to `dst` on nif.
void send_nd(Netif& nif, const IpAddr& src, const IpAddr& dst, const uint8_t* body, size_t n,
             bool unspecified = false) {
  auto r = PacketBuf::alloc(n);
  if (!r.ok()) return;
  PacketBuf pkt = static_cast<PacketBuf&&>(r.value());
  __builtin_memcpy(pkt.data(), body, n);
  IpAddr s = src;
  if (s.any() && !unspecified) {
    auto rt = route6_lookup(dst, nif.index());
    if (!rt.ok()) return;
    s = rt.value().src;
  }
  store16(pkt.data() + 2, csum_fold(csum_add(csum_pseudo6(s.b, dst.b, IP6_ICMPV6, uint32_t(n)), pkt.data(), n)));
  ip6_stats().nd_out.fetch_add(1, std::memory_order_relaxed);
  (void)ip6_output(static_cast<PacketBuf&&>(pkt), s, dst, IP6_ICMPV6, ND_HOPS, 0, nif.index(), unspecified);
}

// A Neighbor Solicitation for `target`: multicast to its solicited-node
// group (resolution) or unicast to it (NUD's probe, RFC 4861 7.3.3).
void solicit(Netif& nif, const IpAddr& target, bool unicast) {
  uint8_t self[6], body[32];
  if (nif.hw_addr(self) != 6) return;
  send_nd(nif, IP6_ANY, unicast ? target : solicited_node(target), body, nd_build_ns(body, target, self));
}

// Sends what a NUD step asks for, then the held packet if it may go.
void act(Netif& nif, const IpAddr& a, const NudStep& s, PacketBuf send) {
  if (s.send != NudStep::None) solicit(nif, a, s.send == NudStep::Unicast);
  if (!send.empty()) (void)nif.output6(static_cast<PacketBuf&&>(send), a);
}

// a's link-layer address from a message's option (RFC 4861 7.2.3,
// 6.3.4), creating the entry if `create`.
void learn(Netif& nif, const IpAddr& a, const uint8_t mac[6], bool create) {
  if (a.any() || a.multicast6()) return;
  PacketBuf send, drop;
  NudStep s;
  {
    SpinGuard g(g_lock);
    Neighbor* n = find_locked(nif.index(), a);
    if (!n && !create) return;
    if (!n) n = add_locked(nif.index(), a, drop);
    s = nud_lladdr(n->nud, mac);
    n->used_at = uptime_ns();
    if (s.flush) send = static_cast<PacketBuf&&>(n->held);
  }
  act(nif, a, s, static_cast<PacketBuf&&>(send));
}

// Starts duplicate address detection of `a` (RFC 4862 5.4.2): a
// Neighbor Solicitation from :: now, the verdict RetransTimer later.
void start_dad(Netif& nif, const IpAddr& a) {
  bool send = false;
  uint64_t next = 0;
  {
    SpinGuard g(g_lock);
    DadAddr* slot = nullptr;
    for (DadAddr& d : g_dad)
      if (!d.used) {
        slot = &d;
        break;
      }
    if (slot) {
      *slot = DadAddr{true, nif.index(), a, {}};
      send = dad_step(slot->dad, uptime_ns(), DAD_TRANSMITS, g_times.retrans_ns);
      next = slot->dad.deadline;
    }
  }
  if (!next) {  // no room to watch it (or no detection): the address is simply ours
    netif_flag_addr6(nif.index(), a, 0, Addr6Flags::OPTIMISTIC);
    return;
  }
  if (send) {
    // RFC 4862 5.4.2: from ::, to the solicited-node group, no link-layer option.
    uint8_t body[32];
    send_nd(nif, IP6_ANY, solicited_node(a), body, nd_build_ns(body, a, nullptr), true);
  }
  schedule(next);
}

// DAD found `a` in use by another node (RFC 4862 5.4.5): logged, never used.
void duplicate(Netif& nif, const IpAddr& a) {
  bool was = false;
  {
    SpinGuard g(g_lock);
    for (DadAddr& d : g_dad)
      if (d.used && d.nif == nif.index() && d.addr == a && d.dad.state == Dad::Tentative) {
        dad_conflict(d.dad);
        d.used = false;
        was = true;
      }
  }
  if (!was) return;
  netif_flag_addr6(nif.index(), a, Addr6Flags::DUPLICATE, Addr6Flags::OPTIMISTIC);
  char text[IP6_TEXT];
  ip6_text(a, text);
  log_warn("ipv6: {}: {} is used by another node (duplicate address detection); not using it", nif.name(),
           StringView(text));
}

bool tentative_locked(uint32_t nif, const IpAddr& a) REQUIRES(g_lock) {
  for (const DadAddr& d : g_dad)
    if (d.used && d.nif == nif && d.addr == a && d.dad.state == Dad::Tentative) return true;
  return false;
}

void router_advert(Netif& nif, const IpAddr& src, const NdMessage& m) {
  const uint64_t now = uptime_ns();
  {
    // RFC 4861 6.3.4: the RA's ReachableTime and RetransTimer when given.
    SpinGuard g(g_lock);
    if (m.reachable_ms) g_times.reachable_ns = uint64_t(m.reachable_ms) * 1'000'000;
    if (m.retrans_ms) g_times.retrans_ns = uint64_t(m.retrans_ms) * 1'000'000;
  }
  if (m.has_slla) learn(nif, src, m.slla, true);
  uint8_t mac[6];
  if (nif.hw_addr(mac) != 6) return;
  // RFC 4862 5.5.3: an autonomous prefix of 64 bits (the interface
  // identifier's length on Ethernet) gives an address, or new lifetimes
  // to the one it gave.
  for (int i = 0; i < m.nprefixes && g_slaac.load(std::memory_order_relaxed); ++i) {
    const NdPrefix& p = m.prefixes[i];
    if (!p.autonomous || p.len != 64 || p.preferred > p.valid || p.prefix.link_local6()) continue;
    const IpAddr a = eui64_address(p.prefix, mac);
    Addr6 have;
    if (netif_addr6(nif.index(), a, have)) {
      Lifetime l{have.valid_until, have.preferred_until};
      lifetime_update(l, now, p.valid, p.preferred);
      netif_update_addr6(nif.index(), a, l.valid, l.preferred);
      schedule(l.valid);
      continue;
    }
    if (p.valid == 0) continue;
    const Lifetime l = lifetime_new(now, p.valid, p.preferred);
    if (!netif_add_addr6(nif, a, 64, Addr6Flags::OPTIMISTIC | Addr6Flags::AUTOCONF, l.valid, l.preferred).ok())
      continue;
    schedule(l.valid);
    start_dad(nif, a);
  }
  // RFC 4861 6.3.4: a router lifetime above 0 makes it the default router
  // until it ends; 0 takes it off the default route.
  if (g_ra_router.load(std::memory_order_relaxed)) {
    Netif* via = nullptr;
    const IpAddr gw = route6_gateway(&via);
    if (m.router_lifetime) route6_set_gateway(src, &nif, nd_deadline(now, m.router_lifetime));
    else if (gw == src && via == &nif) route6_set_gateway(IP6_ANY, nullptr);
  }
  // RFC 8106 5.3.1: each server for its lifetime (0: no more), the newest
  // first when there are more than resolv.conf takes.
  {
    SpinGuard g(g_lock);
    for (int i = 0; i < m.ndns; ++i) {
      DnsServer* slot = nullptr;
      for (DnsServer& d : g_dns)
        if (d.until && d.addr == m.dns[i]) slot = &d;
      if (!m.dns_lifetime[i]) {
        if (slot) *slot = DnsServer{};
        continue;
      }
      if (!slot) {
        slot = &g_dns[0];
        for (DnsServer& d : g_dns)
          if (d.until < slot->until) slot = &d;  // a free one (0) or the one ending first
      }
      *slot = DnsServer{m.dns[i], nd_deadline(now, m.dns_lifetime[i])};
    }
  }
  if (!g_ra_seen.exchange(true)) g_ra_sem.up();
}

// The timer: NUD's states, DAD's verdicts, Router Solicitations and the
// end of address lifetimes; re-armed at the earliest next deadline.
void tick(KernelTimer&) {
  {
    MutexGuard g(g_timer_mu);
    g_timer_at.store(0, std::memory_order_release);
  }
  const uint64_t now = uptime_ns();
  uint64_t next = netif_expire_addr6(now);
  struct Todo {
    uint32_t nif;
    IpAddr addr;
    NudStep step;
  } todo[MAX_NEIGHBORS];
  size_t ntodo = 0;
  struct Verdict {
    uint32_t nif;
    IpAddr addr;
    bool done, send;
  } dads[MAX_DAD];
  size_t ndad = 0;
  PacketBuf dropped[MAX_NEIGHBORS];
  size_t ndropped = 0;
  uint32_t rs_nif = 0;
  {
    SpinGuard g(g_lock);
    for (Neighbor& n : g_cache) {
      if (!n.used) continue;
      NudStep s = nud_timer(n.nud, now, g_times);
      if (s.give_up) {  // unreachable: forgotten, its held packet dropped
        dropped[ndropped++] = static_cast<PacketBuf&&>(n.held);
        n = Neighbor{};
        continue;
      }
      if (s.send != NudStep::None) todo[ntodo++] = Todo{n.nif, n.addr, s};
      // REACHABLE's end needs no timer: the next packet finds it passed.
      if (n.nud.deadline && n.nud.state != Nud::Reachable && n.nud.deadline < next) next = n.nud.deadline;
    }
    for (DadAddr& d : g_dad) {
      if (!d.used) continue;
      const bool send = dad_step(d.dad, now, DAD_TRANSMITS, g_times.retrans_ns);
      const bool done = d.dad.state == Dad::Done;
      if (send || done) dads[ndad++] = Verdict{d.nif, d.addr, done, send};
      if (done) d.used = false;
      else if (d.dad.deadline < next) next = d.dad.deadline;
    }
    if (g_rs_nif && !g_ra_seen.load(std::memory_order_relaxed) && g_rs_sent < MAX_RTR_SOLICITATIONS) {
      if (now >= g_rs_next) {
        rs_nif = g_rs_nif;
        ++g_rs_sent;
        g_rs_next = now + RTR_SOLICITATION_INTERVAL_NS;
      }
      if (g_rs_sent < MAX_RTR_SOLICITATIONS && g_rs_next < next) next = g_rs_next;
    }
    for (DnsServer& d : g_dns)
      if (d.until && d.until <= now) d = DnsServer{};
  }
  for (size_t i = 0; i < ntodo; ++i)
    if (Netif* nif = netif_by_index(todo[i].nif)) act(*nif, todo[i].addr, todo[i].step, {});
  for (size_t i = 0; i < ndad; ++i) {
    Netif* nif = netif_by_index(dads[i].nif);
    if (!nif) continue;
    if (dads[i].done) {
      netif_flag_addr6(dads[i].nif, dads[i].addr, 0, Addr6Flags::OPTIMISTIC);  // RFC 4862 5.4: ours now
    } else if (dads[i].send) {
      uint8_t body[32];
      send_nd(*nif, IP6_ANY, solicited_node(dads[i].addr), body, nd_build_ns(body, dads[i].addr, nullptr), true);
    }
  }
  if (rs_nif) {
    if (Netif* nif = netif_by_index(rs_nif)) {
      uint8_t mac[6], body[16];
      if (nif->hw_addr(mac) == 6) send_nd(*nif, IP6_ANY, IP6_ALL_ROUTERS, body, nd_build_rs(body, mac));
    }
  }
  schedule(next);
}

}  // namespace

bool nd_resolve(Netif& nif, const IpAddr& next_hop, uint8_t mac[6], PacketBuf& pkt) {
  PacketBuf evicted, drop;  // freed after the lock
  NudStep s;
  uint64_t deadline;
  {
    SpinGuard g(g_lock);
    const uint64_t now = uptime_ns();
    Neighbor* n = find_locked(nif.index(), next_hop);
    if (!n) n = add_locked(nif.index(), next_hop, evicted);
    n->used_at = now;
    s = nud_output(n->nud, now, g_times);
    deadline = n->nud.deadline;
    if (s.usable) {
      __builtin_memcpy(mac, n->nud.mac, 6);
    } else {
      drop = static_cast<PacketBuf&&>(n->held);  // one packet waits, the newest (Linux keeps a few)
      n->held = static_cast<PacketBuf&&>(pkt);
    }
  }
  if (s.send != NudStep::None) solicit(nif, next_hop, s.send == NudStep::Unicast);
  schedule(deadline);
  return s.usable;
}

void nd_link_up(Netif& nif, NdOptions opts) {
  g_slaac.store(opts.slaac, std::memory_order_relaxed);
  g_ra_router.store(opts.router, std::memory_order_relaxed);
  uint8_t mac[6];
  if (nif.hw_addr(mac) != 6) return;
  const IpAddr ll = eui64_address(IpAddr{{0xfe, 0x80}}, mac);
  if (!netif_add_addr6(nif, ll, 64, Addr6Flags::OPTIMISTIC).ok()) return;
  start_dad(nif, ll);
  // RFC 4861 6.3.7: ask the routers to advertise now (the timer asks again).
  {
    SpinGuard g(g_lock);
    g_rs_nif = nif.index();
    g_rs_sent = 1;
    g_rs_next = uptime_ns() + RTR_SOLICITATION_INTERVAL_NS;
  }
  uint8_t body[16];
  send_nd(nif, ll, IP6_ALL_ROUTERS, body, nd_build_rs(body, mac));
  schedule(uptime_ns() + RTR_SOLICITATION_INTERVAL_NS);
}

Result<void> nd_add_static(Netif& nif, const IpAddr& a, unsigned prefix) {
  TRY(netif_add_addr6(nif, a, prefix, Addr6Flags::OPTIMISTIC));
  start_dad(nif, a);
  return {};
}

void nd_confirm(const IpAddr& dst, uint32_t scope) {
  auto r = route6_lookup(dst, scope);
  if (!r.ok() || (r.value().nif->flags() & NetifFlags::LOOPBACK)) return;
  SpinGuard g(g_lock);
  if (Neighbor* n = find_locked(r.value().nif->index(), r.value().next_hop)) nud_confirm(n->nud, uptime_ns(), g_times);
}

bool nd_wait_router(uint64_t deadline_ns) {
  if (g_ra_seen.load(std::memory_order_acquire)) return true;
  if (!g_ra_sem.down_until(deadline_ns)) return false;
  g_ra_sem.up();  // for any other waiter
  return true;
}

size_t nd_dns_servers(IpAddr* out, size_t max) {
  SpinGuard g(g_lock);
  const uint64_t now = uptime_ns();
  size_t n = 0;
  for (const DnsServer& d : g_dns)
    if (d.until > now && n < max) out[n++] = d.addr;
  return n;
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
      Addr6 ours;
      if (!netif_addr6(nif.index(), m.target, ours) || (ours.flags & Addr6Flags::DUPLICATE)) return;
      const bool dad = h.src.any();
      bool tentative;
      {
        SpinGuard g(g_lock);
        tentative = tentative_locked(nif.index(), m.target);
      }
      // RFC 4862 5.4.3: another node's DAD for an address still tentative
      // here: it is theirs as much as ours, so neither has it.
      if (dad && tentative) return duplicate(nif, m.target);
      if (!dad && m.has_slla) learn(nif, h.src, m.slla, true);
      uint8_t mac[6], body[32];
      if (nif.hw_addr(mac) != 6) return;
      // RFC 4429 3.3: an optimistic address is answered without Override.
      send_nd(nif, m.target, dad ? IP6_ALL_NODES : h.src, body,
              nd_build_na(body, m.target, mac, !dad, !(ours.flags & Addr6Flags::OPTIMISTIC)));
      return;
    }
    case ND_NEIGHBOR_ADVERT: {
      // RFC 4862 5.4.4: an answer for an address in detection is a duplicate.
      Addr6 ours;
      if (netif_addr6(nif.index(), m.target, ours)) {
        bool tentative;
        {
          SpinGuard g(g_lock);
          tentative = tentative_locked(nif.index(), m.target);
        }
        if (tentative) duplicate(nif, m.target);
        return;
      }
      // RFC 4861 7.2.5: an entry we have is updated (NUD's rules).
      PacketBuf send;
      NudStep s;
      {
        SpinGuard g(g_lock);
        Neighbor* n = find_locked(nif.index(), m.target);
        if (!n) return;
        s = nud_advert(n->nud, m.has_tlla ? m.tlla : nullptr, m.solicited, m.override_, uptime_ns(), g_times);
        if (s.flush) send = static_cast<PacketBuf&&>(n->held);
      }
      act(nif, m.target, NudStep{}, static_cast<PacketBuf&&>(send));
      return;
    }
    case ND_ROUTER_ADVERT: router_advert(nif, h.src, m); return;
    default: return;  // RS (we are no router), Redirect (not followed)
  }
}

}  // namespace capsule::net
