#pragma once
// IPv4 fragment reassembly (RFC 791 3.2, RFC 815's idea of tracking what is
// missing): bounded in datagrams and bytes, and timed out. Pure logic on
// the heap; the host unit tests compile it. Not thread-safe: ip_input
// holds its lock around it.
#include <cstddef>
#include <cstdint>

#include "net/inet/ipv4_header.h"
#include "net/packet.h"

namespace capsule::net {

class Reassembly {
 public:
  static constexpr size_t MAX_DATAGRAMS = 64;          // in progress at once
  static constexpr size_t MAX_BYTES = 4 << 20;         // net.ipv4.ipfrag_high_thresh
  static constexpr uint64_t TIMEOUT_NS = 30'000'000'000ull;  // net.ipv4.ipfrag_time

  Reassembly() = default;
  Reassembly(const Reassembly&) = delete;
  Reassembly& operator=(const Reassembly&) = delete;
  ~Reassembly();

  // Adds one fragment (h parsed, `data` its payload of h.total_len -
  // h.header_len bytes). When it completes a datagram, returns the whole
  // datagram (a fresh 20-byte header, then the payload) in `out` and
  // true. Overlapping fragments keep the first copy. Entries older than
  // TIMEOUT_NS at `now_ns` are dropped first; a fragment that would pass
  // a bound is dropped (counted in dropped()).
  bool add(const Ipv4Header& h, const uint8_t* data, size_t len, uint64_t now_ns, PacketBuf& out);

  size_t in_progress() const { return count_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t timed_out() const { return timed_out_; }

 private:
  struct Entry {
    bool used = false;
    Ipv4 src, dst;
    uint16_t id = 0;
    uint8_t proto = 0;
    uint64_t first_ns = 0;
    size_t total = 0;          // payload length once the last fragment came (0: unknown)
    uint8_t* buf = nullptr;    // 65535 bytes of payload
    uint8_t* have = nullptr;   // one bit per 8-byte block
    Ipv4Header first;          // the offset-0 fragment's header
  };
  static constexpr size_t BLOCKS = 65536 / 8;
  void drop(Entry& e);
  bool complete(const Entry& e) const;

  Entry entries_[MAX_DATAGRAMS];
  size_t count_ = 0, bytes_ = 0;
  uint64_t dropped_ = 0, timed_out_ = 0;
};

}  // namespace capsule::net
