// /proc/net (linux/procfs.h): dev and route in Linux's formats, from the
// interface table of net/ (net/include/net/netif.h). busybox's ifconfig
// and route, psutil and net-tools read these.
#include "net/netif.h"
#include "linux/procfs.h"

namespace capsule::linux_abi::proc {
namespace {

// Linux prints a __be32 with %08X on a little-endian machine: the bytes
// of the address in network order, read as a little-endian number.
uint32_t be_hex(uint32_t host_order) { return __builtin_bswap32(host_order); }

}  // namespace

// Linux's dev_seq_show [net/core/net-procfs.c]: two header lines, then
// per interface "%6s:" and sixteen counters.
Result<void> show_net_dev(uint64_t, Text& out) {
  out.str("Inter-|   Receive                                                |  Transmit\n"
          " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
          "carrier compressed\n");
  for (uint32_t i = 1; net::Netif* nif = net::netif_by_index(i); ++i) {
    net::Netif::Counters c = nif->counters();
    out.f("{:>6}: {:>7} {:>7} {:>4} {:>4} {:>4} {:>5} {:>10} {:>9} ", StringView(nif->name()), c.rx_bytes,
          c.rx_packets, c.rx_errors, c.rx_dropped, 0, 0, 0, 0);
    out.f("{:>8} {:>7} {:>4} {:>4} {:>4} {:>5} {:>7} {:>10}\n", c.tx_bytes, c.tx_packets, c.tx_errors,
          c.tx_dropped, 0, 0, 0, 0);
  }
  return {};
}

// Linux's fib_route_seq_show [net/ipv4/fib_trie.c]: the main table (the
// connected route of each interface with an address, the default route),
// each line padded to 127 characters.
Result<void> show_net_route(uint64_t, Text& out) {
  auto line = [&out](const char* name, uint32_t dst, uint32_t gw, unsigned flags, uint32_t mask) {
    size_t before = out.size();
    out.f("{}\t{:08X}\t{:08X}\t{:04X}\t0\t0\t0\t{:08X}\t0\t0\t0", StringView(name), be_hex(dst), be_hex(gw), flags,
          be_hex(mask));
    for (size_t n = out.size() - before; n < 127; ++n) out.put(' ');
    out.put('\n');
  };
  const StringView head = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT";
  out.str(head);
  for (size_t n = head.size(); n < 127; ++n) out.put(' ');
  out.put('\n');
  constexpr unsigned RTF_UP = 0x1, RTF_GATEWAY = 0x2;
  net::Netif* via = nullptr;
  net::Ipv4 gw = net::route_gateway(&via);
  if (via && !gw.any()) line(via->name(), 0, gw.v, RTF_UP | RTF_GATEWAY, 0);
  for (uint32_t i = 1; net::Netif* nif = net::netif_by_index(i); ++i) {
    if ((nif->flags() & net::NetifFlags::LOOPBACK) || nif->addr().any()) continue;  // lo is in the local table
    uint32_t mask = net::prefix_mask(nif->prefix());
    line(nif->name(), nif->addr().v & mask, 0, RTF_UP, mask);
  }
  return {};
}

}  // namespace capsule::linux_abi::proc
