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

// A free entry, else the least recently used reachable or stale one (an
// address being resolved is not evicted: its packets wait on it).
ArpCache::Entry* ArpCache::take_slot(uint64_t now) {
  Entry* victim = nullptr;
  for (Entry& e : entries_) {
    if (e.state == State::Free) return &e;
    if ((e.state == State::Reachable || e.state == State::Stale) && (!victim || e.last_used < victim->last_used))
      victim = &e;
  }
  if (victim) {
    ++stats_.evicted;
    *victim = Entry{};
  }
  return victim;
}

void ArpCache::drop_oldest(Entry& e) {
  Held* h = e.held;
  e.held = h->next;
  if (!e.held) e.held_tail = nullptr;
  e.held_bytes -= h->len;
  held_total_ -= h->len;
  ++stats_.pending_dropped;
  ::operator delete(h);
}

// Drops every packet the entry holds; returns how many.
size_t ArpCache::drop_held(Entry& e) {
  size_t n = 0;
  for (; e.held; ++n) drop_oldest(e);
  return n;
}

bool ArpCache::lookup(uint32_t ip, uint64_t now, Mac* out, bool* ask) {
  Entry* e = find(ip);
  if (!e || (e->state != State::Reachable && e->state != State::Stale)) return false;
  if (e->state == State::Reachable && now >= e->expires) {  // used while asked again
    e->state = State::Stale;
    e->requests = 1;
    e->expires = now + RETRY_NS;
    ++stats_.requests;
    if (ask) *ask = true;
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
  Held* h = e->held;
  held_total_ -= e->held_bytes;
  e->held = e->held_tail = nullptr;
  e->held_bytes = 0;
  while (h) {
    Held* next = h->next;
    flush(ctx, h->data, h->len, mac);
    ::operator delete(h);
    h = next;
  }
}

bool ArpCache::hold(uint32_t ip, const uint8_t* packet, size_t len, uint64_t now) {
  Entry* e = find(ip);
  bool fresh = false;
  if (!e || e->state == State::Reachable || e->state == State::Stale) {
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
  // Room first: the oldest of this address, then (the cache-wide bound)
  // of this address still, so one address cannot starve the others.
  while (e->held && (e->held_bytes + len > MAX_PENDING_BYTES || held_total_ + len > MAX_PENDING_TOTAL))
    drop_oldest(*e);
  if (held_total_ + len > MAX_PENDING_TOTAL) {
    ++stats_.pending_dropped;
    return fresh;
  }
  auto* h = static_cast<Held*>(::operator new(sizeof(Held) + (len ? len : 1), std::nothrow));
  if (!h) {
    ++stats_.pending_dropped;
    return fresh;
  }
  h->next = nullptr;
  h->len = uint16_t(len);
  __builtin_memcpy(h->data, packet, len);
  if (e->held_tail) e->held_tail->next = h;
  else e->held = h;
  e->held_tail = h;
  e->held_bytes += len;
  held_total_ += len;
  return fresh;
}

bool ArpCache::tick(uint64_t now, RequestFn request, void* ctx) {
  bool resolving = false;
  for (Entry& e : entries_) {
    if (e.state != State::Resolving && e.state != State::Stale) continue;
    if (now < e.expires) {
      resolving = true;
      continue;
    }
    if (e.requests >= MAX_REQUESTS) {  // no answer: give up
      if (e.state == State::Resolving) ++stats_.failed;
      drop_held(e);  // counted as dropped
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
