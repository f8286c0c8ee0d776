// The loopback interface (net/inet/loopback.h, docs/net.md).
//
// output() queues the datagram and a kernel thread ("netlo") hands it to
// ip_input. Delivering on the sender's own thread would re-enter the
// stack from inside it: a TCP segment sent while its socket is locked
// could make the peer answer at once into the same socket. The queue
// makes every arrival look like a device's (its own context, no stack
// lock held), so the code that runs over virtio-net is the code tested
// over lo.
#include "net/inet/loopback.h"

#include <atomic>
#include <new>

#include "core/event/sync.h"
#include "core/sync/wait_queue.h"
#include "core/thread.h"
#include "lib/intrusive_list.h"
#include "lib/panic.h"

namespace capsule::net {
namespace {

// Linux's lo: MTU 65536; a queue bound like its backlog (netdev_max_backlog).
constexpr uint32_t LO_MTU = 65536;
constexpr size_t LO_MAX_QUEUE = 1000;

struct Queued {
  ListNode node;
  PacketBuf pkt;
};

class Loopback final : public Netif {
 public:
  Loopback() : Netif("lo", NetifFlags::UP | NetifFlags::LOOPBACK | NetifFlags::RUNNING, LO_MTU) {}

  Result<void> output(PacketBuf pkt, Ipv4) override { return queue(static_cast<PacketBuf&&>(pkt)); }
  // IPv6 takes the same queue: ip_input tells the versions apart.
  Result<void> output6(PacketBuf pkt, const IpAddr&) override { return queue(static_cast<PacketBuf&&>(pkt)); }

  Result<void> queue(PacketBuf pkt) {
    auto* q = new (std::nothrow) Queued;
    if (!q) {
      tx_dropped.fetch_add(1, std::memory_order_relaxed);
      return Error::NoBufs;
    }
    size_t len = pkt.size();
    q->pkt = static_cast<PacketBuf&&>(pkt);
    {
      SpinGuard g(lock_);
      if (n_ >= LO_MAX_QUEUE) {
        tx_dropped.fetch_add(1, std::memory_order_relaxed);
        delete q;
        return {};  // dropped, as a full device queue drops
      }
      queue_.push_back(*q);
      ++n_;
    }
    tx_packets.fetch_add(1, std::memory_order_relaxed);
    tx_bytes.fetch_add(len, std::memory_order_relaxed);
    wake_.wake_one();
    return {};
  }

  static void service(void* arg) {
    auto* self = static_cast<Loopback*>(arg);
    for (;;) {
      Queued* q;
      {
        SpinGuard g(self->lock_);
        while (!(q = self->queue_.pop_front())) self->wake_.wait_unlocking(self->lock_, 0);
        --self->n_;
      }
      self->rx_packets.fetch_add(1, std::memory_order_relaxed);
      self->rx_bytes.fetch_add(q->pkt.size(), std::memory_order_relaxed);
      ip_input(*self, static_cast<PacketBuf&&>(q->pkt));
      delete q;
    }
  }

  SpinLock lock_;
  IntrusiveList<Queued, &Queued::node> queue_ GUARDED_BY(lock_);
  size_t n_ GUARDED_BY(lock_) = 0;
  WaitQueue wake_;
};

alignas(Loopback) unsigned char g_lo_storage[sizeof(Loopback)];
std::atomic<int> g_state{0};  // 0 none, 1 starting, 2 ready

}  // namespace

Netif& loopback_netif() {
  auto* lo = reinterpret_cast<Loopback*>(g_lo_storage);
  if (g_state.load(std::memory_order_acquire) == 2) return *lo;
  int expected = 0;
  if (g_state.compare_exchange_strong(expected, 1)) {
    new (lo) Loopback;
    netif_set_addr(*lo, IPV4_LOOPBACK, 8);
    if (!netif_register(*lo).ok()) panic("net: cannot register lo");
    (void)netif_add_addr6(*lo, IP6_LOOPBACK, 128);
    ThreadOptions o;
    o.detached = true;
    auto t = thread_create("netlo", Loopback::service, lo, o);
    if (!t) panic("net: cannot start the loopback thread ({})", error_name(t.error()));
    g_state.store(2, std::memory_order_release);
    return *lo;
  }
  while (g_state.load(std::memory_order_acquire) != 2) thread_yield();
  return *lo;
}

}  // namespace capsule::net
