#pragma once
// IPv6 fragment reassembly (RFC 8200 4.5; RFC 5722: overlapping fragments
// drop the whole packet; RFC 6946: an atomic fragment is the packet):
// bounded in packets and bytes, timed out. Only a Fragment header right
// after the fixed header is taken (what senders put there when nothing
// else precedes it). Pure logic on the heap; the host unit tests and the
// fuzz target compile it. Not thread-safe: ip6_input holds its lock.
#include <cstddef>
#include <cstdint>

#include "net/inet/ipv6_header.h"
#include "net/packet.h"

namespace capsule::net {

inline constexpr size_t IPV6_FRAG_HEADER = 8;

// The Fragment header (RFC 8200 4.5) at p (8 bytes).
struct Ipv6Fragment {
  uint8_t next = 0;
  uint16_t offset = 0;  // bytes, a multiple of 8
  bool more = false;
  uint32_t id = 0;
};
Ipv6Fragment ipv6_fragment_parse(const uint8_t* p);
void ipv6_fragment_build(uint8_t* p, const Ipv6Fragment& f);

class Reassembly6 {
 public:
  static constexpr size_t MAX_PACKETS = 16;                 // in progress at once
  static constexpr size_t MAX_BYTES = 1 << 20;              // net.ipv6.ip6frag_high_thresh is 4 MiB
  static constexpr uint64_t TIMEOUT_NS = 60'000'000'000ull;  // RFC 8200 4.5: 60 s

  enum class Result6 : uint8_t { Held, Done, Dropped };

  Reassembly6() = default;
  Reassembly6(const Reassembly6&) = delete;
  Reassembly6& operator=(const Reassembly6&) = delete;
  ~Reassembly6();

  // One fragment: `p` is the packet (`len` bytes: the fixed header, the
  // Fragment header at 40, the fragment's data up to 40 + payload_len),
  // h its parsed fixed header. Done: the whole packet (a fixed header whose
  // next header is the fragment's, then the data) is in `out`. Dropped: a
  // malformed fragment (data not a multiple of 8 with more to come, past
  // 65,535 bytes), an overlap (the packet's other fragments go too) or a
  // bound; counted in dropped(). Entries older than TIMEOUT_NS go first.
  Result6 add(const Ipv6Header& h, const uint8_t* p, size_t len, uint64_t now_ns, PacketBuf& out);

  size_t in_progress() const { return count_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t timed_out() const { return timed_out_; }

 private:
  struct Entry {
    bool used = false;
    IpAddr src, dst;
    uint32_t id = 0;
    uint64_t first_ns = 0;
    uint8_t next = 0;          // from the offset-0 fragment
    bool have_first = false;
    size_t total = 0;          // data length once the last fragment came (0: unknown)
    uint8_t* buf = nullptr;    // 65535 bytes of data
    uint8_t* have = nullptr;   // one bit per 8-byte block
    uint8_t header[IPV6_HEADER] = {};  // the offset-0 fragment's fixed header
  };
  static constexpr size_t BLOCKS = 65536 / 8;
  void drop(Entry& e);
  bool complete(const Entry& e) const;

  Entry entries_[MAX_PACKETS];
  size_t count_ = 0, bytes_ = 0;
  uint64_t dropped_ = 0, timed_out_ = 0;
};

}  // namespace capsule::net
