// Interfaces and the routing table (net/include/net/netif.h, docs/net.md).
//
// Interfaces are registered once and never removed, so a Netif* read from
// the table stays valid without a reference. The table and the routes sit
// under one spinlock (a leaf: nothing is called while it is held).
#include "net/netif.h"

#include "arch/spinlock.h"
#include "core/time.h"
#include "net/inet/loopback.h"

namespace capsule::net {
namespace {

SpinLock g_lock;
Netif* g_netifs[MAX_NETIFS] GUARDED_BY(g_lock) = {};
size_t g_count GUARDED_BY(g_lock) = 0;
Ipv4 g_gateway GUARDED_BY(g_lock);
Netif* g_gateway_nif GUARDED_BY(g_lock) = nullptr;
// IPv6: each interface's addresses by its index - 1, and the default router.
Addr6 g_addr6[MAX_NETIFS][MAX_ADDR6] GUARDED_BY(g_lock);
uint8_t g_n6[MAX_NETIFS] GUARDED_BY(g_lock) = {};
IpAddr g_gateway6 GUARDED_BY(g_lock);
Netif* g_gateway6_nif GUARDED_BY(g_lock) = nullptr;
uint64_t g_gateway6_until GUARDED_BY(g_lock) = ADDR6_FOREVER;

uint8_t scope_of(const IpAddr& a) { return a.loopback6() ? 254 : a.link_local6() ? 253 : 0; }

// Interface i is up, not `lo`, and has an IPv6 address.
bool usable6_locked(size_t i, const Netif& lo) REQUIRES(g_lock) {
  const Netif* n = g_netifs[i];
  return n != &lo && (n->flags() & NetifFlags::UP) && g_n6[i] != 0;
}

unsigned common_prefix(const IpAddr& a, const IpAddr& b) {
  unsigned n = 0;
  for (int i = 0; i < 16; ++i) {
    uint8_t x = a.b[i] ^ b.b[i];
    if (!x) {
      n += 8;
      continue;
    }
    while (!(x & 0x80)) x = uint8_t(x << 1), ++n;
    break;
  }
  return n;
}

// Interface i's address for talking to dst (RFC 6724 5): rule 2, the
// destination's scope; rule 3, not deprecated; rule 8, the longest prefix
// in common. A duplicate is never chosen.
bool pick_src6_locked(size_t i, const IpAddr& dst, IpAddr& out) REQUIRES(g_lock) {
  const uint8_t want = scope_of(dst);
  const uint64_t now = uptime_ns();
  int best = -1;
  unsigned best_score = 0;
  for (size_t k = 0; k < g_n6[i]; ++k) {
    const Addr6& a = g_addr6[i][k];
    if (a.flags & Addr6Flags::DUPLICATE) continue;
    unsigned score = (a.scope == want ? 1024u : 0u) + (a.preferred_until > now ? 512u : 0u) + common_prefix(a.addr, dst);
    if (best < 0 || score > best_score) best = int(k), best_score = score;
  }
  if (best < 0) return false;
  out = g_addr6[i][best].addr;
  return true;
}

Addr6* find6_locked(uint32_t nif, const IpAddr& a) REQUIRES(g_lock) {
  if (!nif || nif > g_count) return nullptr;
  for (size_t k = 0; k < g_n6[nif - 1]; ++k)
    if (g_addr6[nif - 1][k].addr == a) return &g_addr6[nif - 1][k];
  return nullptr;
}

bool streq(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

}  // namespace

Result<void> netif_register(Netif& nif) {
  if (!(nif.flags() & NetifFlags::LOOPBACK)) loopback_netif();  // lo is always index 1
  SpinGuard g(g_lock);
  if (g_count == MAX_NETIFS) return Error::Busy;
  nif.index_ = uint32_t(g_count + 1);
  g_netifs[g_count++] = &nif;
  return {};
}

void netif_set_addr(Netif& nif, Ipv4 addr, unsigned prefix) {
  if (prefix > 32) prefix = 32;
  SpinGuard g(g_lock);
  nif.addr_.store(addr.v, std::memory_order_release);
  nif.prefix_.store(prefix, std::memory_order_release);
}

void route_set_gateway(Ipv4 gw, Netif* via) {
  SpinGuard g(g_lock);
  g_gateway = gw;
  g_gateway_nif = via;
}

Ipv4 route_gateway(Netif** via) {
  SpinGuard g(g_lock);
  *via = g_gateway_nif;
  return g_gateway;
}

Netif* netif_by_index(uint32_t index) {
  loopback_netif();
  SpinGuard g(g_lock);
  return index >= 1 && index <= g_count ? g_netifs[index - 1] : nullptr;
}

Netif* netif_by_name(const char* name) {
  loopback_netif();
  SpinGuard g(g_lock);
  for (size_t i = 0; i < g_count; ++i)
    if (streq(g_netifs[i]->name(), name)) return g_netifs[i];
  return nullptr;
}

size_t netif_count() {
  loopback_netif();
  SpinGuard g(g_lock);
  return g_count;
}

Result<Route> route_lookup(Ipv4 dst) {
  Netif& lo = loopback_netif();
  // 127.0.0.0/8 and the host's own addresses never leave the host
  // (Linux's local table comes first).
  if (dst.loopback()) return Route{&lo, dst, dst};
  SpinGuard g(g_lock);
  Netif* best = nullptr;
  unsigned best_prefix = 0;
  for (size_t i = 0; i < g_count; ++i) {
    Netif* n = g_netifs[i];
    if (!(n->flags() & NetifFlags::UP) || n == &lo) continue;
    Ipv4 a = n->addr();
    if (a.any()) continue;
    if (a == dst) return Route{&lo, dst, dst};
    unsigned p = n->prefix();
    uint32_t m = prefix_mask(p);
    if ((dst.v & m) == (a.v & m) && (!best || p > best_prefix)) best = n, best_prefix = p;
  }
  if (best) return Route{best, dst, best->addr()};
  if (dst.broadcast()) {
    // The limited broadcast goes out of the first interface that is up (DHCP).
    for (size_t i = 0; i < g_count; ++i)
      if (g_netifs[i] != &lo && (g_netifs[i]->flags() & NetifFlags::UP)) return Route{g_netifs[i], dst, g_netifs[i]->addr()};
  }
  if (g_gateway_nif && !g_gateway.any()) return Route{g_gateway_nif, g_gateway, g_gateway_nif->addr()};
  return Error::NetUnreach;
}

Result<void> netif_add_addr6(Netif& nif, const IpAddr& a, unsigned prefix, uint8_t flags, uint64_t valid_until,
                             uint64_t preferred_until) {
  if (prefix > 128) prefix = 128;
  SpinGuard g(g_lock);
  if (!nif.index()) return Error::Invalid;
  size_t i = nif.index() - 1;
  for (size_t k = 0; k < g_n6[i]; ++k)
    if (g_addr6[i][k].addr == a) return {};
  if (g_n6[i] == MAX_ADDR6) return Error::Busy;
  g_addr6[i][g_n6[i]++] = Addr6{a, uint8_t(prefix), scope_of(a), nif.index(), flags, valid_until, preferred_until};
  return {};
}

bool netif_addr6(uint32_t nif, const IpAddr& a, Addr6& out) {
  SpinGuard g(g_lock);
  const Addr6* x = find6_locked(nif, a);
  if (x) out = *x;
  return x;
}

void netif_update_addr6(uint32_t nif, const IpAddr& a, uint64_t valid_until, uint64_t preferred_until) {
  SpinGuard g(g_lock);
  if (Addr6* x = find6_locked(nif, a)) x->valid_until = valid_until, x->preferred_until = preferred_until;
}

void netif_flag_addr6(uint32_t nif, const IpAddr& a, uint8_t set, uint8_t clear) {
  SpinGuard g(g_lock);
  if (Addr6* x = find6_locked(nif, a)) x->flags = uint8_t((x->flags & ~clear) | set);
}

uint64_t netif_expire_addr6(uint64_t now) {
  SpinGuard g(g_lock);
  uint64_t next = ADDR6_FOREVER;
  for (size_t i = 0; i < g_count; ++i) {
    for (size_t k = 0; k < g_n6[i];) {
      const Addr6& a = g_addr6[i][k];
      if (a.valid_until <= now) {  // RFC 4862 5.5.4: invalid, removed (order kept)
        for (size_t j = k; j + 1 < g_n6[i]; ++j) g_addr6[i][j] = g_addr6[i][j + 1];
        --g_n6[i];
        continue;
      }
      if (a.valid_until < next) next = a.valid_until;
      ++k;
    }
  }
  return next;
}

size_t netif_addrs6(Addr6* out, size_t max) {
  loopback_netif();
  SpinGuard g(g_lock);
  size_t n = 0;
  for (size_t i = 0; i < g_count; ++i)
    for (size_t k = 0; k < g_n6[i]; ++k, ++n)
      if (n < max) out[n] = g_addr6[i][k];
  return n;
}

void route6_set_gateway(const IpAddr& gw, Netif* via, uint64_t until) {
  SpinGuard g(g_lock);
  g_gateway6 = gw;
  g_gateway6_nif = via;
  g_gateway6_until = until;
}

IpAddr route6_gateway(Netif** via) {
  SpinGuard g(g_lock);
  if (g_gateway6_until <= uptime_ns()) {  // its router lifetime ended (RFC 4861 6.3.5)
    *via = nullptr;
    return IP6_ANY;
  }
  *via = g_gateway6_nif;
  return g_gateway6;
}

Result<Route6> route6_lookup(const IpAddr& dst, uint32_t scope) {
  Netif& lo = loopback_netif();
  if (dst.loopback6()) return Route6{&lo, dst, dst};
  SpinGuard g(g_lock);
  // The host's own addresses never leave it (Linux's local table).
  for (size_t i = 0; i < g_count; ++i)
    for (size_t k = 0; k < g_n6[i]; ++k)
      if (g_addr6[i][k].addr == dst && !(g_addr6[i][k].flags & Addr6Flags::DUPLICATE)) return Route6{&lo, dst, dst};
  // Link-local and multicast destinations name their link (RFC 4007):
  // the scope id, else the first link with IPv6.
  if (dst.link_local6() || dst.multicast6()) {
    for (size_t i = 0; i < g_count; ++i) {
      if (!usable6_locked(i, lo) || (scope && g_netifs[i]->index() != scope)) continue;
      Route6 r{g_netifs[i], dst, {}};
      pick_src6_locked(i, dst, r.src);
      return r;
    }
    return Error::NetUnreach;
  }
  // An on-link prefix (RFC 4861 5.2), the longest.
  size_t best = MAX_NETIFS;
  unsigned best_prefix = 0;
  for (size_t i = 0; i < g_count; ++i) {
    if (!usable6_locked(i, lo)) continue;
    for (size_t k = 0; k < g_n6[i]; ++k) {
      const Addr6& a = g_addr6[i][k];
      if (a.scope != 0 || (a.flags & Addr6Flags::DUPLICATE) || !dst.same_prefix(a.addr, a.prefix)) continue;
      if (best == MAX_NETIFS || a.prefix > best_prefix) best = i, best_prefix = a.prefix;
    }
  }
  if (best != MAX_NETIFS) {
    Route6 r{g_netifs[best], dst, {}};
    if (pick_src6_locked(best, dst, r.src)) return r;
  }
  if (g_gateway6_nif && !g_gateway6.any() && g_gateway6_until > uptime_ns()) {
    for (size_t i = 0; i < g_count; ++i) {
      if (g_netifs[i] != g_gateway6_nif) continue;
      Route6 r{g_gateway6_nif, g_gateway6, {}};
      if (!pick_src6_locked(i, dst, r.src)) break;
      return r;
    }
  }
  return Error::NetUnreach;
}

bool is_local_addr6(const IpAddr& a) {
  if (a.is_v4()) return is_local_addr(Ipv4{a.v4()});
  if (a.loopback6()) return true;
  SpinGuard g(g_lock);
  for (size_t i = 0; i < g_count; ++i)
    for (size_t k = 0; k < g_n6[i]; ++k)
      if (g_addr6[i][k].addr == a) return !(g_addr6[i][k].flags & Addr6Flags::DUPLICATE);
  return false;
}

bool is_local_addr(Ipv4 a) {
  if (a.loopback()) return true;
  SpinGuard g(g_lock);
  for (size_t i = 0; i < g_count; ++i)
    if (!g_netifs[i]->addr().any() && g_netifs[i]->addr() == a) return true;
  return false;
}

}  // namespace capsule::net
