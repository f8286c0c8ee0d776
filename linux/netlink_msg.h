#pragma once
// Netlink messages (netlink(7), rtnetlink(7); include/uapi/linux/netlink.h
// for the layouts): the header, the flags, attributes, and the builder the
// protocol handlers write their answers with (linux/netlink_socket.cc,
// linux/netlink_route.cc). The parsing and the builder (linux/
// netlink_msg.cc) are pure: tests/fuzz/netlink_fuzz.cc runs them.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::linux_abi::netlink {

inline constexpr uint16_t NLMSG_NOOP = 1, NLMSG_ERROR = 2, NLMSG_DONE = 3, NLMSG_MIN_TYPE = 0x10;
inline constexpr uint16_t NLM_F_REQUEST = 0x1, NLM_F_MULTI = 0x2, NLM_F_ACK = 0x4, NLM_F_ECHO = 0x8;
inline constexpr uint16_t NLM_F_DUMP = 0x300;    // NLM_F_ROOT | NLM_F_MATCH (GET requests)
inline constexpr uint16_t NLM_F_CAPPED = 0x100;  // on an NLMSG_ERROR: the request's payload left out

constexpr size_t align4(size_t n) { return (n + 3) & ~size_t(3); }

struct Header {
  uint32_t len;
  uint16_t type;
  uint16_t flags;
  uint32_t seq;
  uint32_t pid;
};
static_assert(sizeof(Header) == 16);

struct AttrHeader {
  uint16_t len;
  uint16_t type;
};

// One request as a protocol handler sees it: its header and payload (the
// bytes after the header, nlmsg_len - 16), and who sent it.
struct Request {
  Header hdr;
  const uint8_t* payload;
  size_t len;
  uint32_t portid;  // the sender's port id: every answer carries it
  bool net_admin;   // CAP_NET_ADMIN (NEW/DEL/SET requests need it)
};

// The message at *off in the `len` bytes a sendmsg gave (the header, then
// the payload of hdr->len - 16 bytes), and *off moved to the next (4-byte
// aligned). False at the end: fewer than 16 bytes left, or a length below
// the header or past the buffer (Linux's netlink_rcv_skb stops there too).
bool next_request(const uint8_t* buf, size_t len, size_t* off, Header* hdr, const uint8_t** payload,
                  size_t* plen);

// An attribute of a request's payload: the first of `type` at or after
// `off` (4-byte aligned); nullptr when absent or malformed. *n is its
// payload length.
const uint8_t* find_attr(const Request& r, size_t off, uint16_t type, size_t* n);

// An answer under construction. Sizes are checked: a message that would
// not fit (it never happens for what the handlers write) is marked
// overflowed and dropped by the sink.
class Message {
 public:
  static constexpr size_t MAX = 1024;
  Message(uint16_t type, uint16_t flags, const Request& r);

  // The fixed family header (ifinfomsg, ifaddrmsg, rtmsg): first.
  void put(const void* data, size_t n);
  void attr(uint16_t type, const void* data, size_t n);
  void attr_u8(uint16_t type, uint8_t v) { attr(type, &v, 1); }
  void attr_u32(uint16_t type, uint32_t v) { attr(type, &v, 4); }
  void attr_str(uint16_t type, const char* s);  // with its NUL

  bool overflowed() const { return overflow_; }
  const uint8_t* data() const { return buf_; }
  size_t size() const { return len_; }

 private:
  alignas(8) uint8_t buf_[MAX];
  size_t len_;
  bool overflow_ = false;
};

// Where answers go. add() appends a message to the datagram being built
// and starts a new one when it would pass the datagram size Linux uses
// for dumps (so a reader with a page-sized buffer never sees MSG_TRUNC);
// NoMemory when the kernel heap is out.
class Sink {
 public:
  virtual Result<void> add(const Message& m) = 0;

 protected:
  ~Sink() = default;
};

// NETLINK_ROUTE (linux/netlink_route.cc). Answers one request into `out`:
// a dump (*dump set) writes its parts, the caller ends it with NLMSG_DONE;
// any other request returns the error its acknowledgement carries.
Result<void> route_request(const Request& r, Sink& out, bool* dump);

}  // namespace capsule::linux_abi::netlink
