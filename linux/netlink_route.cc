// NETLINK_ROUTE (rtnetlink(7); include/uapi/linux/{rtnetlink,if_link,
// if_addr}.h for the layouts): what Capsule's network looks like to
// getifaddrs(), if_nameindex(), glibc's AI_ADDRCONFIG check and iproute2.
// Read-only, like the SIOCGIF* ioctls (linux/socket_ifreq.cc): the
// configuration comes from DHCP, --ip or SLAAC, so NEW/DEL/SET requests are
// EOPNOTSUPP (EPERM without CAP_NET_ADMIN, as Linux checks that first).
//
//   RTM_GETLINK   dump, or one link by index or IFLA_IFNAME (ENODEV)
//   RTM_GETADDR   dump (IPv4 addresses, then IPv6 ones; a family asks for its own)
//   RTM_GETROUTE  dump of the main and local tables (IPv4, then IPv6), or
//                 a lookup (`ip [-6] route get`: RTA_DST; ENETUNREACH)
#include "core/time.h"
#include "linux/netlink_msg.h"
#include "net/netif.h"

namespace capsule::linux_abi::netlink {

namespace {

constexpr uint16_t RTM_BASE = 16, RTM_NEWLINK = 16, RTM_GETLINK = 18, RTM_NEWADDR = 20, RTM_GETADDR = 22,
                   RTM_NEWROUTE = 24, RTM_GETROUTE = 26;
constexpr uint8_t L_AF_UNSPEC = 0, L_AF_INET = 2, L_AF_INET6 = 10;
constexpr uint16_t ARPHRD_ETHER = 1, ARPHRD_LOOPBACK = 772;
constexpr uint32_t IFF_LOWER_UP = 0x10000;
constexpr uint16_t IFLA_ADDRESS = 1, IFLA_BROADCAST = 2, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_STATS = 7,
                   IFLA_TXQLEN = 13, IFLA_OPERSTATE = 16, IFLA_LINKMODE = 17, IFLA_STATS64 = 23, IFLA_GROUP = 27,
                   IFLA_PROMISCUITY = 30, IFLA_NUM_TX_QUEUES = 31, IFLA_NUM_RX_QUEUES = 32, IFLA_CARRIER = 33;
constexpr uint8_t IF_OPER_UNKNOWN = 0, IF_OPER_DOWN = 2, IF_OPER_UP = 6;
constexpr uint16_t IFA_ADDRESS = 1, IFA_LOCAL = 2, IFA_LABEL = 3, IFA_BROADCAST = 4, IFA_CACHEINFO = 6,
                   IFA_FLAGS = 8;
constexpr uint8_t IFA_F_OPTIMISTIC = 0x04, IFA_F_DADFAILED = 0x08, IFA_F_DEPRECATED = 0x20, IFA_F_TENTATIVE = 0x40,
                  IFA_F_PERMANENT = 0x80;
constexpr uint8_t RT_SCOPE_UNIVERSE = 0, RT_SCOPE_LINK = 253, RT_SCOPE_HOST = 254;
constexpr uint8_t RT_TABLE_MAIN = 254, RT_TABLE_LOCAL = 255;
constexpr uint8_t RTPROT_UNSPEC = 0, RTPROT_KERNEL = 2, RTPROT_BOOT = 3, RTPROT_RA = 9;
constexpr uint8_t RTN_UNICAST = 1, RTN_LOCAL = 2, RTN_BROADCAST = 3;
constexpr uint32_t RTM_F_CLONED = 0x200;
constexpr uint16_t RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PRIORITY = 6, RTA_PREFSRC = 7, RTA_TABLE = 15,
                   RTA_PREF = 20;

struct IfInfoMsg {
  uint8_t family, pad;
  uint16_t type;
  int32_t index;
  uint32_t flags, change;
};
static_assert(sizeof(IfInfoMsg) == 16);
struct IfAddrMsg {
  uint8_t family, prefixlen, flags, scope;
  uint32_t index;
};
static_assert(sizeof(IfAddrMsg) == 8);
struct RtMsg {
  uint8_t family, dst_len, src_len, tos, table, protocol, scope, type;
  uint32_t flags;
};
static_assert(sizeof(RtMsg) == 12);
struct IfaCacheinfo {
  uint32_t prefered, valid, cstamp, tstamp;
};

// An address in network byte order, as attributes carry it.
uint32_t wire(net::Ipv4 a) { return __builtin_bswap32(a.v); }

template <typename T>
T fixed_header(const Request& r) {
  T t{};
  __builtin_memcpy(&t, r.payload, r.len < sizeof t ? r.len : sizeof t);
  return t;
}

Result<void> link_message(net::Netif& nif, uint16_t flags, const Request& r, Sink& out) {
  const bool lo = nif.flags() & net::NetifFlags::LOOPBACK;
  Message m(RTM_NEWLINK, flags, r);
  IfInfoMsg h{};
  h.family = L_AF_UNSPEC;
  h.type = lo ? ARPHRD_LOOPBACK : ARPHRD_ETHER;
  h.index = int32_t(nif.index());
  h.flags = nif.flags() | ((nif.flags() & net::NetifFlags::RUNNING) ? IFF_LOWER_UP : 0);
  m.put(&h, sizeof h);
  m.attr_str(IFLA_IFNAME, nif.name());
  m.attr_u32(IFLA_TXQLEN, 1000);
  // Linux reports lo's state as unknown (it has no carrier to track).
  m.attr_u8(IFLA_OPERSTATE, lo ? IF_OPER_UNKNOWN : (nif.flags() & net::NetifFlags::RUNNING) ? IF_OPER_UP : IF_OPER_DOWN);
  m.attr_u8(IFLA_LINKMODE, 0);
  m.attr_u32(IFLA_MTU, nif.mtu());
  m.attr_u32(IFLA_GROUP, 0);
  m.attr_u32(IFLA_PROMISCUITY, 0);
  m.attr_u32(IFLA_NUM_TX_QUEUES, 1);
  m.attr_u32(IFLA_NUM_RX_QUEUES, 1);
  m.attr_u8(IFLA_CARRIER, (nif.flags() & net::NetifFlags::RUNNING) ? 1 : 0);
  uint8_t hw[16] = {};
  size_t hn = nif.hw_addr(hw);
  if (hn == 0) hn = 6;  // lo: 00:00:00:00:00:00
  m.attr(IFLA_ADDRESS, hw, hn);
  uint8_t bcast[16];
  __builtin_memset(bcast, lo ? 0 : 0xff, sizeof bcast);
  m.attr(IFLA_BROADCAST, bcast, hn);
  // struct rtnl_link_stats64 and rtnl_link_stats: 24 counters each, the
  // first eight what the link counts.
  net::Netif::Counters c = nif.counters();
  uint64_t s64[24] = {c.rx_packets, c.tx_packets, c.rx_bytes, c.tx_bytes,
                      c.rx_errors,  c.tx_errors,  c.rx_dropped, c.tx_dropped};
  m.attr(IFLA_STATS64, s64, sizeof s64);
  uint32_t s32[24];
  for (size_t i = 0; i < 24; ++i) s32[i] = uint32_t(s64[i]);
  m.attr(IFLA_STATS, s32, sizeof s32);
  return out.add(m);
}

Result<void> addr_message(net::Netif& nif, uint16_t flags, const Request& r, Sink& out) {
  const bool lo = nif.flags() & net::NetifFlags::LOOPBACK;
  const net::Ipv4 a = nif.addr();
  const unsigned prefix = nif.prefix();
  Message m(RTM_NEWADDR, flags, r);
  IfAddrMsg h{L_AF_INET, uint8_t(prefix), IFA_F_PERMANENT, lo ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE, nif.index()};
  m.put(&h, sizeof h);
  m.attr_u32(IFA_ADDRESS, wire(a));
  m.attr_u32(IFA_LOCAL, wire(a));
  if (!lo && prefix < 31) m.attr_u32(IFA_BROADCAST, wire(net::Ipv4{a.v | ~net::prefix_mask(prefix)}));
  m.attr_str(IFA_LABEL, nif.name());
  m.attr_u32(IFA_FLAGS, IFA_F_PERMANENT);
  IfaCacheinfo ci{0xffffffffu, 0xffffffffu, 0, 0};
  m.attr(IFA_CACHEINFO, &ci, sizeof ci);
  return out.add(m);
}

// Seconds left until `until` (uptime ns), 0xffffffff for ever.
uint32_t seconds_left(uint64_t until, uint64_t now) {
  if (until == net::ADDR6_FOREVER) return 0xffffffffu;
  return until <= now ? 0 : uint32_t((until - now) / 1'000'000'000ull);
}

// An IPv6 address (inet6_fill_ifaddr): IFA_ADDRESS only, the scope by the
// address (::1 host, fe80::/10 link); SLAAC's with its lifetimes, the
// others permanent; DAD's state as Linux's flags (optimistic while it
// runs, dadfailed + tentative after a duplicate), deprecated once its
// preferred lifetime ended.
Result<void> addr6_message(const net::Addr6& a, uint16_t flags, const Request& r, Sink& out) {
  net::Netif* nif = net::netif_by_index(a.nif);
  if (!nif) return {};
  const uint64_t now = uptime_ns();
  uint32_t f = a.flags & net::Addr6Flags::AUTOCONF ? 0 : IFA_F_PERMANENT;
  if (a.flags & net::Addr6Flags::OPTIMISTIC) f |= IFA_F_OPTIMISTIC;
  if (a.flags & net::Addr6Flags::DUPLICATE) f |= IFA_F_DADFAILED | IFA_F_TENTATIVE;
  if (a.preferred_until <= now) f |= IFA_F_DEPRECATED;
  Message m(RTM_NEWADDR, flags, r);
  IfAddrMsg h{L_AF_INET6, a.prefix, uint8_t(f), a.scope, a.nif};
  m.put(&h, sizeof h);
  m.attr(IFA_ADDRESS, a.addr.b, 16);
  IfaCacheinfo ci{seconds_left(a.preferred_until, now), seconds_left(a.valid_until, now), 0, 0};
  m.attr(IFA_CACHEINFO, &ci, sizeof ci);
  m.attr_u32(IFA_FLAGS, f);
  return out.add(m);
}

struct RouteInfo {
  uint8_t table, protocol, scope, type, dst_len;
  uint32_t flags;
  net::Ipv4 dst, gateway, prefsrc;
  uint32_t oif;
};

Result<void> route_message(const RouteInfo& ri, uint16_t flags, const Request& r, Sink& out) {
  Message m(RTM_NEWROUTE, flags, r);
  RtMsg h{L_AF_INET, ri.dst_len, 0, 0, ri.table, ri.protocol, ri.scope, ri.type, ri.flags};
  m.put(&h, sizeof h);
  m.attr_u32(RTA_TABLE, ri.table);
  if (ri.dst_len) m.attr_u32(RTA_DST, wire(ri.dst));
  if (!ri.prefsrc.any()) m.attr_u32(RTA_PREFSRC, wire(ri.prefsrc));
  if (!ri.gateway.any()) m.attr_u32(RTA_GATEWAY, wire(ri.gateway));
  m.attr_u32(RTA_OIF, ri.oif);
  return out.add(m);
}

Result<void> dump_links(const Request& r, Sink& out) {
  for (uint32_t i = 1; net::Netif* nif = net::netif_by_index(i); ++i) TRY(link_message(*nif, NLM_F_MULTI, r, out));
  return {};
}

Result<void> dump_addrs(const Request& r, Sink& out) {
  // Linux dumps each family in turn: IPv4, then IPv6 (AF_UNSPEC asks for both).
  const uint8_t family = fixed_header<IfAddrMsg>(r).family;
  if (family != L_AF_INET6)
    for (uint32_t i = 1; net::Netif* nif = net::netif_by_index(i); ++i)
      if (!nif->addr().any()) TRY(addr_message(*nif, NLM_F_MULTI, r, out));
  if (family == L_AF_INET) return {};
  net::Addr6 a6[net::MAX_NETIFS * net::MAX_ADDR6];
  size_t n = net::netif_addrs6(a6, net::MAX_NETIFS * net::MAX_ADDR6);
  for (size_t i = 0; i < n && i < net::MAX_NETIFS * net::MAX_ADDR6; ++i) TRY(addr6_message(a6[i], NLM_F_MULTI, r, out));
  return {};
}

// The routes Linux would have for the same configuration: in main, the
// default route and a connected route per (non-loopback) interface; in
// local, each address, lo's 127/8, and the broadcast addresses.
// An IPv6 route (rt6_fill_node): the table, the destination prefix, the
// gateway (any: none), the interface and the metric.
struct Route6Info {
  uint8_t table, protocol, type, dst_len;
  net::IpAddr dst, gateway;
  uint32_t oif, metric;
  net::IpAddr prefsrc = {};  // any: none
  uint32_t flags = 0;
};

Result<void> route6_message(const Route6Info& ri, uint16_t flags, const Request& r, Sink& out) {
  Message m(RTM_NEWROUTE, flags, r);
  RtMsg h{L_AF_INET6, ri.dst_len, 0, 0, ri.table, ri.protocol, RT_SCOPE_UNIVERSE, ri.type, ri.flags};
  m.put(&h, sizeof h);
  m.attr_u32(RTA_TABLE, ri.table);
  if (ri.dst_len) m.attr(RTA_DST, ri.dst.b, 16);
  m.attr_u32(RTA_PRIORITY, ri.metric);
  if (!ri.prefsrc.any()) m.attr(RTA_PREFSRC, ri.prefsrc.b, 16);
  if (!ri.gateway.any()) m.attr(RTA_GATEWAY, ri.gateway.b, 16);
  m.attr_u32(RTA_OIF, ri.oif);
  if (ri.table == RT_TABLE_MAIN) m.attr_u8(RTA_PREF, 0);  // ICMPV6_ROUTER_PREF_MEDIUM: "pref medium"
  return out.add(m);
}

// The IPv6 routes Linux has for the same addresses: in main, each
// address's prefix (::1/128 on lo, fe80::/64 and SLAAC's /64 on a link,
// proto kernel, metric 256) and the default router (proto ra, 1024); in
// local, each address.
Result<void> dump_routes6(const Request& r, Sink& out) {
  net::Addr6 a6[net::MAX_NETIFS * net::MAX_ADDR6];
  size_t n = net::netif_addrs6(a6, net::MAX_NETIFS * net::MAX_ADDR6);
  if (n > net::MAX_NETIFS * net::MAX_ADDR6) n = net::MAX_NETIFS * net::MAX_ADDR6;
  for (size_t i = 0; i < n; ++i) {
    net::IpAddr p;
    for (unsigned b = 0; b < a6[i].prefix / 8u && b < 16; ++b) p.b[b] = a6[i].addr.b[b];
    bool seen = false;  // one route per prefix and link
    for (size_t k = 0; k < i; ++k)
      seen |= a6[k].nif == a6[i].nif && a6[k].prefix == a6[i].prefix && a6[k].addr.same_prefix(p, a6[i].prefix);
    if (!seen)
      TRY(route6_message({RT_TABLE_MAIN, RTPROT_KERNEL, RTN_UNICAST, a6[i].prefix, p, {}, a6[i].nif, 256},
                         NLM_F_MULTI, r, out));
  }
  net::Netif* via = nullptr;
  net::IpAddr gw = net::route6_gateway(&via);
  if (!gw.any() && via)
    TRY(route6_message({RT_TABLE_MAIN, RTPROT_RA, RTN_UNICAST, 0, {}, gw, via->index(), 1024}, NLM_F_MULTI, r, out));
  for (size_t i = 0; i < n; ++i)
    TRY(route6_message({RT_TABLE_LOCAL, RTPROT_KERNEL, RTN_LOCAL, 128, a6[i].addr, {}, a6[i].nif, 0}, NLM_F_MULTI,
                       r, out));
  return {};
}

Result<void> dump_routes(const Request& r, Sink& out) {
  // Each family in turn, as Linux: AF_UNSPEC asks for both.
  const uint8_t family = fixed_header<RtMsg>(r).family;
  if (family == L_AF_INET6) return dump_routes6(r, out);
  net::Netif* via = nullptr;
  net::Ipv4 gw = net::route_gateway(&via);
  if (!gw.any() && via)
    TRY(route_message({RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0, 0, {}, gw, {}, via->index()},
                      NLM_F_MULTI, r, out));
  for (uint32_t i = 1; net::Netif* nif = net::netif_by_index(i); ++i) {
    if (nif->addr().any() || (nif->flags() & net::NetifFlags::LOOPBACK)) continue;
    const uint32_t mask = net::prefix_mask(nif->prefix());
    TRY(route_message({RT_TABLE_MAIN, RTPROT_KERNEL, RT_SCOPE_LINK, RTN_UNICAST, uint8_t(nif->prefix()), 0,
                       net::Ipv4{nif->addr().v & mask}, {}, nif->addr(), nif->index()},
                      NLM_F_MULTI, r, out));
  }
  for (uint32_t i = 1; net::Netif* nif = net::netif_by_index(i); ++i) {
    const net::Ipv4 a = nif->addr();
    if (a.any()) continue;
    const uint32_t mask = net::prefix_mask(nif->prefix());
    if (nif->flags() & net::NetifFlags::LOOPBACK)
      TRY(route_message({RT_TABLE_LOCAL, RTPROT_KERNEL, RT_SCOPE_HOST, RTN_LOCAL, uint8_t(nif->prefix()), 0,
                         net::Ipv4{a.v & mask}, {}, a, nif->index()},
                        NLM_F_MULTI, r, out));
    TRY(route_message({RT_TABLE_LOCAL, RTPROT_KERNEL, RT_SCOPE_HOST, RTN_LOCAL, 32, 0, a, {}, a, nif->index()},
                      NLM_F_MULTI, r, out));
    if (nif->prefix() < 31)
      TRY(route_message({RT_TABLE_LOCAL, RTPROT_KERNEL, RT_SCOPE_LINK, RTN_BROADCAST, 32, 0,
                         net::Ipv4{a.v | ~mask}, {}, a, nif->index()},
                        NLM_F_MULTI, r, out));
  }
  if (family == L_AF_UNSPEC) return dump_routes6(r, out);
  return {};
}

// RTM_GETLINK without NLM_F_DUMP: by ifi_index, else by IFLA_IFNAME.
Result<void> get_link(const Request& r, Sink& out) {
  if (r.len < sizeof(IfInfoMsg)) return Error::Invalid;
  IfInfoMsg h = fixed_header<IfInfoMsg>(r);
  net::Netif* nif = nullptr;
  if (h.index > 0) {
    nif = net::netif_by_index(uint32_t(h.index));
  } else {
    size_t n;
    const uint8_t* name = find_attr(r, sizeof(IfInfoMsg), IFLA_IFNAME, &n);
    if (!name) return Error::Invalid;
    char buf[16] = {};
    if (n > 15) n = 15;
    __builtin_memcpy(buf, name, n);
    nif = net::netif_by_name(buf);
  }
  if (!nif) return Error::NoDevice;
  return link_message(*nif, 0, r, out);
}

// RTM_GETROUTE without NLM_F_DUMP: the route to RTA_DST, as `ip route get`
// shows it (a cloned /32 entry).
Result<void> get_route(const Request& r, Sink& out) {
  if (r.len < sizeof(RtMsg)) return Error::Invalid;
  RtMsg h = fixed_header<RtMsg>(r);
  if (h.family == L_AF_INET6) {
    // `ip -6 route get`: the route to RTA_DST (16 bytes), its source.
    size_t n6;
    net::IpAddr dst6;
    if (const uint8_t* d = find_attr(r, sizeof(RtMsg), RTA_DST, &n6)) {
      if (n6 != 16) return Error::Invalid;
      __builtin_memcpy(dst6.b, d, 16);
    }
    if (dst6.is_v4()) return Error::NetUnreach;
    net::Route6 rt = TRY(net::route6_lookup(dst6));
    const bool local = net::is_local_addr6(dst6);
    Route6Info ri{local ? RT_TABLE_LOCAL : RT_TABLE_MAIN, RTPROT_KERNEL, local ? RTN_LOCAL : RTN_UNICAST, 128, dst6,
                  rt.next_hop == dst6 ? net::IpAddr{} : rt.next_hop, rt.nif ? rt.nif->index() : 0,
                  local ? 0u : 256u, rt.src, RTM_F_CLONED};
    return route6_message(ri, 0, r, out);
  }
  if (h.family != L_AF_INET) return Error::OpNotSupported;
  size_t n;
  net::Ipv4 dst;
  if (const uint8_t* d = find_attr(r, sizeof(RtMsg), RTA_DST, &n)) {
    if (n != 4) return Error::Invalid;
    uint32_t w;
    __builtin_memcpy(&w, d, 4);
    dst = net::Ipv4{__builtin_bswap32(w)};
  }
  net::Route rt = TRY(net::route_lookup(dst));
  const bool local = net::is_local_addr(dst);
  RouteInfo ri{local ? RT_TABLE_LOCAL : RT_TABLE_MAIN, RTPROT_UNSPEC, local ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE,
               local ? RTN_LOCAL : RTN_UNICAST, 32, RTM_F_CLONED, dst,
               rt.next_hop == dst ? net::Ipv4{} : rt.next_hop, rt.src, rt.nif ? rt.nif->index() : 0};
  return route_message(ri, 0, r, out);
}

}  // namespace

// rtnetlink_rcv_msg: a type past what exists is EOPNOTSUPP; a request
// without even the family byte is ignored; NEW/DEL/SET need CAP_NET_ADMIN
// (EPERM) before anything else is looked at.
Result<void> route_request(const Request& r, Sink& out, bool* dump) {
  const uint16_t type = r.hdr.type;
  if (type < RTM_BASE || type > 127) return Error::OpNotSupported;
  if (r.len < 1) return {};
  const unsigned kind = (type - RTM_BASE) & 3;  // NEW, DEL, GET, SET
  if (kind != 2) return r.net_admin ? Error::OpNotSupported : Error::Permission;
  if ((r.hdr.flags & NLM_F_DUMP) == NLM_F_DUMP) {
    switch (type) {
      case RTM_GETLINK: *dump = true; return dump_links(r, out);
      case RTM_GETADDR: *dump = true; return dump_addrs(r, out);
      case RTM_GETROUTE: *dump = true; return dump_routes(r, out);
      default: return Error::OpNotSupported;
    }
  }
  switch (type) {
    case RTM_GETLINK: return get_link(r, out);
    case RTM_GETROUTE: return get_route(r, out);
    default: return Error::OpNotSupported;
  }
}

}  // namespace capsule::linux_abi::netlink
