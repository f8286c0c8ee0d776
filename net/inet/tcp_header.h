#pragma once
// The TCP header and the options Capsule speaks (RFC 793 3.1; MSS RFC 879,
// window scale RFC 7323 2, SACK-permitted and SACK RFC 2018, timestamps
// RFC 7323 3): parsing with every check and building. Pure; unit-tested.
#include <cstddef>
#include <cstdint>

namespace capsule::net {

inline constexpr size_t TCP_MIN_HEADER = 20;
inline constexpr uint8_t TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_ACK = 0x10, TCP_URG = 0x20;

struct TcpSegment {
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;     // as sent (unscaled)
  size_t header_len = TCP_MIN_HEADER;
  // Options (SYN only): 0 when absent.
  uint16_t mss = 0;
  bool has_wscale = false;
  uint8_t wscale = 0;
  bool sack_ok = false;      // SACK-permitted (SYN only)
  // Any segment: timestamps and SACK blocks.
  bool has_ts = false;
  uint32_t tsval = 0, tsecr = 0;
  static constexpr int MAX_SACK = 4;
  uint8_t nsack = 0;
  uint32_t sack[MAX_SACK][2] = {};  // [start, end) blocks as sent
  // The data.
  const uint8_t* data = nullptr;
  size_t len = 0;

  // Sequence space the segment takes: data, SYN and FIN count one each.
  uint32_t seq_len() const { return uint32_t(len) + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0); }
};

// Parses `len` bytes (the IP payload): false when shorter than the header
// or its data offset says, or an option runs past the header. The
// checksum is the caller's (it needs the IP addresses).
bool tcp_parse(const uint8_t* p, size_t len, TcpSegment& s);

// What tcp_build puts in the options: mss 0 and wscale < 0 are none;
// SACK blocks that do not fit next to the timestamps are left out.
struct TcpOptions {
  uint16_t mss = 0;
  int wscale = -1;
  bool sack_ok = false;
  bool ts = false;
  uint32_t tsval = 0, tsecr = 0;
  uint8_t nsack = 0;
  uint32_t sack[TcpSegment::MAX_SACK][2] = {};
};

// Writes a header with the given options at p; returns its length (20, or
// more with options, padded to 4). The checksum field is left 0.
size_t tcp_build(uint8_t* p, const TcpSegment& s, const TcpOptions& o);
size_t tcp_build(uint8_t* p, const TcpSegment& s, uint16_t mss, int wscale);
// The most tcp_build writes (the largest TCP header).
inline constexpr size_t TCP_MAX_BUILT_HEADER = 60;

}  // namespace capsule::net
