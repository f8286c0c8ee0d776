// An Ethernet interface as the IP layer's Netif (net/include/net/netif.h,
// docs/net.md "How a device plugs in"): output() resolves the next hop
// through EtherIf's ARP cache and prepends the Ethernet header into the
// packet's headroom (no copy here; the driver copies once into its ring);
// received IPv4 datagrams go up to ip_input from the device's receive
// threads (one per receive queue, several at once).
#include <new>

#include "net/ether.h"
#include "net/inet/nd_message.h"
#include "net/netif.h"

namespace capsule::net {
namespace {

class EtherNetif final : public Netif {
 public:
  explicit EtherNetif(EtherIf& eth)
      : Netif(eth.link().name,
              NetifFlags::UP | NetifFlags::BROADCAST | NetifFlags::RUNNING | NetifFlags::MULTICAST,
              eth.link().mtu),
        eth_(eth) {}

  size_t hw_addr(uint8_t* out) const override {
    __builtin_memcpy(out, eth_.link().mac, 6);
    return 6;
  }

  // Every frame the link saw: bad frames are errors, frames for other
  // protocols or stations dropped, as Linux's drivers count them.
  Counters counters() const override {
    EtherStats s = eth_.stats();
    return {s.rx_frames, s.rx_bytes, s.rx_short + s.rx_bad_arp + s.rx_bad_ipv4 + s.rx_bad_ipv6, s.rx_no_protocol,
            s.tx_frames, s.tx_bytes, s.tx_errors, tx_dropped.load()};
  }

  uint32_t tso_max() const override {
    size_t m = eth_.link().tso_max;
    return m > ETHER_HDR ? uint32_t(m - ETHER_HDR) : 0;
  }
  uint32_t tso6_max() const override { return eth_.link().tso6 ? tso_max() : 0; }

  Result<void> output(PacketBuf pkt, Ipv4 next_hop) override {
    size_t len = pkt.size();
    uint8_t* frame = pkt.push(ETHER_HDR);
    Result<void> r;
    if (pkt.gso_size() || pkt.partial_csum()) {
      if (!frame) return Error::NoBufs;
      // The TCP header's length is in its data offset (byte 12's high nibble).
      const size_t tcp_at = pkt.csum_start();
      const size_t hdr_len = tcp_at + 20 <= pkt.size() ? tcp_at + (frame[tcp_at + 12] >> 4) * 4 : 0;
      FrameOffload o{uint16_t(tcp_at), pkt.csum_offset(), pkt.gso_size(), uint16_t(hdr_len)};
      r = eth_.output_ipv4_framed(next_hop.v, frame, ETHER_HDR + len, &o);
    } else {
      r = frame ? eth_.output_ipv4_framed(next_hop.v, frame, ETHER_HDR + len)
                : eth_.output_ipv4(next_hop.v, pkt.data(), len);
    }
    if (r.ok() || r.error() == Error::Again) {  // held for ARP: sent, as far as IP knows
      tx_packets.fetch_add(1, std::memory_order_relaxed);
      tx_bytes.fetch_add(len, std::memory_order_relaxed);
      return {};
    }
    tx_dropped.fetch_add(1, std::memory_order_relaxed);
    return r.error() == Error::NoSpace ? Result<void>() : r;  // a full ring: a drop, IP is unreliable
  }

  // IPv6 (docs/net.md "IPv6 on a link"): a group's address maps to
  // 33:33:... (RFC 2464 7); a unicast next hop comes from Neighbor
  // Discovery, which holds the packet until it is known.
  Result<void> output6(PacketBuf pkt, const IpAddr& next_hop) override {
    uint8_t mac[6];
    if (next_hop.multicast6()) multicast_mac(next_hop, mac);
    else if (!nd_resolve(*this, next_hop, mac, pkt)) return {};  // held: sent, as far as IP knows
    size_t len = pkt.size();
    Result<void> r;
    if (pkt.gso_size() || pkt.partial_csum()) {
      // TCP segmentation offload (TSO6): the device cuts the packet and
      // completes each segment's checksum, as for IPv4.
      uint8_t* frame = pkt.push(ETHER_HDR);
      if (!frame) return Error::NoBufs;
      const size_t tcp_at = pkt.csum_start();
      const size_t hdr_len = tcp_at + 20 <= pkt.size() ? tcp_at + (frame[tcp_at + 12] >> 4) * 4 : 0;
      FrameOffload o{uint16_t(tcp_at), pkt.csum_offset(), pkt.gso_size(), uint16_t(hdr_len), true};
      r = eth_.send_framed(mac, ETHERTYPE_IPV6, frame, ETHER_HDR + len, &o);
    } else if (uint8_t* frame = pkt.push(ETHER_HDR)) {
      r = eth_.send_framed(mac, ETHERTYPE_IPV6, frame, ETHER_HDR + len);
    } else {
      r = eth_.send_frame(mac, ETHERTYPE_IPV6, pkt.data(), len);
    }
    if (r.ok()) {
      tx_packets.fetch_add(1, std::memory_order_relaxed);
      tx_bytes.fetch_add(len, std::memory_order_relaxed);
      return {};
    }
    tx_dropped.fetch_add(1, std::memory_order_relaxed);
    return r.error() == Error::NoSpace ? Result<void>() : r;
  }

  static void input(void* self, const uint8_t* p, size_t n) {
    auto* nif = static_cast<EtherNetif*>(self);
    auto pkt = PacketBuf::copy_of(p, n);
    if (!pkt.ok()) {
      nif->rx_dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    nif->rx_packets.fetch_add(1, std::memory_order_relaxed);
    nif->rx_bytes.fetch_add(n, std::memory_order_relaxed);
    ip_input(*nif, static_cast<PacketBuf&&>(pkt.value()));
  }

 private:
  EtherIf& eth_;
};

}  // namespace

Result<Netif*> ether_netif_attach(EtherIf& eth) {
  auto* nif = new (std::nothrow) EtherNetif(eth);
  if (!nif) return Error::NoMemory;
  if (auto r = netif_register(*nif); !r.ok()) {
    delete nif;
    return r.error();
  }
  eth.set_ipv4_input(EtherNetif::input, nif);
  eth.set_ipv6_input(EtherNetif::input, nif);  // ip_input tells the versions apart
  return static_cast<Netif*>(nif);
}

}  // namespace capsule::net
