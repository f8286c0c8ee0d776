// libFuzzer target: the DHCP client's reply parser (net/ether/
// dhcp_message.cc). Any UDP payload must parse or be refused; an accepted
// reply has a message type, and its domain is NUL-terminated and holds only
// what a resolv.conf search line can carry.
#include <cstdlib>
#include <cstring>

#include "net/ether/dhcp_message.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule::net::ether;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65535) return -1;
  uint8_t* d = static_cast<uint8_t*>(std::malloc(size ? size : 1));
  __builtin_memcpy(d, data, size);
  DhcpReply r;
  bool ok = dhcp_parse(d, size, &r);
  FUZZ_SAY("dhcp: %s type %u domain '%s'\n", ok ? "ok" : "refused", r.type, ok ? r.domain : "");
  if (ok) {
    FUZZ_CHECK(r.type != 0);
    size_t len = strnlen(r.domain, sizeof r.domain);
    FUZZ_CHECK(len < sizeof r.domain);
    for (size_t i = 0; i < len; ++i) {
      char c = r.domain[i];
      FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
    }
    int prefix = netmask_prefix(r.subnet_mask);
    FUZZ_CHECK(prefix >= -1 && prefix <= 32);
  }
  std::free(d);
  return 0;
}
