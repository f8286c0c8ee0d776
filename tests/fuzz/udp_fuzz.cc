// libFuzzer target: UDP input checks (net/inet/udp_header.cc). The input
// is the source and destination addresses (8 bytes) then the IP payload.
// An accepted datagram's payload lies inside the bytes given and within
// its UDP length; the same datagram with its checksum recomputed (or 0:
// none) is accepted too.
#include <cstdlib>
#include <vector>

#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/ipv4_header.h"
#include "net/inet/udp_header.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8 || size > 65535) return -1;
  Ipv4 src{load32(data)}, dst{load32(data + 4)};
  size_t n = size - 8;
  uint8_t* d = static_cast<uint8_t*>(std::malloc(n ? n : 1));
  __builtin_memcpy(d, data + 8, n);
  UdpHeader u;
  UdpDrop drop = udp_parse(d, n, src, dst, u);
  FUZZ_SAY("udp: %zu bytes, drop %d\n", n, int(drop));
  if (drop == UdpDrop::None) {
    FUZZ_CHECK(u.data == d + UDP_HEADER && u.len + UDP_HEADER <= n);
    FUZZ_CHECK(u.len + UDP_HEADER == load16(d + 4));
  }
  if (n >= UDP_HEADER && load16(d + 4) >= UDP_HEADER && load16(d + 4) <= n) {
    // A sender's checksum: the datagram must then pass.
    uint16_t ulen = load16(d + 4);
    store16(d + 6, 0);
    uint16_t c = csum_fold(csum_add(csum_pseudo(src.v, dst.v, IPPROTO_UDP_, ulen), d, ulen));
    store16(d + 6, c ? c : 0xffff);
    FUZZ_CHECK(udp_parse(d, n, src, dst, u) == UdpDrop::None);
    store16(d + 6, 0);
    FUZZ_CHECK(udp_parse(d, n, src, dst, u) == UdpDrop::None);
  } else {
    FUZZ_CHECK(drop != UdpDrop::None);
  }
  std::free(d);
  return 0;
}
