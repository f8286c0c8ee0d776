// The DHCP client [RFC 2131 §4.4.1]: INIT -> SELECTING (DISCOVER, the
// first OFFER) -> REQUESTING (REQUEST, ACK) -> BOUND. It speaks before the
// interface has an address, so it builds its own IPv4/UDP headers and
// broadcasts (0.0.0.0 -> 255.255.255.255, as RFC 2131 §4.1 says), and
// takes the replies from the interface's DHCP tap. Lease renewal is not
// done: a VM's run is short against QEMU's 24-hour lease.
#include <new>

#include "lib/log.h"
#include "core/random.h"
#include "core/sync/wait_queue.h"
#include "core/time.h"
#include "net/ether.h"
#include "net/ether/dhcp_message.h"
#include "net/ether/wire.h"

namespace capsule::net {
namespace {

using namespace ether;

constexpr size_t IP_HDR = 20, UDP_HDR = 8;
constexpr uint64_t FIRST_WAIT_NS = 250'000'000;

struct Client {
  uint32_t xid = 0;
  uint8_t mac[6] = {};
  uint8_t want = 0;  // the message type waited for (OFFER, then ACK)
  SpinLock lock;
  DhcpReply reply GUARDED_BY(lock);
  bool got GUARDED_BY(lock) = false;
  Semaphore arrived;
};

// The tap: runs in the receive thread with the whole IPv4 packet.
void on_packet(void* context, const uint8_t* p, size_t n) {
  auto* c = static_cast<Client*>(context);
  size_t ihl = size_t(p[0] & 0xf) * 4;
  size_t total = get16(p + 2);
  if (total > n || total < ihl + UDP_HDR) return;
  const uint8_t* udp = p + ihl;
  size_t ulen = get16(udp + 4);
  if (ulen < UDP_HDR || ulen > total - ihl) return;
  DhcpReply r;
  if (!dhcp_parse(udp + UDP_HDR, ulen - UDP_HDR, &r)) return;
  if (r.xid != c->xid || __builtin_memcmp(r.chaddr, c->mac, 6) != 0) return;  // someone else's
  if (r.type != c->want && r.type != DHCP_NAK) return;
  {
    SpinGuard g(c->lock);
    if (c->got) return;  // the first answer wins
    c->reply = r;
    c->got = true;
  }
  c->arrived.up();
}

Result<void> send(EtherIf& eth, const uint8_t* msg, size_t len) {
  uint8_t pkt[IP_HDR + UDP_HDR + DHCP_MAX_MSG];
  __builtin_memset(pkt, 0, IP_HDR + UDP_HDR);
  size_t total = IP_HDR + UDP_HDR + len;
  pkt[0] = 0x45;  // version 4, 5 words
  put16(pkt + 2, uint16_t(total));
  pkt[8] = 64;    // TTL
  pkt[9] = 17;    // UDP
  put32(pkt + 12, 0);
  put32(pkt + 16, 0xffffffff);
  put16(pkt + 10, checksum(pkt, IP_HDR));
  uint8_t* udp = pkt + IP_HDR;
  put16(udp, DHCP_CLIENT_PORT);
  put16(udp + 2, DHCP_SERVER_PORT);
  put16(udp + 4, uint16_t(UDP_HDR + len));
  __builtin_memcpy(udp + UDP_HDR, msg, len);
  // Pseudo-header [RFC 768]: source, destination, protocol, UDP length.
  uint32_t pseudo = 0xffff + 0xffff + 17 + uint32_t(UDP_HDR + len);
  uint16_t sum = checksum(udp, UDP_HDR + len, pseudo);
  put16(udp + 6, sum ? sum : 0xffff);
  return eth.output_ipv4(0xffffffff, pkt, total);
}

// Sends `msg` and waits for the reply, resending with a doubling wait,
// until `deadline`.
Result<DhcpReply> exchange(EtherIf& eth, Client& c, const uint8_t* msg, size_t len, uint64_t deadline) {
  uint64_t wait = FIRST_WAIT_NS;
  for (;;) {
    (void)send(eth, msg, len);  // a full ring: the resend covers it
    uint64_t now = uptime_ns();
    if (now >= deadline) return Error::TimedOut;
    uint64_t until = now + wait < deadline ? now + wait : deadline;
    if (c.arrived.down_until(until)) {
      SpinGuard g(c.lock);
      c.got = false;
      return c.reply;
    }
    wait *= 2;
  }
}

char* put_ip(char* p, uint32_t a) {
  for (int i = 3; i >= 0; --i) {
    unsigned v = (a >> (8 * i)) & 0xff;
    if (v >= 100) *p++ = char('0' + v / 100);
    if (v >= 10) *p++ = char('0' + v / 10 % 10);
    *p++ = char('0' + v % 10);
    if (i) *p++ = '.';
  }
  *p = 0;
  return p;
}

}  // namespace

Result<Ipv4Config> dhcp_configure(EtherIf& eth, uint64_t timeout_ns) {
  auto* c = new (std::nothrow) Client;
  if (!c) return Error::NoMemory;
  random_bytes(&c->xid, sizeof c->xid);
  __builtin_memcpy(c->mac, eth.link().mac, 6);
  uint64_t deadline = uptime_ns() + timeout_ns;
  uint8_t msg[DHCP_MAX_MSG];
  eth.set_dhcp_tap(on_packet, c);
  Error error = Error::TimedOut;
  Ipv4Config cfg;
  do {
    c->want = DHCP_OFFER;
    size_t n = dhcp_build(DHCP_DISCOVER, c->xid, c->mac, 0, 0, msg);
    auto offer = exchange(eth, *c, msg, n, deadline);
    if (!offer.ok()) {
      error = offer.error();
      break;
    }
    if (offer.value().type != DHCP_OFFER || !offer.value().yiaddr) continue;
    c->want = DHCP_ACK;
    n = dhcp_build(DHCP_REQUEST, c->xid, c->mac, offer.value().yiaddr, offer.value().server_id, msg);
    auto ack = exchange(eth, *c, msg, n, deadline);
    if (!ack.ok()) {
      error = ack.error();
      break;
    }
    const DhcpReply& a = ack.value();
    if (a.type == DHCP_NAK) {  // [§4.4.1]: back to INIT
      error = Error::Permission;
      continue;
    }
    cfg.addr = a.yiaddr;
    int prefix = netmask_prefix(a.subnet_mask ? a.subnet_mask : offer.value().subnet_mask);
    cfg.prefix = uint8_t(prefix > 0 ? prefix : 24);
    cfg.router = a.router ? a.router : offer.value().router;
    cfg.dns[0] = a.dns[0] ? a.dns[0] : offer.value().dns[0];
    cfg.dns[1] = a.dns[0] ? a.dns[1] : offer.value().dns[1];
    __builtin_memcpy(cfg.domain, a.domain[0] ? a.domain : offer.value().domain, sizeof cfg.domain);
    eth.set_config(cfg);
    char addr[16], router[16], dns[16];
    put_ip(addr, cfg.addr);
    put_ip(router, cfg.router);
    put_ip(dns, cfg.dns[0]);
    log_info("dhcp: {} {}/{} router {} dns {} lease {} s", eth.link().name, addr, cfg.prefix, router, dns,
             a.lease_s);
    error = Error::None;
    break;
  } while (uptime_ns() < deadline);
  eth.set_dhcp_tap(nullptr, nullptr);
  // The tap may be running on the receive thread right now; the client
  // stays (a few dozen bytes, once per boot) rather than race it.
  if (error != Error::None) return error;
  return cfg;
}

}  // namespace capsule::net
