// The Ethernet interface (net/include/net/ether.h): demultiplexing by
// EtherType, ARP [RFC 826] answered and used for IPv4 output, and the
// taps for the layer above and the DHCP client.
#include "net/ether.h"

#include "core/event/sync.h"
#include "net/ether/dhcp_message.h"
#include "net/ether/wire.h"

namespace capsule::net {
namespace {

constexpr uint8_t BROADCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint32_t LIMITED_BROADCAST = 0xffffffff;
constexpr uint8_t IP_PROTO_UDP = 17;

uint32_t subnet_broadcast(const Ipv4Config& c) {
  if (!c.addr || c.prefix >= 32) return 0;
  uint32_t host = c.prefix ? ~0u >> c.prefix : ~0u;
  return c.addr | host;
}

}  // namespace

void EtherIf::input(const uint8_t* frame, size_t len) {
  const uint8_t* dst = frame;
  {
    event::IrqSpinGuard g(lock_);
    ++stats_.rx_frames;
    stats_.rx_bytes += len;
    if (len < ETHER_HDR) {
      ++stats_.rx_short;
      return;
    }
    // Ours, broadcast, or IPv6 multicast once IPv6 listens (33:33:...);
    // other multicast (the group bit) is not joined.
    const bool v6_group = dst[0] == 0x33 && dst[1] == 0x33 && ipv6_fn_;
    if (__builtin_memcmp(dst, link_.mac, 6) != 0 && __builtin_memcmp(dst, BROADCAST, 6) != 0 && !v6_group) {
      ++stats_.rx_not_ours;
      return;
    }
  }
  uint16_t type = ether::get16(frame + 12);
  const uint8_t* payload = frame + ETHER_HDR;
  size_t n = len - ETHER_HDR;
  if (type == ETHERTYPE_ARP) {
    arp_input(payload, n);
  } else if (type == ETHERTYPE_IPV4) {
    ipv4_input(payload, n);
  } else if (type == ETHERTYPE_IPV6) {
    ipv6_input(payload, n);
  } else {
    event::IrqSpinGuard g(lock_);
    ++stats_.rx_no_protocol;
  }
}

void EtherIf::arp_input(const uint8_t* p, size_t n) {
  ether::ArpPacket a;
  event::IrqSpinGuard g(lock_);
  if (!ether::arp_parse(p, n, &a) || a.sha.b[0] & 1) {
    // A group address (broadcast included) as the sender: nothing to
    // put in the cache.
    ++stats_.rx_bad_arp;
    return;
  }
  uint32_t self = config_.addr;
  bool for_us = self && a.tpa == self;
  // [RFC 826, "Packet Reception"]: update the sender's entry if there is
  // one; add it if the packet is for us. Then answer a request for us.
  if (a.spa && a.spa != self) arp_.learn(a.spa, a.sha, link_.now_ns(), for_us, flush_held, this);
  if (for_us && a.op == ether::ARP_REQUEST) {
    ether::ArpPacket r{ether::ARP_REPLY, {}, self, a.sha, a.spa};
    __builtin_memcpy(r.sha.b, link_.mac, 6);
    uint8_t body[ether::ARP_LEN];
    ether::arp_build(r, body);
    if (send_frame_locked(a.sha.b, ETHERTYPE_ARP, body, sizeof body).ok()) ++stats_.arp_replies_sent;
  }
}

void EtherIf::ipv4_input(const uint8_t* p, size_t n) {
  PacketFn fn;
  void* ctx;
  {
    event::IrqSpinGuard g(lock_);
    // What this layer needs to pick the receiver; the IPv4 layer checks the rest.
    if (n < 20 || p[0] >> 4 != 4 || size_t(p[0] & 0xf) * 4 < 20) {
      ++stats_.rx_bad_ipv4;
      return;
    }
    size_t ihl = size_t(p[0] & 0xf) * 4;
    bool to_dhcp = dhcp_fn_ && p[9] == IP_PROTO_UDP && n >= ihl + 8 &&
                   ether::get16(p + ihl + 2) == ether::DHCP_CLIENT_PORT;
    fn = to_dhcp ? dhcp_fn_ : ipv4_fn_;
    ctx = to_dhcp ? dhcp_ctx_ : ipv4_ctx_;
    if (!fn) {
      ++stats_.rx_no_protocol;
      return;
    }
  }
  fn(ctx, p, n);  // without the lock: the layer above may send
}

void EtherIf::ipv6_input(const uint8_t* p, size_t n) {
  PacketFn fn;
  void* ctx;
  {
    event::IrqSpinGuard g(lock_);
    if (n < 40 || p[0] >> 4 != 6) {
      ++stats_.rx_bad_ipv6;
      return;
    }
    fn = ipv6_fn_;
    ctx = ipv6_ctx_;
    if (!fn) {
      ++stats_.rx_no_protocol;
      return;
    }
  }
  fn(ctx, p, n);  // without the lock: the layer above may send
}

Result<void> EtherIf::send_frame(const uint8_t dst[6], uint16_t type, const uint8_t* payload, size_t len) {
  event::IrqSpinGuard g(lock_);
  return send_frame_locked(dst, type, payload, len);
}

Result<void> EtherIf::send_frame_locked(const uint8_t dst[6], uint16_t type, const uint8_t* payload, size_t len) {
  if (len > link_.mtu || ETHER_HDR + len > sizeof frame_) return Error::Invalid;
  __builtin_memcpy(frame_, dst, 6);
  __builtin_memcpy(frame_ + 6, link_.mac, 6);
  ether::put16(frame_ + 12, type);
  __builtin_memcpy(frame_ + ETHER_HDR, payload, len);
  size_t n = ETHER_HDR + len;
  if (n < ETHER_MIN_FRAME) {
    __builtin_memset(frame_ + n, 0, ETHER_MIN_FRAME - n);
    n = ETHER_MIN_FRAME;
  }
  if (auto r = link_.transmit(link_.context, frame_, n); !r.ok()) {
    ++stats_.tx_errors;
    return r.error();
  }
  ++stats_.tx_frames;
  stats_.tx_bytes += n;
  return {};
}

Result<void> EtherIf::send_framed(const uint8_t dst[6], uint16_t type, uint8_t* frame, size_t len,
                                  const FrameOffload* o) {
  if (len < ETHER_HDR) return Error::Invalid;
  if (o && (!link_.transmit_offload || len > link_.tso_max || (o->v6 && o->gso_size && !link_.tso6)))
    return Error::Invalid;
  if (!o && len < ETHER_MIN_FRAME) return send_frame(dst, type, frame + ETHER_HDR, len - ETHER_HDR);
  event::IrqSpinGuard g(lock_);
  if (!o && len - ETHER_HDR > link_.mtu) return Error::Invalid;
  return transmit_framed_locked(dst, type, frame, len, o);
}

void EtherIf::send_arp_request_locked(uint32_t ip) {
  ether::ArpPacket q{ether::ARP_REQUEST, {}, config_.addr, {}, ip};
  __builtin_memcpy(q.sha.b, link_.mac, 6);
  uint8_t body[ether::ARP_LEN];
  ether::arp_build(q, body);
  (void)send_frame_locked(BROADCAST, ETHERTYPE_ARP, body, sizeof body);
}

// An answer that expired but is still used: ask again now, and the ARP
// thread repeats the request until answered or given up (ArpCache::lookup).
void EtherIf::ask_again_locked(uint32_t ip) {
  send_arp_request_locked(ip);
  if (link_.resolving) link_.resolving(link_.context);
}

void EtherIf::flush_held(void* self, const uint8_t* packet, size_t len, const ether::Mac& mac) {
  auto* e = static_cast<EtherIf*>(self);
  e->lock_.assert_held();
  (void)e->send_frame_locked(mac.b, ETHERTYPE_IPV4, packet, len);
}

void EtherIf::request_again(void* self, uint32_t ip) {
  auto* e = static_cast<EtherIf*>(self);
  e->lock_.assert_held();
  e->send_arp_request_locked(ip);
}

Result<void> EtherIf::output_ipv4(uint32_t next_hop, const uint8_t* packet, size_t len) {
  event::IrqSpinGuard g(lock_);
  if (len > link_.mtu) return Error::Invalid;
  if (next_hop == LIMITED_BROADCAST || next_hop == subnet_broadcast(config_))
    return send_frame_locked(BROADCAST, ETHERTYPE_IPV4, packet, len);
  uint64_t now = link_.now_ns();
  ether::Mac mac;
  bool ask = false;
  if (arp_.lookup(next_hop, now, &mac, &ask)) {
    if (ask) ask_again_locked(next_hop);
    return send_frame_locked(mac.b, ETHERTYPE_IPV4, packet, len);
  }
  if (arp_.hold(next_hop, packet, len, now)) {
    send_arp_request_locked(next_hop);
    if (link_.resolving) link_.resolving(link_.context);
  }
  return Error::Again;
}

Result<void> EtherIf::output_ipv4_framed(uint32_t next_hop, uint8_t* frame, size_t len, const FrameOffload* o) {
  if (o && (!link_.transmit_offload || len > link_.tso_max)) return Error::Invalid;
  if (!o && (len < ETHER_MIN_FRAME || len < ETHER_HDR)) return output_ipv4(next_hop, frame + ETHER_HDR, len - ETHER_HDR);
  event::IrqSpinGuard g(lock_);
  if (!o && len - ETHER_HDR > link_.mtu) return Error::Invalid;
  ether::Mac mac;
  bool ask = false;
  if (next_hop == LIMITED_BROADCAST || next_hop == subnet_broadcast(config_)) {
    __builtin_memcpy(mac.b, BROADCAST, 6);
  } else if (arp_.lookup(next_hop, link_.now_ns(), &mac, &ask)) {
    if (ask) ask_again_locked(next_hop);
  } else {
    uint64_t now = link_.now_ns();
    // A frame for the device to segment is too big to hold: dropped, as
    // lost (TCP sends it again in MSS pieces). ARP has answered long
    // before a connection sends that much.
    if (!o && arp_.hold(next_hop, frame + ETHER_HDR, len - ETHER_HDR, now)) {
      send_arp_request_locked(next_hop);
      if (link_.resolving) link_.resolving(link_.context);
    }
    return Error::Again;
  }
  return transmit_framed_locked(mac.b, ETHERTYPE_IPV4, frame, len, o);
}

Result<void> EtherIf::transmit_framed_locked(const uint8_t dst[6], uint16_t type, uint8_t* frame, size_t len,
                                             const FrameOffload* o) {
  __builtin_memcpy(frame, dst, 6);
  __builtin_memcpy(frame + 6, link_.mac, 6);
  ether::put16(frame + 12, type);
  if (auto r = o ? link_.transmit_offload(link_.context, frame, len, *o) : link_.transmit(link_.context, frame, len);
      !r.ok()) {
    ++stats_.tx_errors;
    return r.error();
  }
  ++stats_.tx_frames;
  stats_.tx_bytes += len;
  return {};
}

bool EtherIf::tick() {
  event::IrqSpinGuard g(lock_);
  return arp_.tick(link_.now_ns(), request_again, this);
}

void EtherIf::set_ipv4_input(PacketFn fn, void* context) {
  event::IrqSpinGuard g(lock_);
  ipv4_fn_ = fn;
  ipv4_ctx_ = context;
}

void EtherIf::set_ipv6_input(PacketFn fn, void* context) {
  event::IrqSpinGuard g(lock_);
  ipv6_fn_ = fn;
  ipv6_ctx_ = context;
}

void EtherIf::set_dhcp_tap(PacketFn fn, void* context) {
  event::IrqSpinGuard g(lock_);
  dhcp_fn_ = fn;
  dhcp_ctx_ = context;
}

void EtherIf::set_config(const Ipv4Config& c) {
  event::IrqSpinGuard g(lock_);
  config_ = c;
}

Ipv4Config EtherIf::config() const {
  event::IrqSpinGuard g(lock_);
  return config_;
}

EtherStats EtherIf::stats() const {
  event::IrqSpinGuard g(lock_);
  return stats_;
}

ether::ArpCache::Stats EtherIf::arp_stats() const {
  event::IrqSpinGuard g(lock_);
  return arp_.stats();
}

}  // namespace capsule::net
