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
  // Packets held per address while it resolves: Linux holds up to
  // unres_qlen_bytes (212,992 bytes of buffer truesize, ~90 full frames);
  // a burst sent before the first answer (a UDP sender's first datagrams)
  // must not be cut to a few.
  static constexpr size_t MAX_PENDING_BYTES = 64 * 1024;
  static constexpr size_t MAX_PENDING_TOTAL = 256 * 1024;  // over all addresses
  static constexpr size_t MAX_PACKET = 1500;        // an IPv4 packet held for its link address
  static constexpr uint64_t REACHABLE_NS = 60'000'000'000ull;  // an answer is trusted this long
  static constexpr uint64_t RETRY_NS = 1'000'000'000ull;       // between requests
  static constexpr unsigned MAX_REQUESTS = 3;       // then the held packets are dropped

  struct Stats {
    uint64_t requests = 0, resolved = 0, failed = 0, pending_dropped = 0, evicted = 0;
  };

  ~ArpCache();

  // The link address of `ip` if known. An answer older than REACHABLE_NS
  // is still used while it is checked again (RFC 1122 2.3.2.1; Linux's
  // STALE/PROBE): the first lookup after it expires sets *ask, and the
  // caller sends a request now; tick() repeats it and forgets the entry
  // when MAX_REQUESTS go unanswered. Traffic to a live neighbour never
  // waits for a new answer.
  bool lookup(uint32_t ip, uint64_t now, Mac* out, bool* ask = nullptr);

  // Records ip -> mac (an answer, or a request naming its sender). If the
  // address had packets waiting, calls flush(ctx, packet, len, mac) for
  // each in order. `create`: make an entry when there is none (RFC 826
  // only updates entries unless the packet was for us).
  using FlushFn = void (*)(void* ctx, const uint8_t* packet, size_t len, const Mac& mac);
  void learn(uint32_t ip, const Mac& mac, uint64_t now, bool create, FlushFn flush, void* ctx);

  // Holds `packet` until `ip` resolves; true when a request should go out
  // now (a new entry). Past MAX_PENDING_BYTES for the address (or
  // MAX_PENDING_TOTAL for all) the oldest packets are dropped; a packet
  // longer than MAX_PACKET or without memory is dropped (counted).
  bool hold(uint32_t ip, const uint8_t* packet, size_t len, uint64_t now);

  // Time passes: calls request(ctx, ip) for each address whose retry is
  // due, and gives up on those asked MAX_REQUESTS times (their packets are
  // dropped). Returns true while any address is still resolving.
  using RequestFn = void (*)(void* ctx, uint32_t ip);
  bool tick(uint64_t now, RequestFn request, void* ctx);

  const Stats& stats() const { return stats_; }

 private:
  // Stale: an expired answer still in use while it is asked again.
  enum class State : uint8_t { Free, Resolving, Reachable, Stale };
  struct Held {
    Held* next;
    uint16_t len;
    uint8_t data[];
  };
  struct Entry {
    State state = State::Free;
    uint32_t ip = 0;
    Mac mac{};
    uint64_t expires = 0;      // Reachable: until; Resolving, Stale: next request
    uint64_t last_used = 0;
    unsigned requests = 0;
    Held* held = nullptr;      // oldest first
    Held* held_tail = nullptr;
    size_t held_bytes = 0;
  };
  Entry* find(uint32_t ip);
  Entry* take_slot(uint64_t now);
  void drop_oldest(Entry& e);
  size_t drop_held(Entry& e);

  Entry entries_[ENTRIES];
  size_t held_total_ = 0;
  Stats stats_;
};

}  // namespace capsule::net::ether
