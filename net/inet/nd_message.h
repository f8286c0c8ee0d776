#pragma once
// Neighbor Discovery messages (RFC 4861 4, 4.6) and the addresses SLAAC
// forms (RFC 4862 5.3, 5.5.3; RFC 4291 2.5.1, 2.7.1): parsing with the
// validity checks of RFC 4861 6.1, 7.1 and building. Pure: the host unit
// tests and the fuzz target compile this file.
#include <cstddef>
#include <cstdint>

#include "net/ip_addr.h"

namespace capsule::net {

inline constexpr uint8_t ND_ROUTER_SOLICIT = 133, ND_ROUTER_ADVERT = 134, ND_NEIGHBOR_SOLICIT = 135,
                         ND_NEIGHBOR_ADVERT = 136, ND_REDIRECT = 137;

struct NdPrefix {
  IpAddr prefix;
  uint8_t len = 0;
  bool on_link = false, autonomous = false;
  uint32_t valid = 0, preferred = 0;  // seconds; 0xffffffff: infinity
};

struct NdMessage {
  uint8_t type = 0;
  // NS, NA: the target. NA: its flags.
  IpAddr target;
  bool router = false, solicited = false, override_ = false;
  // RA: the router's lifetime (s; 0: not a default router) and hop limit.
  uint16_t router_lifetime = 0;
  uint8_t cur_hop_limit = 0;
  uint32_t reachable_ms = 0, retrans_ms = 0;  // 0: unspecified (6.3.4)
  // Options: the link-layer addresses (Ethernet's 6 bytes), prefixes, MTU, DNS.
  bool has_slla = false, has_tlla = false;
  uint8_t slla[6] = {}, tlla[6] = {};
  static constexpr int MAX_PREFIXES = 4, MAX_DNS = 3;
  NdPrefix prefixes[MAX_PREFIXES];
  int nprefixes = 0;
  uint32_t mtu = 0;
  IpAddr dns[MAX_DNS];  // RDNSS (RFC 8106)
  uint32_t dns_lifetime[MAX_DNS] = {};  // s, each server's option's; 0: stop using it
  int ndns = 0;
};

// Why a message was dropped (RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2).
enum class NdDrop : uint8_t { None, HopLimit, Code, TooShort, BadOption, BadTarget, BadSource, NotNd };

// Checks an ND message (`len` ICMPv6 bytes at p, checksum already
// verified) that came with `hop_limit` from src to dst: the hop limit 255
// (it never crossed a router), code 0, the type's minimum length, every
// option's length non-zero and inside the message; an RA's source
// link-local; an NS/NA target not multicast; a solicited NA not to a
// multicast address; an NS from :: (DAD) without a source link-layer
// option. Fills m. Options of a known type but the wrong size are
// dropped, unknown ones skipped (RFC 4861 4.6).
NdDrop nd_parse(const uint8_t* p, size_t len, uint8_t hop_limit, const IpAddr& src, const IpAddr& dst, NdMessage& m);

// Builds the ICMPv6 body (checksum 0: the caller fills it) of a Neighbor
// Solicitation for `target`, a Neighbor Advertisement of `target`
// (solicited, override) and a Router Solicitation, each with our
// link-layer address `mac` as an option (a null mac: an NS without it,
// as duplicate address detection sends). Returns the length (at most 32).
size_t nd_build_ns(uint8_t* p, const IpAddr& target, const uint8_t* mac);
size_t nd_build_na(uint8_t* p, const IpAddr& target, const uint8_t mac[6], bool solicited, bool override_ = true);
size_t nd_build_rs(uint8_t* p, const uint8_t mac[6]);

// ff02::1:ffXX:XXXX of an address.
IpAddr solicited_node(const IpAddr& a);
// The modified EUI-64 interface identifier of an Ethernet address in the
// low 64 bits of `prefix` (fe80:: for the link-local address).
IpAddr eui64_address(const IpAddr& prefix, const uint8_t mac[6]);
// 33:33 and the group's last four bytes (RFC 2464 7).
void multicast_mac(const IpAddr& group, uint8_t mac[6]);

}  // namespace capsule::net
