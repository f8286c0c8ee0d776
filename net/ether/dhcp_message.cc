// DHCP message encoding and decoding (dhcp_message.h).
#include "net/ether/dhcp_message.h"

#include "net/ether/wire.h"

namespace capsule::net::ether {
namespace {

constexpr uint8_t BOOTREQUEST = 1, BOOTREPLY = 2;
constexpr uint8_t MAGIC[4] = {99, 130, 83, 99};  // [RFC 2131 §3]
// Options [RFC 2132].
enum : uint8_t {
  OPT_PAD = 0, OPT_SUBNET = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_HOSTNAME = 12, OPT_DOMAIN = 15,
  OPT_REQUESTED_IP = 50, OPT_LEASE = 51, OPT_MSG_TYPE = 53, OPT_SERVER_ID = 54,
  OPT_PARAMS = 55, OPT_MAX_SIZE = 57, OPT_END = 255,
};

}  // namespace

bool dhcp_parse(const uint8_t* p, size_t n, DhcpReply* out) {
  if (n < DHCP_FIXED + 4) return false;
  if (p[0] != BOOTREPLY || p[1] != 1 || p[2] != 6) return false;  // Ethernet: htype 1, hlen 6
  if (__builtin_memcmp(p + DHCP_FIXED, MAGIC, 4) != 0) return false;
  *out = DhcpReply{};
  out->xid = get32(p + 4);
  out->yiaddr = get32(p + 16);
  __builtin_memcpy(out->chaddr, p + 28, 6);
  size_t i = DHCP_FIXED + 4;
  while (i < n) {
    uint8_t code = p[i++];
    if (code == OPT_PAD) continue;
    if (code == OPT_END) break;
    if (i >= n) return false;
    size_t len = p[i++];
    if (len > n - i) return false;
    const uint8_t* v = p + i;
    switch (code) {
      case OPT_MSG_TYPE: if (len >= 1) out->type = v[0]; break;
      case OPT_SUBNET: if (len >= 4) out->subnet_mask = get32(v); break;
      case OPT_ROUTER: if (len >= 4) out->router = get32(v); break;
      case OPT_SERVER_ID: if (len >= 4) out->server_id = get32(v); break;
      case OPT_LEASE: if (len >= 4) out->lease_s = get32(v); break;
      case OPT_DNS:
        for (size_t k = 0; k < 2 && 4 * k + 4 <= len; ++k) out->dns[k] = get32(v + 4 * k);
        break;
      case OPT_DOMAIN: {
        size_t m = len < sizeof out->domain - 1 ? len : sizeof out->domain - 1;
        for (size_t k = 0; k < m; ++k) {
          char c = char(v[k]);
          // Only what a resolv.conf search line can carry.
          bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.';
          if (!ok) {
            m = 0;
            break;
          }
        }
        __builtin_memcpy(out->domain, v, m);
        out->domain[m] = 0;
        break;
      }
      default: break;
    }
    i += len;
  }
  return out->type != 0;
}

size_t dhcp_build(uint8_t type, uint32_t xid, const uint8_t mac[6], uint32_t requested, uint32_t server,
                  uint8_t* out) {
  __builtin_memset(out, 0, DHCP_MAX_MSG);
  out[0] = BOOTREQUEST;
  out[1] = 1;  // htype: Ethernet
  out[2] = 6;  // hlen
  put32(out + 4, xid);
  put16(out + 10, 0x8000);  // flags: BROADCAST [RFC 2131 §4.1]
  __builtin_memcpy(out + 28, mac, 6);
  __builtin_memcpy(out + DHCP_FIXED, MAGIC, 4);
  size_t i = DHCP_FIXED + 4;
  out[i++] = OPT_MSG_TYPE;
  out[i++] = 1;
  out[i++] = type;
  if (requested) {
    out[i++] = OPT_REQUESTED_IP;
    out[i++] = 4;
    put32(out + i, requested);
    i += 4;
  }
  if (server) {
    out[i++] = OPT_SERVER_ID;
    out[i++] = 4;
    put32(out + i, server);
    i += 4;
  }
  out[i++] = OPT_MAX_SIZE;
  out[i++] = 2;
  put16(out + i, DHCP_MAX_MSG);
  i += 2;
  const uint8_t params[] = {OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_HOSTNAME, OPT_DOMAIN, OPT_LEASE};
  out[i++] = OPT_PARAMS;
  out[i++] = sizeof params;
  __builtin_memcpy(out + i, params, sizeof params);
  i += sizeof params;
  out[i++] = OPT_END;
  // BOOTP's minimum message: 300 bytes (some servers drop shorter ones).
  return i < 300 ? 300 : i;
}

int netmask_prefix(uint32_t mask) {
  int n = __builtin_popcount(mask);
  uint32_t expect = n ? ~0u << (32 - n) : 0;
  return mask == expect ? n : -1;
}

}  // namespace capsule::net::ether
