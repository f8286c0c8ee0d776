#pragma once
// An Ethernet interface (docs/net_device.md): frames from a device in,
// ARP answered and resolved, IPv4 packets out to a next hop, IPv4 packets
// in to the layer above. The device is reached through an EtherLink that
// kernel/ fills from a drivers/ netdev::Device (net/ and drivers/ are side
// by side in the layer order). Compiles for the host: the unit tests feed
// it frames (tests/unit/ether_test.cc).
#include <cstddef>
#include <cstdint>

#include "arch/spinlock.h"
#include "lib/result.h"
#include "lib/thread_annotations.h"
#include "net/arp.h"

namespace capsule::net {

inline constexpr uint16_t ETHERTYPE_IPV4 = 0x0800, ETHERTYPE_ARP = 0x0806, ETHERTYPE_IPV6 = 0x86dd;
inline constexpr size_t ETHER_HDR = 14;
inline constexpr size_t ETHER_MIN_FRAME = 60;  // without the FCS; shorter frames are padded

// What the device is asked to do for a frame (drivers' netdev::TxOffload;
// docs/net_device.md "TCP segmentation offload"): a checksum from
// csum_start (from the frame's first byte) stored csum_offset further on,
// and TCP/IPv4 segments of gso_size payload bytes (0: none).
struct FrameOffload {
  uint16_t csum_start = 0, csum_offset = 0;
  uint16_t gso_size = 0;
  uint16_t hdr_len = 0;
  bool v6 = false;  // TCP/IPv6 segments (the link's tso6)
};

struct EtherLink {
  const char* name;
  uint8_t mac[6];
  uint16_t mtu;
  void* context;
  Result<void> (*transmit)(void* context, const uint8_t* frame, size_t len);
  uint64_t (*now_ns)();
  // Optional: an address started resolving; call tick() within about
  // ArpCache::RETRY_NS. Called with the interface's spinlock held.
  void (*resolving)(void* context);
  // Optional, TCP segmentation offload: frames up to tso_max bytes with a
  // FrameOffload (0: the device has none).
  size_t tso_max = 0;
  Result<void> (*transmit_offload)(void* context, const uint8_t* frame, size_t len, const FrameOffload& o) = nullptr;
  bool tso6 = false;  // TCP/IPv6 frames too
};

// IPv4 settings of an interface, host byte order; addr 0: none yet.
struct Ipv4Config {
  uint32_t addr = 0;
  uint8_t prefix = 0;
  uint32_t router = 0;
  uint32_t dns[2] = {};
  char domain[64] = {};
};

struct EtherStats {
  uint64_t rx_frames = 0, rx_bytes = 0;
  uint64_t rx_short = 0;         // shorter than an Ethernet header
  uint64_t rx_not_ours = 0;      // another unicast or a multicast address
  uint64_t rx_bad_arp = 0;       // ARP of other lengths, types or operations
  uint64_t rx_bad_ipv4 = 0;      // shorter than an IPv4 header, not version 4
  uint64_t rx_bad_ipv6 = 0;      // shorter than an IPv6 header, not version 6
  uint64_t rx_no_protocol = 0;   // an EtherType we do not speak, or IPv4 with nothing above
  uint64_t tx_frames = 0, tx_bytes = 0, tx_errors = 0;
  uint64_t arp_replies_sent = 0;
};

class EtherIf {
 public:
  explicit EtherIf(const EtherLink& link) : link_(link) {}
  EtherIf(const EtherIf&) = delete;
  EtherIf& operator=(const EtherIf&) = delete;

  const EtherLink& link() const { return link_; }

  // One received frame (without the FCS). Never fails: what is wrong is
  // dropped and counted.
  void input(const uint8_t* frame, size_t len);

  // Sends an IPv4 packet to `next_hop` (host order; 255.255.255.255 and
  // the subnet's broadcast go to every station). An unknown link address
  // is asked for with ARP and the packet held meanwhile: then the result
  // is Again (queued, not an error for the caller). Invalid for a packet
  // longer than the MTU.
  Result<void> output_ipv4(uint32_t next_hop, const uint8_t* packet, size_t len);
  // The same without a copy: `frame` has ETHER_HDR bytes of room before
  // the packet (`len` counts them), which this fills in. A frame that
  // needs padding or waits for ARP is copied.
  // With `o`: the device's offloads for it (a frame up to link().tso_max).
  Result<void> output_ipv4_framed(uint32_t next_hop, uint8_t* frame, size_t len, const FrameOffload* o = nullptr);

  // One frame of `type` to `dst` with `payload` (padded to the minimum).
  Result<void> send_frame(const uint8_t dst[6], uint16_t type, const uint8_t* payload, size_t len);
  // The same without a copy, as output_ipv4_framed: `frame` has ETHER_HDR
  // bytes of room before the payload (`len` counts them); with `o`, the
  // device's offloads (a frame up to link().tso_max). A frame that needs
  // padding is copied.
  Result<void> send_framed(const uint8_t dst[6], uint16_t type, uint8_t* frame, size_t len,
                           const FrameOffload* o = nullptr);

  // ARP retries; true while an address is still being resolved (call
  // again about every ArpCache::RETRY_NS).
  bool tick();

  // The IPv4 layer above: each IPv4 packet that arrives (the Ethernet
  // header stripped, the length the frame gave).
  using PacketFn = void (*)(void* context, const uint8_t* packet, size_t len);
  void set_ipv4_input(PacketFn fn, void* context);
  // The same for IPv6 packets (EtherType 0x86dd). IPv6 multicast frames
  // (33:33:..., RFC 2464 7) are taken once this is set; the layer above
  // keeps the groups it is in.
  void set_ipv6_input(PacketFn fn, void* context);
  // The DHCP client's tap: UDP datagrams to port 68 go here instead (the
  // whole IPv4 packet) while it is set.
  void set_dhcp_tap(PacketFn fn, void* context);

  void set_config(const Ipv4Config& c);
  Ipv4Config config() const;
  EtherStats stats() const;
  ether::ArpCache::Stats arp_stats() const;

 private:
  void arp_input(const uint8_t* p, size_t n);
  void ipv4_input(const uint8_t* p, size_t n);
  void ipv6_input(const uint8_t* p, size_t n);
  void send_arp_request_locked(uint32_t ip) REQUIRES(lock_);
  void ask_again_locked(uint32_t ip) REQUIRES(lock_);
  Result<void> send_frame_locked(const uint8_t dst[6], uint16_t type, const uint8_t* payload, size_t len)
      REQUIRES(lock_);
  // A frame with room for its header: the header filled in and the frame
  // to the device (with `o`: its offloads), counted.
  Result<void> transmit_framed_locked(const uint8_t dst[6], uint16_t type, uint8_t* frame, size_t len,
                                      const FrameOffload* o) REQUIRES(lock_);
  static void flush_held(void* self, const uint8_t* packet, size_t len, const ether::Mac& mac);
  static void request_again(void* self, uint32_t ip);

  const EtherLink link_;
  mutable SpinLock lock_;
  Ipv4Config config_ GUARDED_BY(lock_);
  ether::ArpCache arp_ GUARDED_BY(lock_);
  EtherStats stats_ GUARDED_BY(lock_);
  PacketFn ipv4_fn_ GUARDED_BY(lock_) = nullptr;
  void* ipv4_ctx_ GUARDED_BY(lock_) = nullptr;
  PacketFn ipv6_fn_ GUARDED_BY(lock_) = nullptr;
  void* ipv6_ctx_ GUARDED_BY(lock_) = nullptr;
  PacketFn dhcp_fn_ GUARDED_BY(lock_) = nullptr;
  void* dhcp_ctx_ GUARDED_BY(lock_) = nullptr;
  uint8_t frame_[1518] GUARDED_BY(lock_);  // the frame being sent
};

class Netif;
// Registers `eth` with the IP layer (netif_register): its IPv4 and IPv6
// packets go to ip_input, and IP's output goes out through it. The
// interface lives forever. Once frames are received, nd_link_up
// (net/netif.h) starts IPv6 on it.
Result<Netif*> ether_netif_attach(EtherIf& eth);

// The DHCP client [RFC 2131 §4.4]: DISCOVER, OFFER, REQUEST, ACK on `eth`
// (kernel only: it sleeps). Up to `timeout_ns` in all; each message is
// retried with a doubling wait from 250 ms. On success the interface's
// config is set and returned. TimedOut when no server answered; Permission
// for a NAK.
Result<Ipv4Config> dhcp_configure(EtherIf& eth, uint64_t timeout_ns);

}  // namespace capsule::net
