// Bound ports (net/inet/port_table.h).
#include "net/inet/port_table.h"

namespace capsule::net {

namespace {

// Do two local addresses share one? Wildcards by their families (a V6ONLY
// [::] and 0.0.0.0 do not; a dual-stack [::] and 0.0.0.0 do), a wildcard
// and an address by its family, two addresses when equal.
bool overlap(const Binding& a, const Binding& b) {
  const bool aw = a.addr.wildcard(), bw = b.addr.wildcard();
  if (aw && bw) return (a.v4 && b.v4) || (a.v6 && b.v6);
  if (aw) return a.takes(b.addr);
  if (bw) return b.takes(a.addr);
  return a.addr == b.addr;
}

}  // namespace

bool PortTable::conflicts_locked(const Binding& b) {
  for (const Binding& o : buckets_[b.port % BUCKETS]) {
    if (&o == &b || o.port != b.port) continue;
    if (!overlap(o, b)) continue;
    if (b.reuseport && o.reuseport) continue;
    // inet_csk_bind_conflict: SO_REUSEADDR on both shares a port unless
    // one of them listens.
    if (b.reuseaddr && o.reuseaddr && !o.listening && !b.listening) continue;
    return true;
  }
  return false;
}

Result<void> PortTable::bind(Binding& b) {
  SpinGuard g(lock_);
  if (b.linked) return Error::Invalid;
  if (b.port == 0) {
    const uint32_t range = uint32_t(EPHEMERAL_HIGH - EPHEMERAL_LOW + 1);
    for (uint32_t i = 0; i < range; ++i) {
      b.port = uint16_t(EPHEMERAL_LOW + (next_++ % range));
      if (!conflicts_locked(b)) {
        buckets_[b.port % BUCKETS].push_back(b);
        b.linked = true;
        return {};
      }
    }
    b.port = 0;
    return Error::AddrInUse;  // Linux: EADDRINUSE (EAGAIN for connect)
  }
  if (conflicts_locked(b)) return Error::AddrInUse;
  buckets_[b.port % BUCKETS].push_back(b);
  b.linked = true;
  return {};
}

void PortTable::unbind(Binding& b) {
  SpinGuard g(lock_);
  if (!b.linked) return;
  buckets_[b.port % BUCKETS].remove(b);
  b.linked = false;
}

}  // namespace capsule::net
