// IPv4 fragment reassembly (net/inet/reassembly.h).
#include "net/inet/reassembly.h"

#include "core/mm.h"

namespace capsule::net {

namespace {
constexpr size_t BUF_BYTES = 65535;
}

Reassembly::~Reassembly() {
  for (Entry& e : entries_)
    if (e.used) drop(e);
}

void Reassembly::drop(Entry& e) {
  kfree(e.buf);
  kfree(e.have);
  e = Entry{};
  --count_;
  bytes_ -= BUF_BYTES;
}

bool Reassembly::complete(const Entry& e) const {
  if (!e.total) return false;
  for (size_t b = 0; b < (e.total + 7) / 8; ++b)
    if (!(e.have[b / 8] & (1u << (b % 8)))) return false;
  return true;
}

bool Reassembly::add(const Ipv4Header& h, const uint8_t* data, size_t len, uint64_t now_ns, PacketBuf& out) {
  for (Entry& e : entries_) {
    if (e.used && now_ns - e.first_ns > TIMEOUT_NS) {
      drop(e);
      ++timed_out_;
    }
  }
  Entry* e = nullptr;
  Entry* free_slot = nullptr;
  for (Entry& x : entries_) {
    if (x.used && x.src == h.src && x.dst == h.dst && x.id == h.id && x.proto == h.protocol) {
      e = &x;
      break;
    }
    if (!x.used && !free_slot) free_slot = &x;
  }
  if (!e) {
    if (!free_slot || bytes_ + BUF_BYTES > MAX_BYTES) {
      ++dropped_;
      return false;
    }
    free_slot->buf = static_cast<uint8_t*>(kmalloc(BUF_BYTES));
    free_slot->have = static_cast<uint8_t*>(kmalloc(BLOCKS / 8));
    if (!free_slot->buf || !free_slot->have) {
      kfree(free_slot->buf);
      kfree(free_slot->have);
      free_slot->buf = free_slot->have = nullptr;
      ++dropped_;
      return false;
    }
    __builtin_memset(free_slot->have, 0, BLOCKS / 8);
    e = free_slot;
    e->used = true;
    e->src = h.src, e->dst = h.dst, e->id = h.id, e->proto = h.protocol;
    e->first_ns = now_ns;
    e->total = 0;
    ++count_;
    bytes_ += BUF_BYTES;
  }
  size_t off = h.frag_offset;
  if (off + len > BUF_BYTES - IPV4_MIN_HEADER) {  // the whole datagram must fit 65535 bytes
    drop(*e);
    ++dropped_;
    return false;
  }
  if (!h.more_fragments) {
    // The last fragment fixes the length; a second, different one is bogus.
    if (e->total && e->total != off + len) {
      drop(*e);
      ++dropped_;
      return false;
    }
    e->total = off + len;
  }
  if (off == 0) e->first = h;
  // Copy the blocks not had yet (the first copy of an overlap wins).
  for (size_t pos = 0; pos < len;) {
    size_t abs = off + pos;
    size_t block = abs / 8;
    size_t n = 8 - abs % 8;
    if (n > len - pos) n = len - pos;
    if (!(e->have[block / 8] & (1u << (block % 8)))) __builtin_memcpy(e->buf + abs, data + pos, n);
    pos += n;
  }
  // Mark whole blocks; a final partial block counts once the last fragment covers it.
  for (size_t b = off / 8; b * 8 < off + len; ++b) e->have[b / 8] |= uint8_t(1u << (b % 8));
  if (e->total && e->total < off + len) {
    drop(*e);
    ++dropped_;
    return false;
  }
  if (!complete(*e)) return false;
  auto p = PacketBuf::alloc(IPV4_MIN_HEADER + e->total);
  if (!p.ok()) {
    drop(*e);
    ++dropped_;
    return false;
  }
  Ipv4Header whole = e->first;
  whole.header_len = IPV4_MIN_HEADER;
  whole.total_len = uint16_t(IPV4_MIN_HEADER + e->total);
  whole.more_fragments = false;
  whole.frag_offset = 0;
  ipv4_build(p.value().data(), whole);
  __builtin_memcpy(p.value().data() + IPV4_MIN_HEADER, e->buf, e->total);
  out = static_cast<PacketBuf&&>(p.value());
  drop(*e);
  return true;
}

}  // namespace capsule::net
