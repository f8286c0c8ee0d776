// libFuzzer target: netlink requests as a sendmsg hands them to the kernel
// (linux/netlink_msg.cc: splitting into messages, attributes, the answer
// builder; linux/netlink_route.cc: NETLINK_ROUTE's requests) over two fake
// interfaces (lo and eth0; the IP layer's lookups are stubs here). Every
// message found lies inside the buffer, every attribute inside its
// message, and every answer is a well-formed message within its bounds.
#include <cstdlib>
#include <initializer_list>
#include <cstring>

#include "linux/netlink_msg.h"
#include "net/netif.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule;
using namespace capsule::linux_abi::netlink;

namespace capsule {
uint64_t uptime_ns() { return 100'000'000'000ull; }
}  // namespace capsule

namespace capsule::net {
namespace {

class FakeNetif final : public Netif {
 public:
  FakeNetif(const char* name, uint32_t flags) : Netif(name, flags, 1500) {}
  size_t hw_addr(uint8_t* out) const override {
    static const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    __builtin_memcpy(out, mac, 6);
    return 6;
  }
  Result<void> output(PacketBuf, Ipv4) override { return Error::NoDevice; }
};

FakeNetif* g_nifs[2];

}  // namespace

// What net/inet/netif.cc does, for two interfaces that never change.
Result<void> netif_register(Netif& nif) {
  nif.index_ = nif.flags() & NetifFlags::LOOPBACK ? 1 : 2;
  return {};
}
void netif_set_addr(Netif& nif, Ipv4 addr, unsigned prefix) {
  nif.addr_.store(addr.v);
  nif.prefix_.store(prefix);
}
Netif* netif_by_index(uint32_t index) { return index >= 1 && index <= 2 ? g_nifs[index - 1] : nullptr; }
Netif* netif_by_name(const char* name) {
  for (FakeNetif* n : g_nifs)
    if (std::strcmp(n->name(), name) == 0) return n;
  return nullptr;
}
Ipv4 route_gateway(Netif** via) {
  *via = g_nifs[1];
  return Ipv4{0x0a000202};
}
bool is_local_addr(Ipv4 a) { return a.loopback() || a.v == 0x0a00020f; }
IpAddr route6_gateway(Netif** via) {
  *via = g_nifs[1];
  return IpAddr{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
}
Result<Route6> route6_lookup(const IpAddr& dst, uint32_t) {
  if (dst.loopback6()) return Route6{g_nifs[0], dst, dst};
  if (dst.multicast6()) return Error::NetUnreach;
  return Route6{g_nifs[1], IpAddr{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}}, IpAddr{{0xfe, 0x80}}};
}
bool is_local_addr6(const IpAddr& a) { return a.loopback6(); }
// lo's ::1, a link-local address on the Ethernet interface, a SLAAC one
// with lifetimes (deprecated: uptime_ns is 100 s here) and a duplicate.
size_t netif_addrs6(Addr6* out, size_t max) {
  const Addr6 a[4] = {{IP6_LOOPBACK, 128, 254, 1},
                      {{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56}}, 64, 253, 2},
                      {{{0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56}}, 64, 0, 2,
                       Addr6Flags::AUTOCONF, 200'000'000'000ull, 50'000'000'000ull},
                      {{{0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99}}, 64, 0, 2, Addr6Flags::DUPLICATE}};
  for (size_t i = 0; i < 4 && i < max; ++i) out[i] = a[i];
  return 4;
}
Result<Route> route_lookup(Ipv4 dst) {
  if (dst.loopback()) return Route{g_nifs[0], dst, IPV4_LOOPBACK};
  if (dst.multicast()) return Error::NetUnreach;
  if ((dst.v & 0xffffff00u) == 0x0a000200u) return Route{g_nifs[1], dst, Ipv4{0x0a00020f}};
  return Route{g_nifs[1], Ipv4{0x0a000202}, Ipv4{0x0a00020f}};
}

}  // namespace capsule::net

namespace {

void setup() {
  using namespace capsule::net;
  static bool done;
  if (done) return;
  done = true;
  g_nifs[0] = new FakeNetif("lo", NetifFlags::UP | NetifFlags::LOOPBACK | NetifFlags::RUNNING);
  g_nifs[1] = new FakeNetif("eth0", NetifFlags::UP | NetifFlags::BROADCAST | NetifFlags::RUNNING |
                                        NetifFlags::MULTICAST);
  for (FakeNetif* n : g_nifs) (void)netif_register(*n);
  netif_set_addr(*g_nifs[0], IPV4_LOOPBACK, 8);
  netif_set_addr(*g_nifs[1], Ipv4{0x0a00020f}, 24);
}

// Checks each answer: a header whose length is the message's, attributes
// that tile the rest after the family header.
struct CheckSink final : Sink {
  size_t messages = 0;
  Result<void> add(const Message& m) override {
    FUZZ_CHECK(!m.overflowed());
    FUZZ_CHECK(m.size() >= sizeof(Header) && m.size() <= Message::MAX && m.size() % 4 == 0);
    Header h;
    __builtin_memcpy(&h, m.data(), sizeof h);
    FUZZ_CHECK(h.len == m.size());
    ++messages;
    return {};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65536) return -1;
  setup();
  uint8_t* buf = static_cast<uint8_t*>(std::malloc(size ? size : 1));
  __builtin_memcpy(buf, data, size);
  size_t off = 0, count = 0;
  Request r{};
  r.portid = 1234;
  while (next_request(buf, size, &off, &r.hdr, &r.payload, &r.len)) {
    FUZZ_CHECK(++count <= size / sizeof(Header));
    FUZZ_CHECK(r.payload >= buf + sizeof(Header) && r.payload + r.len <= buf + size);
    FUZZ_CHECK(r.len + sizeof(Header) == r.hdr.len);
    // Every attribute type at a few family-header sizes.
    for (size_t fixed : {0, 8, 12, 16}) {
      for (uint16_t type = 0; type < 40; ++type) {
        size_t n = 0;
        const uint8_t* a = find_attr(r, fixed, type, &n);
        if (a) FUZZ_CHECK(a >= r.payload + fixed && a + n <= r.payload + r.len);
      }
    }
    r.net_admin = r.hdr.seq & 1;
    CheckSink sink;
    bool dump = false;
    Result<void> err;
    if ((r.hdr.flags & NLM_F_REQUEST) && r.hdr.type >= NLMSG_MIN_TYPE) err = route_request(r, sink, &dump);
    FUZZ_SAY("netlink: type %u flags %#x len %zu: %s, %zu answers%s\n", r.hdr.type, r.hdr.flags, r.len,
             err.ok() ? "ok" : error_name(err.error()), sink.messages, dump ? " (dump)" : "");
    if (dump) FUZZ_CHECK(err.ok());
    // The acknowledgement as linux/netlink_socket.cc builds it.
    Message ack(NLMSG_ERROR, 0, r);
    int32_t e = err.ok() ? 0 : -1;
    ack.put(&e, sizeof e);
    ack.put(&r.hdr, sizeof r.hdr);
    ack.put(r.payload, r.len < Message::MAX - 64 ? r.len : 0);
    (void)sink.add(ack);
  }
  std::free(buf);
  return 0;
}
