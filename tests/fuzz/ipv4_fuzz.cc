// libFuzzer target: IPv4 input (net/inet/ipv4_header.cc, reassembly.cc),
// the way ip_input uses them. The input is a sequence of datagrams (each a
// 16-bit length and the bytes) and clock steps; each is parsed, and
// fragments go to one Reassembly. An accepted header must describe bytes
// inside the datagram; a reassembled datagram must parse as a whole,
// unfragmented datagram of the length it says, within 65535 bytes; the
// reassembly's memory stays within its bounds and is freed at the end
// (LeakSanitizer).
#include <cstdlib>

#include "net/inet/ipv4_header.h"
#include "net/inet/reassembly.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace capsule {
void* kmalloc(size_t size) { return std::malloc(size); }
void kfree(void* p) { std::free(p); }
}  // namespace capsule

using namespace capsule;
using namespace capsule::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in{data, size};
  auto* reasm = new Reassembly;
  uint64_t now = 0;
  for (int op; (op = in.byte()) >= 0;) {
    if (op == 0xff) {  // the clock moves
      int k = in.byte();
      if (k < 0) break;
      now += uint64_t(k) * 500'000'000ull;  // up to about 2 minutes
      continue;
    }
    const uint8_t* p;
    size_t n;
    if (!in.record(&p, &n)) break;
    // An exact-size copy: ASan catches a read past the datagram.
    uint8_t* d = static_cast<uint8_t*>(std::malloc(n ? n : 1));
    __builtin_memcpy(d, p, n);
    Ipv4Header h;
    Ipv4Drop drop = ipv4_parse(d, n, h);
    FUZZ_SAY("ipv4: %zu bytes, drop %d, fragment %d\n", n, int(drop), drop == Ipv4Drop::None && h.fragment());
    if (drop == Ipv4Drop::None) {
      FUZZ_CHECK(h.header_len >= IPV4_MIN_HEADER && h.header_len <= h.total_len && h.total_len <= n);
      FUZZ_CHECK(h.frag_offset % 8 == 0 && size_t(h.frag_offset) + h.total_len - h.header_len <= 65535);
      // An ICMP error's quoted datagram, read as icmp_input reads it.
      if (h.protocol == IPPROTO_ICMP_ && !h.fragment() && h.total_len - h.header_len >= 8) {
        Ipv4Header q;
        const uint8_t* orig = d + h.header_len + 8;
        size_t olen = h.total_len - h.header_len - 8;
        if (ipv4_parse_quoted(orig, olen, q)) {
          FUZZ_CHECK(q.header_len >= IPV4_MIN_HEADER && q.header_len + 8 <= olen);
          volatile uint8_t l4 = orig[q.header_len] ^ orig[q.header_len + 7];  // the transport's 8 bytes
          (void)l4;
        }
      }
      if (h.fragment()) {
        PacketBuf whole;
        size_t before = reasm->in_progress();
        bool done = reasm->add(h, d + h.header_len, h.total_len - h.header_len, now, whole);
        FUZZ_CHECK(reasm->in_progress() <= Reassembly::MAX_DATAGRAMS);
        FUZZ_CHECK(reasm->in_progress() <= before + 1);
        FUZZ_SAY("ipv4: reassembly %s\n", done ? "done" : "waiting");
        if (done) {
          Ipv4Header w;
          FUZZ_CHECK(ipv4_parse(whole.data(), whole.size(), w) == Ipv4Drop::None);
          FUZZ_CHECK(!w.fragment() && w.total_len == whole.size() && w.header_len == IPV4_MIN_HEADER);
          FUZZ_CHECK(w.src == h.src && w.dst == h.dst && w.id == h.id && w.protocol == h.protocol);
        }
      }
    }
    std::free(d);
  }
  delete reasm;
  return 0;
}
