#pragma once
// ARP for IPv4 over Ethernet [RFC 826]: the packet's parse and build, and
// the neighbour cache (entries with timeouts, requests retried, packets
// held while an address resolves). Pure logic with the time passed in, so
// the host unit tests drive it (tests/unit/arp_test.cc); net/ether/
// ether_if.cc sends what it asks for.
#include <cstddef>
#include <cstdint>

namespace capsule::net::ether {

inline constexpr size_t ARP_LEN = 28;  // Ethernet/IPv4 ARP body
inline constexpr uint16_t ARP_REQUEST = 1, ARP_REPLY = 2;

struct Mac {
  uint8_t b[6];
  bool operator==(const Mac&) const = default;
};

struct ArpPacket {
  uint16_t op;
  Mac sha;           // sender hardware address
  uint32_t spa;      // sender protocol address (host order)
  Mac tha;
  uint32_t tpa;
};

// False for anything but an Ethernet/IPv4 request or reply of the right
// lengths (htype 1, ptype 0x0800, hlen 6, plen 4, at least 28 bytes).
bool arp_parse(const uint8_t* p, size_t n, ArpPacket* out);
// Writes ARP_LEN bytes.
void arp_build(const ArpPacket& a, uint8_t* out);

class ArpCache {
 public:
  static constexpr size_t ENTRIES = 32;
  static constexpr size_t MAX_PENDING = 3;          // per address, as Linux's unres_qlen default order
  static constexpr size_t MAX_PACKET = 1500;        // an IPv4 packet held for its link address
  static constexpr uint64_t REACHABLE_NS = 60'000'000'000ull;  // an answer is trusted this long
  static constexpr uint64_t RETRY_NS = 1'000'000'000ull;       // between requests
  static constexpr unsigned MAX_REQUESTS = 3;       // then the held packets are dropped

  struct Stats {
    uint64_t requests = 0, resolved = 0, failed = 0, pending_dropped = 0, evicted = 0;
  };

  ~ArpCache();

  // The link address of `ip` if known and fresh.
  bool lookup(uint32_t ip, uint64_t now, Mac* out);

  // Records ip -> mac (an answer, or a request naming its sender). If the
  // address had packets waiting, calls flush(ctx, packet, len, mac) for
  // each in order. `create`: make an entry when there is none (RFC 826
  // only updates entries unless the packet was for us).
  using FlushFn = void (*)(void* ctx, const uint8_t* packet, size_t len, const Mac& mac);
  void learn(uint32_t ip, const Mac& mac, uint64_t now, bool create, FlushFn flush, void* ctx);

  // Holds `packet` until `ip` resolves; true when a request should go out
  // now (a new entry). A full queue drops the oldest packet; a packet
  // longer than MAX_PACKET or without memory is dropped (counted).
  bool hold(uint32_t ip, const uint8_t* packet, size_t len, uint64_t now);

  // Time passes: calls request(ctx, ip) for each address whose retry is
  // due, and gives up on those asked MAX_REQUESTS times (their packets are
  // dropped). Returns true while any address is still resolving.
  using RequestFn = void (*)(void* ctx, uint32_t ip);
  bool tick(uint64_t now, RequestFn request, void* ctx);

  const Stats& stats() const { return stats_; }

 private:
  enum class State : uint8_t { Free, Resolving, Reachable };
  struct Held {
    uint16_t len;
    uint8_t* data;
  };
  struct Entry {
    State state = State::Free;
    uint32_t ip = 0;
    Mac mac{};
    uint64_t expires = 0;      // Reachable: until; Resolving: next request
    uint64_t last_used = 0;
    unsigned requests = 0;
    Held held[MAX_PENDING] = {};
    size_t nheld = 0;
  };
  Entry* find(uint32_t ip);
  Entry* take_slot(uint64_t now);
  void drop_held(Entry& e);

  Entry entries_[ENTRIES];
  Stats stats_;
};

}  // namespace capsule::net::ether
