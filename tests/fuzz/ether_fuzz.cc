// libFuzzer target: the Ethernet interface's input (net/ether/ether_if.cc,
// arp.cc): frames from the wire, ARP among them, and IPv4 output that waits
// for ARP, over a fake link. The input is a sequence of operations: a frame
// in, a packet out to an address, a clock step with ARP's tick. Nothing may
// crash; every frame sent fits the MTU and has a header; the packets held
// for resolution are freed (LeakSanitizer); the counters add up.
#include <cstdlib>
#include <cstring>

#include "net/ether.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

using namespace capsule;
using namespace capsule::net;

namespace {

uint64_t g_now;
size_t g_sent, g_ipv4;

Result<void> transmit(void*, const uint8_t* f, size_t n) {
  FUZZ_CHECK(n >= ETHER_MIN_FRAME && n <= 1514);
  volatile uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += f[i];  // every byte readable
  ++g_sent;
  return {};
}
uint64_t now() { return g_now; }
void on_ipv4(void*, const uint8_t* p, size_t n) {
  volatile uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += p[i];
  ++g_ipv4;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in{data, size};
  g_now = 1;
  g_sent = g_ipv4 = 0;
  EtherLink link{"eth0", {0x52, 0x54, 0, 0x12, 0x34, 0x56}, 1500, nullptr, transmit, now, nullptr};
  auto* eth = new EtherIf(link);
  Ipv4Config c;
  c.addr = 0x0a00020f;
  c.prefix = 24;
  c.router = 0x0a000202;
  eth->set_config(c);
  eth->set_ipv4_input(on_ipv4, nullptr);
  size_t frames = 0;
  for (int op; (op = in.byte()) >= 0;) {
    const uint8_t* p;
    size_t n;
    switch (op % 4) {
      case 0:
      case 1: {  // a frame in (exact-size copy for ASan)
        if (!in.record(&p, &n)) break;
        uint8_t* f = static_cast<uint8_t*>(std::malloc(n ? n : 1));
        __builtin_memcpy(f, p, n);
        eth->input(f, n);
        std::free(f);
        ++frames;
        break;
      }
      case 2: {  // an IPv4 packet out to 10.0.2.X (or another subnet)
        int host = in.byte();
        if (host < 0 || !in.record(&p, &n)) break;
        uint32_t ip = (op & 4) ? 0x0a000200u | uint32_t(host) : 0x08080800u | uint32_t(host);
        Result<void> r = eth->output_ipv4(ip, p, n);
        if (n > 1500) FUZZ_CHECK(!r.ok());
        break;
      }
      case 3: {  // the clock moves; ARP retries and expiry
        int k = in.byte();
        if (k < 0) break;
        g_now += uint64_t(k) * 100'000'000ull;
        (void)eth->tick();
        break;
      }
    }
  }
  EtherStats s = eth->stats();
  FUZZ_SAY("ether: %zu frames in, %zu sent, %zu to IPv4, %llu bad ARP, %llu ARP replies\n", frames, g_sent, g_ipv4,
           (unsigned long long)s.rx_bad_arp, (unsigned long long)s.arp_replies_sent);
  FUZZ_CHECK(s.rx_frames == frames);
  delete eth;
  return 0;
}
