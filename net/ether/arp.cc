// ARP packets and the neighbour cache (arp.h) [RFC 826].
#include "net/arp.h"

#include <new>

#include "net/ether/wire.h"

namespace capsule::net::ether {

bool arp_parse(const uint8_t* p, size_t n, ArpPacket* out) {
  // [RFC 826] ar$hrd = 1 (Ethernet), ar$pro = 0x0800, ar$hln = 6, ar$pln = 4.
  if (n < ARP_LEN) return false;
  if (get16(p) != 1 || get16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4) return false;
  uint16_t op = get16(p + 6);
  if (op != ARP_REQUEST && op != ARP_REPLY) return false;
  out->op = op;
  __builtin_memcpy(out->sha.b, p + 8, 6);
  out->spa = get32(p + 14);
  __builtin_memcpy(out->tha.b, p + 18, 6);
  out->tpa = get32(p + 24);
  return true;
}

void arp_build(const ArpPacket& a, uint8_t* p) {
  put16(p, 1);
  put16(p + 2, 0x0800);
  p[4] = 6;
  p[5] = 4;
  put16(p + 6, a.op);
  __builtin_memcpy(p + 8, a.sha.b, 6);
  put32(p + 14, a.spa);
  __builtin_memcpy(p + 18, a.tha.b, 6);
  put32(p + 24, a.tpa);
}

ArpCache::~ArpCache() {
  for (Entry& e : entries_) drop_held(e);
}

ArpCache::Entry* ArpCache::find(uint32_t ip) {
  for (Entry& e : entries_)
    if (e.state != State::Free && e.ip == ip) return &e;
  return nullptr;
}

// A free entry, else the least recently used reachable one (an address
// being resolved is not evicted: its packets wait on it).
ArpCache::Entry* ArpCache::take_slot(uint64_t now) {
  Entry* victim = nullptr;
  for (Entry& e : entries_) {
    if (e.state == State::Free) return &e;
    if (e.state == State::Reachable && (!victim || e.last_used < victim->last_used)) victim = &e;
  }
  if (victim) {
    ++stats_.evicted;
    *victim = Entry{};
  }
  return victim;
}

void ArpCache::drop_held(Entry& e) {
  for (size_t i = 0; i < e.nheld; ++i) delete[] e.held[i].data;
  e.nheld = 0;
}

bool ArpCache::lookup(uint32_t ip, uint64_t now, Mac* out) {
  Entry* e = find(ip);
  if (!e || e->state != State::Reachable) return false;
  if (now >= e->expires) {  // stale: ask again (the caller holds its packet)
    *e = Entry{};
    return false;
  }
  e->last_used = now;
  *out = e->mac;
  return true;
}

void ArpCache::learn(uint32_t ip, const Mac& mac, uint64_t now, bool create, FlushFn flush, void* ctx) {
  Entry* e = find(ip);
  if (!e) {
    if (!create) return;
    e = take_slot(now);
    if (!e) return;
    e->ip = ip;
  }
  if (e->state == State::Resolving) ++stats_.resolved;
  e->state = State::Reachable;
  e->mac = mac;
  e->expires = now + REACHABLE_NS;
  e->last_used = now;
  e->requests = 0;
  // Hand the held packets over before freeing them; the flush may hold
  // nothing new for this address (it is reachable now).
  size_t n = e->nheld;
  e->nheld = 0;
  for (size_t i = 0; i < n; ++i) {
    flush(ctx, e->held[i].data, e->held[i].len, mac);
    delete[] e->held[i].data;
  }
}

bool ArpCache::hold(uint32_t ip, const uint8_t* packet, size_t len, uint64_t now) {
  Entry* e = find(ip);
  bool fresh = false;
  if (!e || e->state == State::Reachable) {
    if (!e) e = take_slot(now);
    if (!e) {
      ++stats_.pending_dropped;
      return false;
    }
    *e = Entry{};
    e->state = State::Resolving;
    e->ip = ip;
    e->requests = 1;
    e->expires = now + RETRY_NS;
    e->last_used = now;
    ++stats_.requests;
    fresh = true;
  }
  if (len > MAX_PACKET) {
    ++stats_.pending_dropped;
    return fresh;
  }
  auto* copy = new (std::nothrow) uint8_t[len ? len : 1];
  if (!copy) {
    ++stats_.pending_dropped;
    return fresh;
  }
  __builtin_memcpy(copy, packet, len);
  if (e->nheld == MAX_PENDING) {  // drop the oldest
    delete[] e->held[0].data;
    for (size_t i = 1; i < MAX_PENDING; ++i) e->held[i - 1] = e->held[i];
    --e->nheld;
    ++stats_.pending_dropped;
  }
  e->held[e->nheld++] = Held{uint16_t(len), copy};
  return fresh;
}

bool ArpCache::tick(uint64_t now, RequestFn request, void* ctx) {
  bool resolving = false;
  for (Entry& e : entries_) {
    if (e.state != State::Resolving) continue;
    if (now < e.expires) {
      resolving = true;
      continue;
    }
    if (e.requests >= MAX_REQUESTS) {  // no answer: give up
      stats_.pending_dropped += e.nheld;
      ++stats_.failed;
      drop_held(e);
      e = Entry{};
      continue;
    }
    ++e.requests;
    ++stats_.requests;
    e.expires = now + RETRY_NS;
    resolving = true;
    request(ctx, e.ip);
  }
  return resolving;
}

}  // namespace capsule::net::ether
