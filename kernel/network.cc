// Wiring the network at boot (kernel/network.h): drivers' netdev::Devices
// to net/'s EtherIf (the two layers do not see each other), the ARP timer
// thread, the address (static or DHCP) and the files a libc's resolver
// reads.
#include "kernel/network.h"

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

struct Nic {
  netdev::Device* dev = nullptr;
  net::EtherIf* eth = nullptr;
  Semaphore arp_wake;  // the ARP thread: an address started resolving
  Semaphore configured;  // up once DHCP has finished (either way)
  bool dhcp = false;
  net::Netif* netif = nullptr;  // the IP layer's view (net/netif.h)
};

Nic* g_nic;  // the first device: the one the address and routes are for

Result<void> transmit(void* context, const uint8_t* frame, size_t len) {
  return static_cast<netdev::Device*>(context)->transmit(frame, len);
}

void receive(void* context, const uint8_t* frame, size_t len) { static_cast<Nic*>(context)->eth->input(frame, len); }

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
  net::EtherLink link{dev->name(), {}, dev->mtu(), dev, transmit, uptime_ns, resolving};
  __builtin_memcpy(link.mac, dev->mac(), 6);
  nic->eth = new (std::nothrow) net::EtherIf(link);
  if (!nic->eth) return;
  g_nic = nic;
  if (auto r = net::ether_netif_attach(*nic->eth); r.ok())
    nic->netif = r.value();
  else
    log_warn("network: {} not registered with IP ({})", dev->name(), error_name(r.error()));
  dev->set_receiver(receive, nic);
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
  net::Ipv4Config c = nic->eth->config();
  if (!c.addr) return;
  char text[256];
  size_t n = 0;
  if (c.domain[0]) n += format_to(text + n, sizeof text - n, "search {}\n", StringView(c.domain));
  for (uint32_t d : c.dns) {
    if (!d) continue;
    n += format_to(text + n, sizeof text - n, "nameserver ");
    n += format_ip(text + n, sizeof text - n, d);
    n += format_to(text + n, sizeof text - n, "\n");
  }
  if (n) write_file("/etc/resolv.conf", StringView(text, n), true);
  n = format_ip(text, sizeof text, c.addr);
  n += format_to(text + n, sizeof text - n, "\tcapsule\n");
  add_hosts_line(StringView(text, n));
}

}  // namespace capsule
