// Netlink message parsing and building (linux/netlink_msg.h): pure, so the
// fuzz target (tests/fuzz/netlink_fuzz.cc) compiles it.
#include "linux/netlink_msg.h"

namespace capsule::linux_abi::netlink {

bool next_request(const uint8_t* buf, size_t len, size_t* off, Header* hdr, const uint8_t** payload,
                  size_t* plen) {
  if (*off > len || len - *off < sizeof(Header)) return false;
  Header h;
  __builtin_memcpy(&h, buf + *off, sizeof h);
  if (h.len < sizeof(Header) || h.len > len - *off) return false;
  *hdr = h;
  *payload = buf + *off + sizeof(Header);
  *plen = h.len - sizeof(Header);
  *off += align4(h.len);  // may pass len: the next call stops
  return true;
}

const uint8_t* find_attr(const Request& r, size_t off, uint16_t type, size_t* n) {
  off = align4(off);
  while (off + sizeof(AttrHeader) <= r.len) {
    AttrHeader a;
    __builtin_memcpy(&a, r.payload + off, sizeof a);
    if (a.len < sizeof a || a.len > r.len - off) return nullptr;
    if ((a.type & 0x3fff) == type) {  // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
      *n = a.len - sizeof a;
      return r.payload + off + sizeof a;
    }
    off += align4(a.len);
  }
  return nullptr;
}

Message::Message(uint16_t type, uint16_t flags, const Request& r) {
  Header h{sizeof(Header), type, flags, r.hdr.seq, r.portid};
  __builtin_memcpy(buf_, &h, sizeof h);
  len_ = sizeof h;
}

void Message::put(const void* data, size_t n) {
  if (overflow_ || align4(len_ + n) > MAX) {
    overflow_ = true;
    return;
  }
  __builtin_memcpy(buf_ + len_, data, n);
  size_t end = align4(len_ + n);
  __builtin_memset(buf_ + len_ + n, 0, end - len_ - n);
  len_ = end;
  uint32_t l = uint32_t(len_);
  __builtin_memcpy(buf_, &l, 4);
}

void Message::attr(uint16_t type, const void* data, size_t n) {
  if (overflow_ || align4(len_ + sizeof(AttrHeader) + n) > MAX) {
    overflow_ = true;
    return;
  }
  AttrHeader a{uint16_t(sizeof a + n), type};
  __builtin_memcpy(buf_ + len_, &a, sizeof a);
  len_ += sizeof a;
  put(data, n);
}

void Message::attr_str(uint16_t type, const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  attr(type, s, n + 1);
}

}  // namespace capsule::linux_abi::netlink
