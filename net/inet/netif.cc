// Interfaces and the routing table (net/include/net/netif.h, docs/net.md).
//
// Interfaces are registered once and never removed, so a Netif* read from
// the table stays valid without a reference. The table and the routes sit
// under one spinlock (a leaf: nothing is called while it is held).
#include "net/netif.h"

#include "arch/spinlock.h"
#include "net/inet/loopback.h"

namespace capsule::net {
namespace {

SpinLock g_lock;
Netif* g_netifs[MAX_NETIFS] GUARDED_BY(g_lock) = {};
size_t g_count GUARDED_BY(g_lock) = 0;
Ipv4 g_gateway GUARDED_BY(g_lock);
Netif* g_gateway_nif GUARDED_BY(g_lock) = nullptr;

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

bool is_local_addr(Ipv4 a) {
  if (a.loopback()) return true;
  SpinGuard g(g_lock);
  for (size_t i = 0; i < g_count; ++i)
    if (!g_netifs[i]->addr().any() && g_netifs[i]->addr() == a) return true;
  return false;
}

}  // namespace capsule::net
