// Wiring the network at boot (kernel/network.h): drivers' netdev::Devices
// to net/'s EtherIf (the two layers do not see each other), the ARP timer
// thread, the address (static or DHCP) and the files a libc's resolver
// reads.
#include "kernel/network.h"

#include <atomic>
#include <new>

#include "lib/format.h"
#include "lib/log.h"
#include "core/sync/wait_queue.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/shutdown.h"
#include "drivers/net_device.h"
#include "fs/file.h"
#include "fs/vfs.h"
#include "net/ether.h"
#include "net/netif.h"

namespace capsule {
namespace {

constexpr uint64_t DHCP_TIMEOUT_NS = 3'000'000'000ull;
// How long the boot waits for the first Router Advertisement after the
// link's Router Solicitation (docs/net_device.md "IPv6 at boot").
constexpr uint64_t RA_WAIT_NS = 1'000'000'000ull;

struct Nic {
  netdev::Device* dev = nullptr;
  net::EtherIf* eth = nullptr;
  Semaphore arp_wake;  // the ARP thread: an address started resolving
  Semaphore configured;  // up once DHCP has finished (either way)
  bool dhcp = false;
  net::Netif* netif = nullptr;  // the IP layer's view (net/netif.h)
  net::IpAddr dns6;             // --dns's IPv6 server (any: none)
  uint64_t ra_deadline = 0;     // the boot waits for an RA until then (0: it does not)
};

Nic* g_nic;  // the first device: the one the address and routes are for

// --net-drop (docs/net_device.md "Loss"): a test option that loses IPv4
// frames on purpose. Frame number n of a direction is dropped when a hash
// of (seed, direction, n) falls under the rate, so a run is reproducible
// for a given order of frames, and no lock is needed. ARP and DHCP are
// never dropped: the option is there to test transports, not to leave
// the VM without an address.
struct DropRule {
  uint32_t bp = 0;  // basis points of frames dropped
  uint64_t seed = 0;
  bool rx = false, tx = false;
  std::atomic<uint64_t> seen[2] = {0, 0};
  std::atomic<uint64_t> dropped[2] = {0, 0};
};
DropRule g_drop;

uint64_t mix64(uint64_t x) {  // SplitMix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool drop_frame(int dir, const uint8_t* frame, size_t len) {
  if (!g_drop.bp || !(dir ? g_drop.tx : g_drop.rx)) return false;
  if (len < 14 + 20 || frame[12] != 0x08 || frame[13] != 0x00) return false;  // IPv4 only
  const uint8_t* ip = frame + 14;
  size_t ihl = size_t(ip[0] & 0xf) * 4;
  if (ip[9] == 17 && len >= 14 + ihl + 4) {  // UDP: DHCP's ports pass
    uint16_t sp = uint16_t(ip[ihl] << 8 | ip[ihl + 1]), dp = uint16_t(ip[ihl + 2] << 8 | ip[ihl + 3]);
    if (sp == 67 || sp == 68 || dp == 67 || dp == 68) return false;
  }
  uint64_t n = g_drop.seen[dir].fetch_add(1, std::memory_order_relaxed);
  if (mix64(g_drop.seed * 4 + uint64_t(dir) * 2 + 1 + mix64(n)) % 10000 >= g_drop.bp) return false;
  g_drop.dropped[dir].fetch_add(1, std::memory_order_relaxed);
  return true;
}

// At power-off: what --net-drop did, for the test that asked for it.
void report_drops(uint64_t) {
  log_warn("network: --net-drop dropped {} of {} IPv4 frames received, {} of {} sent",
           g_drop.dropped[0].load(std::memory_order_relaxed), g_drop.seen[0].load(std::memory_order_relaxed),
           g_drop.dropped[1].load(std::memory_order_relaxed), g_drop.seen[1].load(std::memory_order_relaxed));
}

Result<void> transmit(void* context, const uint8_t* frame, size_t len) {
  if (drop_frame(1, frame, len)) return {};  // as if lost on the wire
  return static_cast<netdev::Device*>(context)->transmit(frame, len);
}

Result<void> transmit_offload(void* context, const uint8_t* frame, size_t len, const net::FrameOffload& o) {
  if (drop_frame(1, frame, len)) return {};
  return static_cast<netdev::Device*>(context)->transmit_offload(
      frame, len, netdev::TxOffload{o.csum_start, o.csum_offset, o.gso_size, o.hdr_len, o.v6});
}

void receive(void* context, const uint8_t* frame, size_t len) {
  if (drop_frame(0, frame, len)) return;
  static_cast<Nic*>(context)->eth->input(frame, len);
}

void resolving(void*) { g_nic->arp_wake.up(); }

// ARP retries: asleep until an address starts resolving, then a tick per
// retry interval until none is left.
void arp_thread(void* context) {
  auto* nic = static_cast<Nic*>(context);
  uint64_t next = 0;
  for (;;) {
    if (next) (void)nic->arp_wake.down_until(next);
    else nic->arp_wake.down();
    bool more = nic->eth->tick();
    next = more ? uptime_ns() + net::ether::ArpCache::RETRY_NS : 0;
  }
}

// The address and the default route for the IP layer.
void apply_config(Nic* nic, const net::Ipv4Config& c) {
  if (!nic->netif) return;
  net::netif_set_addr(*nic->netif, net::Ipv4{c.addr}, c.prefix);
  if (c.router) net::route_set_gateway(net::Ipv4{c.router}, nic->netif);
}

void dhcp_thread(void* context) {
  auto* nic = static_cast<Nic*>(context);
  if (auto r = net::dhcp_configure(*nic->eth, DHCP_TIMEOUT_NS); r.ok())
    apply_config(nic, r.value());
  else
    log_warn("dhcp: {}: no address ({}); the network is unconfigured", nic->dev->name(), error_name(r.error()));
  nic->configured.up();
}

size_t format_ip(char* out, size_t cap, uint32_t a) {
  return format_to(out, cap, "{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

size_t format_ip6(char* out, size_t cap, const net::IpAddr& a) {
  char text[net::IP6_TEXT];
  size_t n = net::ip6_text(a, text);
  return format_to(out, cap, "{}", StringView(text, n));
}

void write_file(StringView path, StringView text, bool replace) {
  vfs::Vfs* v = vfs::kernel_vfs();
  vfs::VnodeRef root = v->root();
  vfs::PathContext ctx{root.get(), root.get()};
  if (path.starts_with("/etc/")) {
    vfs::CreateArgs dir;
    dir.mode = 040755;
    (void)v->mkdir(ctx, "/etc", dir);  // an image without /etc (Exists otherwise)
  }
  vfs::OpenHow how;
  how.flags = vfs::OpenHow::WRITE | vfs::OpenHow::CREATE | (replace ? vfs::OpenHow::TRUNC : vfs::OpenHow::EXCL);
  how.create.mode = 0100644;
  auto f = v->open(ctx, path, how);
  if (!f.ok()) {
    if (f.error() != Error::Exists) log_warn("network: cannot write {}: {}", path, error_name(f.error()));
    return;
  }
  KernelBuffer buf(text.data(), text.size());
  (void)f.value()->write(buf);
}

// Adds "ADDR\tcapsule" to /etc/hosts (made with localhost when absent),
// unless a line already names the host, as Docker keeps a container's
// /etc/hosts: the image's own file comes first.
void add_hosts_line(StringView line) {
  vfs::Vfs* v = vfs::kernel_vfs();
  vfs::VnodeRef root = v->root();
  vfs::PathContext ctx{root.get(), root.get()};
  vfs::OpenHow how;
  how.flags = vfs::OpenHow::READ;
  if (auto f = v->open(ctx, "/etc/hosts", how); f.ok()) {
    char text[4096];
    KernelBuffer buf(text, sizeof text - 1);
    auto n = f.value()->read(buf);
    StringView have(text, n.ok() ? n.value() : 0);
    for (size_t i = 0; i + 8 <= have.size(); ++i)
      if ((have[i] == '\t' || have[i] == ' ') && have.substr(i + 1, 7) == "capsule") return;
    how.flags = vfs::OpenHow::WRITE | vfs::OpenHow::APPEND;
    if (auto w = v->open(ctx, "/etc/hosts", how); w.ok()) {
      KernelBuffer out(line.data(), line.size());
      (void)w.value()->write(out, true);
    }
    return;
  }
  char text[256];
  size_t n = format_to(text, sizeof text, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}", line);
  write_file("/etc/hosts", StringView(text, n < sizeof text ? n : sizeof text - 1), false);
}

}  // namespace

void network_start(const BootSettings& s) {
  netdev::Device* dev = netdev::device(0);
  if (!dev) return;
  // A program's last frames leave before the VM powers off.
  shutdown_register(netdev::flush_all);
  auto* nic = new (std::nothrow) Nic;
  if (!nic) return;
  nic->dev = dev;
  if (s.net_drop_bp) {
    g_drop.bp = s.net_drop_bp;
    g_drop.seed = s.net_drop_seed;
    g_drop.rx = s.net_drop_rx;
    g_drop.tx = s.net_drop_tx;
    log_warn("network: {}: dropping {}.{:02}% of IPv4 frames{}{} (--net-drop, seed {}: a test option)", dev->name(),
             s.net_drop_bp / 100, s.net_drop_bp % 100, s.net_drop_rx ? " received" : "",
             s.net_drop_tx ? (s.net_drop_rx ? " and sent" : " sent") : "", s.net_drop_seed);
    shutdown_register(report_drops);
  }
  net::EtherLink link{dev->name(), {}, dev->mtu(), dev, transmit, uptime_ns, resolving, dev->tso_max(),
                      transmit_offload};
  __builtin_memcpy(link.mac, dev->mac(), 6);
  link.tso6 = dev->tso6();
  nic->eth = new (std::nothrow) net::EtherIf(link);
  if (!nic->eth) return;
  g_nic = nic;
  if (auto r = net::ether_netif_attach(*nic->eth); r.ok())
    nic->netif = r.value();
  else
    log_warn("network: {} not registered with IP ({})", dev->name(), error_name(r.error()));
  dev->set_receiver(receive, nic);
  // IPv6: the link-local address and a Router Solicitation, whose answer
  // (SLAAC, the default router) comes in on the receive path meanwhile.
  // A static --ip6 replaces SLAAC's address, --gw6 the RA's router.
  net::NdOptions nd;
  if (s.net_prefix6 && nic->netif) {
    net::IpAddr a, gw;
    __builtin_memcpy(a.b, s.net_ip6, 16);
    __builtin_memcpy(gw.b, s.net_gw6, 16);
    nd.slaac = false;
    if (auto r = net::nd_add_static(*nic->netif, a, s.net_prefix6); !r.ok())
      log_warn("network: {}: --ip6 not set ({})", dev->name(), error_name(r.error()));
    if (!gw.any()) {
      nd.router = false;
      net::route6_set_gateway(gw, nic->netif);
    }
    char text[48];
    size_t n = format_ip6(text, sizeof text, a);
    log_info("network: {} IPv6 {}/{} (static)", dev->name(), StringView(text, n), s.net_prefix6);
  }
  __builtin_memcpy(nic->dns6.b, s.net_dns6, 16);
  if (nic->netif) {
    net::nd_link_up(*nic->netif, nd);
    // Wait for an RA unless there is nothing it could give (--ip6 and --gw6).
    if (nd.slaac || nd.router) nic->ra_deadline = uptime_ns() + RA_WAIT_NS;
  }
  if (!thread_create("arp", arp_thread, nic, ThreadOptions{.detached = true}).ok())
    log_warn("network: no ARP thread: addresses are asked for once");
  if (s.net_ip) {
    net::Ipv4Config c;
    c.addr = s.net_ip;
    c.prefix = s.net_prefix;
    c.router = s.net_gw;
    c.dns[0] = s.net_dns;
    nic->eth->set_config(c);
    apply_config(nic, c);
    log_info("network: {} {}.{}.{}.{}/{} (static)", dev->name(), c.addr >> 24, (c.addr >> 16) & 0xff,
             (c.addr >> 8) & 0xff, c.addr & 0xff, c.prefix);
    return;
  }
  nic->dhcp = thread_create("dhcp", dhcp_thread, nic, ThreadOptions{.detached = true}).ok();
}

void network_ready() {
  Nic* nic = g_nic;
  if (!nic) return;
  if (nic->dhcp) nic->configured.down();  // dhcp_configure is bounded by its timeout
  // A program that talks IPv6 at once finds its SLAAC address and router.
  const uint64_t wait_from = uptime_ns();
  if (nic->ra_deadline && net::nd_wait_router(nic->ra_deadline))
    log_debug("network: {}: Router Advertisement applied; the boot waited {} us for it", nic->dev->name(),
              (uptime_ns() - wait_from) / 1000);
  else if (nic->ra_deadline)
    log_info("network: {}: no Router Advertisement within {} ms; IPv6 has its link-local address only",
             nic->dev->name(), RA_WAIT_NS / 1'000'000);
  net::Ipv4Config c = nic->eth->config();
  // resolv.conf: DHCP's (or --dns's) IPv4 servers, then --dns's IPv6 one
  // or the RA's (RDNSS).
  char text[256];
  size_t n = 0;
  if (c.addr && c.domain[0]) n += format_to(text + n, sizeof text - n, "search {}\n", StringView(c.domain));
  for (uint32_t d : c.dns) {
    if (!d || !c.addr) continue;
    n += format_to(text + n, sizeof text - n, "nameserver ");
    n += format_ip(text + n, sizeof text - n, d);
    n += format_to(text + n, sizeof text - n, "\n");
  }
  net::IpAddr dns6[3];
  size_t n6 = 0;
  if (!nic->dns6.any()) dns6[n6++] = nic->dns6;
  else n6 = net::nd_dns_servers(dns6, 3);
  for (size_t i = 0; i < n6; ++i) {
    n += format_to(text + n, sizeof text - n, "nameserver ");
    n += format_ip6(text + n, sizeof text - n, dns6[i]);
    n += format_to(text + n, sizeof text - n, "\n");
  }
  if (n) write_file("/etc/resolv.conf", StringView(text, n), true);
  if (!c.addr) return;
  n = format_ip(text, sizeof text, c.addr);
  n += format_to(text + n, sizeof text - n, "\tcapsule\n");
  add_hosts_line(StringView(text, n));
}

}  // namespace capsule
