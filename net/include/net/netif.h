#pragma once
// The boundary between the IP layer and network devices (docs/net.md, "How a
// device plugs in"). A device family (loopback here; Ethernet over
// virtio-net in drivers/) implements Netif: output() takes an IPv4
// datagram and the next hop and does the link layer itself (loopback hands
// it straight back to ip_input, Ethernet resolves the hop with ARP). The
// link layer gives every received IPv4 datagram to ip_input(). Interfaces
// are registered once and live forever; the routing table holds a connected
// route per interface address and an optional default gateway.
#include <atomic>
#include <cstdint>

#include "lib/result.h"
#include "net/ip_addr.h"
#include "net/packet.h"

namespace capsule::net {

// An IPv4 address in host byte order (0x7f000001 is 127.0.0.1).
struct Ipv4 {
  uint32_t v = 0;
  constexpr bool operator==(const Ipv4&) const = default;
  constexpr bool any() const { return v == 0; }
  constexpr bool loopback() const { return (v >> 24) == 127; }
  constexpr bool broadcast() const { return v == 0xffffffffu; }
  constexpr bool multicast() const { return (v >> 28) == 0xe; }
};
inline constexpr Ipv4 IPV4_ANY{0};
inline constexpr Ipv4 IPV4_LOOPBACK{0x7f000001};
inline constexpr Ipv4 IPV4_BROADCAST{0xffffffffu};

constexpr uint32_t prefix_mask(unsigned prefix) { return prefix == 0 ? 0 : ~uint32_t(0) << (32 - prefix); }

// Interface flags (netdevice(7)'s IFF_*: the same bit values, so the ioctl
// adapter passes them through).
struct NetifFlags {
  static constexpr uint32_t UP = 0x1;
  static constexpr uint32_t BROADCAST = 0x2;
  static constexpr uint32_t LOOPBACK = 0x8;
  static constexpr uint32_t RUNNING = 0x40;
  static constexpr uint32_t MULTICAST = 0x1000;
};

class Netif {
 public:
  Netif(const char* name, uint32_t flags, uint32_t mtu) : flags_(flags), mtu_(mtu) {
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof name_; ++i) name_[i] = name[i];
    name_[i] = 0;
  }
  Netif(const Netif&) = delete;
  Netif& operator=(const Netif&) = delete;

  const char* name() const { return name_; }
  uint32_t index() const { return index_; }  // 1, 2, ... in registration order
  uint32_t flags() const { return flags_.load(std::memory_order_relaxed); }
  uint32_t mtu() const { return mtu_; }
  // The largest IPv4 packet with a gso_size (PacketBuf) the interface's
  // device cuts into TCP segments itself; 0: none (docs/net.md "TCP
  // segmentation offload").
  virtual uint32_t tso_max() const { return 0; }
  // The same for TCP/IPv6 packets (payload and IPv6 header); 0: none.
  virtual uint32_t tso6_max() const { return 0; }
  Ipv4 addr() const { return Ipv4{addr_.load(std::memory_order_acquire)}; }
  unsigned prefix() const { return prefix_.load(std::memory_order_acquire); }
  // The hardware address (Ethernet: 6 bytes; loopback: none).
  virtual size_t hw_addr(uint8_t* out) const { return 0; }

  // Sends an IPv4 datagram (its header included) to the next hop on this
  // link. Called with no lock of the stack held; it may sleep briefly but
  // must not call back into ip_input on the caller's thread (loopback
  // queues). Errors: NoMemory, NoDevice (down), HostUnreach-style drops
  // count as sent (IP is unreliable).
  virtual Result<void> output(PacketBuf pkt, Ipv4 next_hop) = 0;
  // The same for an IPv6 packet (header included) to an IPv6 next hop
  // (Ethernet resolves it with Neighbor Discovery). A link without IPv6:
  // NetUnreach.
  virtual Result<void> output6(PacketBuf pkt, const IpAddr& next_hop) { return Error::NetUnreach; }

  // Statistics of the datagrams IP gave and took.
  std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, tx_packets{0}, tx_bytes{0}, rx_dropped{0}, tx_dropped{0};

  // What /proc/net/dev and ifconfig show: the link's own counts, every
  // frame (ARP and DHCP too) where the link has them; by default the IP
  // counts above.
  struct Counters {
    uint64_t rx_packets, rx_bytes, rx_errors, rx_dropped, tx_packets, tx_bytes, tx_errors, tx_dropped;
  };
  virtual Counters counters() const {
    return {rx_packets.load(), rx_bytes.load(), 0, rx_dropped.load(),
            tx_packets.load(), tx_bytes.load(), 0, tx_dropped.load()};
  }

 protected:
  ~Netif() = default;

 private:
  friend Result<void> netif_register(Netif& nif);
  friend void netif_set_addr(Netif& nif, Ipv4 addr, unsigned prefix);
  char name_[16];
  uint32_t index_ = 0;
  std::atomic<uint32_t> flags_;
  uint32_t mtu_;
  std::atomic<uint32_t> addr_{0};
  std::atomic<unsigned> prefix_{0};
};

// Adds an interface (at most MAX_NETIFS; Busy when full). Its index is
// the next free one. The loopback interface lo (127.0.0.1/8) is always
// index 1.
inline constexpr size_t MAX_NETIFS = 8;
Result<void> netif_register(Netif& nif);
// Sets (or, with prefix 0 and address 0, clears) an interface's address
// and its connected route.
void netif_set_addr(Netif& nif, Ipv4 addr, unsigned prefix);
// The default route (gateway 0: none).
void route_set_gateway(Ipv4 gw, Netif* via);
// The default route's gateway and interface (gateway 0, nullptr: none).
Ipv4 route_gateway(Netif** via);

// Interfaces by index (1-based) and by name; nullptr when none.
Netif* netif_by_index(uint32_t index);
Netif* netif_by_name(const char* name);
size_t netif_count();

// A route: where to send a datagram for `dst` and from which address.
struct Route {
  Netif* nif = nullptr;
  Ipv4 next_hop;  // dst itself on a connected link, else the gateway
  Ipv4 src;       // the interface's address
};
// Longest prefix wins: the loopback net, connected routes, then the
// default. NetUnreach (ENETUNREACH) when nothing matches.
Result<Route> route_lookup(Ipv4 dst);
// Is `a` one of this host's addresses (any interface, or 127/8)?
bool is_local_addr(Ipv4 a);

// IPv6 addresses of the interfaces (RFC 4291, 4862): a few per interface.
struct Addr6Flags {
  static constexpr uint8_t OPTIMISTIC = 0x1;  // duplicate address detection still running (RFC 4429)
  static constexpr uint8_t DUPLICATE = 0x2;   // DAD found another node with it: never used
  static constexpr uint8_t AUTOCONF = 0x4;    // from a Router Advertisement's prefix (SLAAC)
};
inline constexpr uint64_t ADDR6_FOREVER = ~uint64_t(0);
struct Addr6 {
  IpAddr addr;
  uint8_t prefix = 64;
  uint8_t scope = 0;  // Linux's RT_SCOPE_*: 0 global, 253 link (fe80::/10), 254 host (::1)
  uint32_t nif = 0;   // the interface's index
  uint8_t flags = 0;  // Addr6Flags
  // RFC 4862 5.5.4: deprecated (not chosen as a source when another will
  // do) after `preferred_until`, removed at `valid_until` (uptime ns).
  uint64_t valid_until = ADDR6_FOREVER, preferred_until = ADDR6_FOREVER;
};
inline constexpr size_t MAX_ADDR6 = 4;  // per interface
// Adds an address (Busy when the interface has MAX_ADDR6, a repeat is a
// no-op). lo has ::1/128 from its registration.
Result<void> netif_add_addr6(Netif& nif, const IpAddr& a, unsigned prefix, uint8_t flags = 0,
                             uint64_t valid_until = ADDR6_FOREVER, uint64_t preferred_until = ADDR6_FOREVER);
// One address of interface `nif` (false: it has none such).
bool netif_addr6(uint32_t nif, const IpAddr& a, Addr6& out);
// Changes an address's lifetimes, and its flags (`set` after `clear`).
void netif_update_addr6(uint32_t nif, const IpAddr& a, uint64_t valid_until, uint64_t preferred_until);
void netif_flag_addr6(uint32_t nif, const IpAddr& a, uint8_t set, uint8_t clear);
// Removes the addresses whose valid lifetime ended by `now`; returns the
// earliest end still ahead (ADDR6_FOREVER: none).
uint64_t netif_expire_addr6(uint64_t now);
// Every interface's IPv6 addresses, in interface order: the first `max`
// into out[]; returns how many there are.
size_t netif_addrs6(Addr6* out, size_t max);
// The IPv6 default router (RFC 4861 6.3.4; any: none) and its interface,
// until `until` (its router lifetime's end, uptime ns).
void route6_set_gateway(const IpAddr& gw, Netif* via, uint64_t until = ADDR6_FOREVER);
IpAddr route6_gateway(Netif** via);

// An IPv6 route: the interface, the next hop and the source address the
// host uses toward dst (RFC 6724's rules 2, 3 and 8: the same scope, not
// deprecated, the longest matching prefix; never a duplicate).
struct Route6 {
  Netif* nif = nullptr;
  IpAddr next_hop;
  IpAddr src;
};
// ::1 and the host's own addresses go to lo; a link-local or multicast
// destination to the interface `scope` (sin6_scope_id; 0: the first link
// that is up); then an on-link prefix, then the default router.
// NetUnreach when nothing matches.
Result<Route6> route6_lookup(const IpAddr& dst, uint32_t scope = 0);
// Is `a` one of this host's IPv6 addresses (::1 included; not one DAD
// found duplicated)? A v4-mapped address asks is_local_addr.
bool is_local_addr6(const IpAddr& a);

// Neighbor Discovery for a link (net/inet/nd.cc, RFC 4861): the
// Ethernet address of an IPv6 next hop into mac (true), or the packet is
// held (taken from pkt) and a Neighbor Solicitation sent (false).
bool nd_resolve(Netif& nif, const IpAddr& next_hop, uint8_t mac[6], PacketBuf& pkt);
// What a link takes from Router Advertisements: addresses from its
// prefixes (SLAAC) and the default router. A static --ip6 turns SLAAC
// off, a static --gw6 the router.
struct NdOptions {
  bool slaac = true;
  bool router = true;
};
// A link is up: its link-local address from its MAC (EUI-64, RFC 4862
// 5.3) and a Router Solicitation (again 4 s later, three in all, RFC 4861
// 6.3.7), whose Advertisement brings SLAAC addresses, the default router
// and DNS servers as `opts` allow. Each address goes through duplicate
// address detection, usable meanwhile (RFC 4429's optimistic addresses).
void nd_link_up(Netif& nif, NdOptions opts = {});
// A static address (--ip6) on a link, through DAD like SLAAC's.
Result<void> nd_add_static(Netif& nif, const IpAddr& a, unsigned prefix);
// Upper-layer reachability confirmation (RFC 4861 7.3.1): the next hop
// toward dst (scope: a link-local dst's interface) answered; its entry
// becomes REACHABLE. TCP calls it when new data is acknowledged.
void nd_confirm(const IpAddr& dst, uint32_t scope);
// Waits until the first Router Advertisement has been applied, or until
// `deadline_ns` (uptime); true if one was.
bool nd_wait_router(uint64_t deadline_ns);
// The DNS servers of the RAs' RDNSS options (RFC 8106) whose lifetime has
// not ended: the first `max` into out[]; returns how many.
size_t nd_dns_servers(IpAddr* out, size_t max);

// The link layer's entry: one received IPv4 datagram (the IP header at
// data()), or an IPv6 packet (version 6: ip6_input). Malformed datagrams
// are counted and dropped; never fails.
// Called from the device's receive context (a thread, never an IRQ), with
// no lock of the stack held.
void ip_input(Netif& nif, PacketBuf pkt);

}  // namespace capsule::net
