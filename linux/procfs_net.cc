// /proc/net (linux/procfs.h): dev and route in Linux's formats, from the
// interface table of net/ (net/include/net/netif.h). busybox's ifconfig
// and route, psutil and net-tools read these.
#include <new>

#include "net/inet.h"
#include "net/netif.h"
#include "linux/procfs.h"

namespace capsule::linux_abi::proc {
namespace {

// Linux prints a __be32 with %08X on a little-endian machine: the bytes
// of the address in network order, read as a little-endian number.
uint32_t be_hex(uint32_t host_order) { return __builtin_bswap32(host_order); }

// seq_file's padding: the line written since `before` is filled with
// spaces to `width` characters, then the newline.
void pad_line(Text& out, size_t before, size_t width) {
  for (size_t n = out.size() - before; n < width; ++n) out.put(' ');
  out.put('\n');
}

constexpr size_t MAX_LISTED = 4096;  // sockets one read of /proc/net/{tcp,udp} shows

// The columns both files share: "%08X:%04X %08X:%04X %02X %08X:%08X
// %02X:%08lX %08X %5u %8d %lu" (addresses as Linux prints a __be32, ports
// in host order; no timers, uid 0).
void sock_columns(Text& out, const net::InetSockInfo& s) {
  auto v4 = [](const net::IpAddr& a) { return a.wildcard() ? 0u : a.v4(); };
  out.f("{:08X}:{:04X} {:08X}:{:04X} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:>5} {:>8} {}", be_hex(v4(s.laddr)),
        s.lport, be_hex(v4(s.raddr)), s.rport, s.state, s.tx_queue, s.rx_queue, 0, 0, s.ino);
}

// The IPv6 files' address: four __be32 words, each as %08X (tcp6_seq_show).
void addr6(Text& out, const net::IpAddr& a) {
  for (int w = 0; w < 16; w += 4)
    out.f("{:08X}", uint32_t(a.b[w]) | uint32_t(a.b[w + 1]) << 8 | uint32_t(a.b[w + 2]) << 16 | uint32_t(a.b[w + 3]) << 24);
}

void sock_columns6(Text& out, const net::InetSockInfo& s) {
  addr6(out, s.laddr);
  out.f(":{:04X} ", s.lport);
  addr6(out, s.raddr);
  out.f(":{:04X} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:>5} {:>8} {}", s.rport, s.state, s.tx_queue,
        s.rx_queue, 0, 0, s.ino);
}

constexpr StringView HEAD6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode";

// tcp6 and udp6 (tcp6_seq_show, ip6_dgram_sock_seq_show): the AF_INET6
// sockets, unpadded lines.
Result<void> show_net6(Text& out, bool tcp) {
  out.str(HEAD6);
  out.str(tcp ? "\n" : " ref pointer drops\n");
  auto* socks = new (std::nothrow) net::InetSockInfo[MAX_LISTED];
  if (!socks) return Error::NoMemory;
  size_t n = tcp ? net::tcp_socket_list(socks, MAX_LISTED) : net::udp_socket_list(socks, MAX_LISTED);
  for (size_t i = 0, k = 0; i < n; ++i) {
    if (!socks[i].v6) continue;
    if (tcp) out.f("{:>4}: ", k++);
    else out.f("{:>5}: ", k++);
    sock_columns6(out, socks[i]);
    out.str(tcp ? " 1 0000000000000000 0 0 0 0 0\n" : " 2 0000000000000000 0\n");
  }
  delete[] socks;
  return {};
}

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

// Linux's tcp4_seq_show [net/ipv4/tcp_ipv4.c]: the header, then one line
// per listener and connection ("%4d: " and the columns), each padded to
// 149 characters. The fields after the inode (refcount, pointer, rto,
// ato, quick-ack, cwnd, ssthresh) are printed as 1, a null pointer and 0s.
Result<void> show_net_tcp(uint64_t, Text& out) {
  size_t before = out.size();
  out.str("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode");
  pad_line(out, before, 149);
  auto* socks = new (std::nothrow) net::InetSockInfo[MAX_LISTED];
  if (!socks) return Error::NoMemory;
  size_t n = net::tcp_socket_list(socks, MAX_LISTED);
  for (size_t i = 0, k = 0; i < n; ++i) {
    if (socks[i].v6) continue;  // tcp6's
    before = out.size();
    out.f("{:>4}: ", k++);
    sock_columns(out, socks[i]);
    out.str(" 1 0000000000000000 0 0 0 0 0");
    pad_line(out, before, 149);
  }
  delete[] socks;
  return {};
}

// Linux's udp4_seq_show [net/ipv4/udp.c]: the header, then "%5d: ", the
// columns, " %d %pK %u" (refcount, pointer, drops), padded to 127. Linux's
// first column is the socket's hash slot; here it counts the lines.
Result<void> show_net_udp(uint64_t, Text& out) {
  size_t before = out.size();
  out.str("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
          "pointer drops");
  pad_line(out, before, 127);
  auto* socks = new (std::nothrow) net::InetSockInfo[MAX_LISTED];
  if (!socks) return Error::NoMemory;
  size_t n = net::udp_socket_list(socks, MAX_LISTED);
  for (size_t i = 0, k = 0; i < n; ++i) {
    if (socks[i].v6) continue;  // udp6's
    before = out.size();
    out.f("{:>5}: ", k++);
    sock_columns(out, socks[i]);
    out.str(" 2 0000000000000000 0");
    pad_line(out, before, 127);
  }
  delete[] socks;
  return {};
}

Result<void> show_net_tcp6(uint64_t, Text& out) { return show_net6(out, true); }
Result<void> show_net_udp6(uint64_t, Text& out) { return show_net6(out, false); }

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
