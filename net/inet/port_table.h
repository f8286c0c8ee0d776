#pragma once
// Bound ports of one transport (UDP or TCP): bind conflicts, ephemeral
// ports and the lookup of an arriving segment's socket (docs/net.md). One
// spinlock per table, a leaf: a lookup takes a reference on what it finds
// under the lock and calls nothing else there.
#include <cstdint>

#include "arch/spinlock.h"
#include "lib/intrusive_list.h"
#include "net/netif.h"

namespace capsule::net {

// One binding, embedded in its socket. Addresses of both families are
// IpAddrs (IPv4 ones v4-mapped); a wildcard address takes the families
// its socket takes: an AF_INET socket IPv4, an AF_INET6 one IPv6 and,
// unless IPV6_V6ONLY, IPv4 too (ipv6(7)).
struct Binding {
  ListNode node;
  IpAddr addr;            // local address (wildcard(): every address of the families below)
  uint16_t port = 0;      // local port
  IpAddr raddr;           // the peer's, once connected (any/0: any)
  uint16_t rport = 0;
  bool v4 = true, v6 = false;  // the families a wildcard address takes
  bool reuseaddr = false, reuseport = false;
  bool listening = false; // TCP: a listener (reuseaddr does not let two listen)
  bool linked = false;
  void* owner = nullptr;  // the socket

  // Does the local address take a packet for dst?
  bool takes(const IpAddr& dst) const {
    if (addr.wildcard()) return dst.is_v4() ? v4 : v6;
    return addr == dst;
  }
  // Is dst's family the socket's only one (an AF_INET socket for IPv4,
  // a V6ONLY one for IPv6)? Linux's compute_score prefers those.
  bool exact_family(const IpAddr& dst) const { return dst.is_v4() ? !v6 : !v4; }
};

class PortTable {
 public:
  // Linux's net.ipv4.ip_local_port_range.
  static constexpr uint16_t EPHEMERAL_LOW = 32768, EPHEMERAL_HIGH = 60999;
  static constexpr size_t BUCKETS = 256;

  // Adds b (addr/port/flags set; port 0 picks an ephemeral one). AddrInUse
  // when another binding conflicts: same port, addresses equal or either
  // ANY, unless both set SO_REUSEADDR (and neither listens) or both
  // SO_REUSEPORT.
  Result<void> bind(Binding& b);
  void unbind(Binding& b);
  // Adds b without a conflict check (a connection table keyed by the
  // 4-tuple, where the caller knows it is unique).
  void insert(Binding& b) {
    SpinGuard g(lock_);
    if (b.linked) return;
    buckets_[b.port % BUCKETS].push_back(b);
    b.linked = true;
  }
  // Calls fn(Binding&) -> int score for each binding of `port` under the
  // lock and returns the owner of the best positive score (nullptr: none);
  // `retain` takes a reference on it while the lock is held.
  template <typename Score, typename Retain>
  void* lookup(uint16_t port, Score score, Retain retain) {
    SpinGuard g(lock_);
    Binding* best = nullptr;
    int best_score = 0;
    for (Binding& b : buckets_[port % BUCKETS]) {
      if (b.port != port) continue;
      int s = score(b);
      if (s > best_score) best = &b, best_score = s;
    }
    if (!best) return nullptr;
    retain(best->owner);
    return best->owner;
  }
  // Calls fn(Binding&) for every binding (e.g. /proc/net/udp) under the lock.
  template <typename Fn>
  void for_each(Fn fn) {
    SpinGuard g(lock_);
    for (auto& list : buckets_)
      for (Binding& b : list) fn(b);
  }

 private:
  bool conflicts_locked(const Binding& b) REQUIRES(lock_);
  SpinLock lock_;
  IntrusiveList<Binding, &Binding::node> buckets_[BUCKETS] GUARDED_BY(lock_);
  uint32_t next_ GUARDED_BY(lock_) = 0;
};

}  // namespace capsule::net
