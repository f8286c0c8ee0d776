// IPv6 fragment reassembly (net/inet/reassembly6.h, RFC 8200 4.5).
#include "net/inet/reassembly6.h"

#include "core/mm.h"
#include "net/byte_order.h"

namespace capsule::net {

Ipv6Fragment ipv6_fragment_parse(const uint8_t* p) {
  Ipv6Fragment f;
  f.next = p[0];
  uint16_t w = load16(p + 2);
  f.offset = uint16_t(w & 0xfff8);  // 13 bits of 8-byte units, already in bytes
  f.more = w & 1;
  f.id = load32(p + 4);
  return f;
}

void ipv6_fragment_build(uint8_t* p, const Ipv6Fragment& f) {
  p[0] = f.next;
  p[1] = 0;
  store16(p + 2, uint16_t((f.offset & 0xfff8) | (f.more ? 1 : 0)));
  store32(p + 4, f.id);
}

Reassembly6::~Reassembly6() {
  for (Entry& e : entries_)
    if (e.used) drop(e);
}

void Reassembly6::drop(Entry& e) {
  kfree(e.buf);
  kfree(e.have);
  bytes_ -= 65535;
  --count_;
  e = Entry{};
}

bool Reassembly6::complete(const Entry& e) const {
  if (!e.total || !e.have_first) return false;
  for (size_t b = 0; b < (e.total + 7) / 8; ++b)
    if (!(e.have[b / 8] & (1u << (b % 8)))) return false;
  return true;
}

Reassembly6::Result6 Reassembly6::add(const Ipv6Header& h, const uint8_t* p, size_t len, uint64_t now_ns,
                                      PacketBuf& out) {
  for (Entry& e : entries_) {
    if (e.used && now_ns - e.first_ns > TIMEOUT_NS) {
      drop(e);
      ++timed_out_;
    }
  }
  const size_t end_of_packet = IPV6_HEADER + h.payload_len;
  if (end_of_packet > len || end_of_packet < IPV6_HEADER + IPV6_FRAG_HEADER) {
    ++dropped_;
    return Result6::Dropped;
  }
  const Ipv6Fragment f = ipv6_fragment_parse(p + IPV6_HEADER);
  const uint8_t* data = p + IPV6_HEADER + IPV6_FRAG_HEADER;
  const size_t n = end_of_packet - IPV6_HEADER - IPV6_FRAG_HEADER;
  // RFC 8200 4.5: a fragment with more to come is a multiple of 8 bytes;
  // none ends past 65,535.
  if ((f.more && n % 8) || size_t(f.offset) + n > 65535 || (f.more && n == 0)) {
    ++dropped_;
    return Result6::Dropped;
  }
  if (f.offset == 0 && !f.more) {
    // RFC 6946: an atomic fragment is the whole packet.
    auto r = PacketBuf::alloc(IPV6_HEADER + n);
    if (!r.ok()) {
      ++dropped_;
      return Result6::Dropped;
    }
    out = static_cast<PacketBuf&&>(r.value());
    __builtin_memcpy(out.data(), p, IPV6_HEADER);
    out.data()[6] = f.next;
    store16(out.data() + 4, uint16_t(n));
    __builtin_memcpy(out.data() + IPV6_HEADER, data, n);
    return Result6::Done;
  }
  Entry* e = nullptr;
  for (Entry& x : entries_)
    if (x.used && x.id == f.id && x.src == h.src && x.dst == h.dst) e = &x;
  if (!e) {
    if (count_ == MAX_PACKETS || bytes_ + 65535 > MAX_BYTES) {
      ++dropped_;
      return Result6::Dropped;
    }
    for (Entry& x : entries_)
      if (!x.used) {
        e = &x;
        break;
      }
    e->buf = static_cast<uint8_t*>(kmalloc(65535));
    e->have = static_cast<uint8_t*>(kmalloc(BLOCKS / 8));
    if (!e->buf || !e->have) {
      kfree(e->buf);
      kfree(e->have);
      *e = Entry{};
      ++dropped_;
      return Result6::Dropped;
    }
    __builtin_memset(e->have, 0, BLOCKS / 8);
    e->used = true;
    e->src = h.src, e->dst = h.dst, e->id = f.id;
    e->first_ns = now_ns;
    ++count_;
    bytes_ += 65535;
  }
  const size_t end = size_t(f.offset) + n;
  // Two last fragments that disagree, data past a known end, or any
  // overlap (RFC 5722): the whole packet goes.
  bool bad = (!f.more && e->total && e->total != end) || (e->total && end > e->total);
  for (size_t b = f.offset / 8; !bad && b < (end + 7) / 8; ++b) bad = e->have[b / 8] & (1u << (b % 8));
  if (bad) {
    drop(*e);
    ++dropped_;
    return Result6::Dropped;
  }
  if (!f.more) e->total = end;
  if (f.offset == 0) {
    e->have_first = true;
    e->next = f.next;
    __builtin_memcpy(e->header, p, IPV6_HEADER);
  }
  if (n) __builtin_memcpy(e->buf + f.offset, data, n);
  for (size_t b = f.offset / 8; b < (end + 7) / 8; ++b) e->have[b / 8] |= uint8_t(1u << (b % 8));
  if (!complete(*e)) return Result6::Held;
  auto r = PacketBuf::alloc(IPV6_HEADER + e->total);
  if (!r.ok()) {
    drop(*e);
    ++dropped_;
    return Result6::Dropped;
  }
  out = static_cast<PacketBuf&&>(r.value());
  __builtin_memcpy(out.data(), e->header, IPV6_HEADER);
  out.data()[6] = e->next;
  store16(out.data() + 4, uint16_t(e->total));
  __builtin_memcpy(out.data() + IPV6_HEADER, e->buf, e->total);
  drop(*e);
  return Result6::Done;
}

}  // namespace capsule::net
